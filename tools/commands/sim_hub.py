"""`printfarm sim hub`: one hub's unmodified firmware under MicroPython with hardware/host stand-ins."""

from __future__ import annotations

import os


def add_hub_commands(sim_commands) -> None:
    """Add `sim hub --hub-id ID --secret S --cloud URL [--heap 512K]`."""
    env = os.environ.get
    hub = sim_commands.add_parser(
        "hub",
        help="run one hub (firmware under the micropython binary)",
        description="Provision a hub's NVS in a state directory and boot firmware/main.py under "
        "`micropython -X heapsize=HEAP` until interrupted; machine.reset() boots it again.",
    )
    hub.add_argument("--hub-id", required=True, help="the hub's id (as registered in the cloud)")
    hub.add_argument(
        "--secret",
        default=env("PRINTFARM_HUB_SECRET"),
        required=env("PRINTFARM_HUB_SECRET") is None,
        help="factory secret (env PRINTFARM_HUB_SECRET keeps it out of the process list)",
    )
    hub.add_argument("--cloud", required=True, help="ws://HOST:PORT or wss://HOST:PORT")
    hub.add_argument("--heap", default="512K", help="MicroPython heap size (default 512K)")
    hub.add_argument("--state-dir", help="NVS and flash files (default: a new temporary folder)")
    hub.add_argument("--ca", help="PEM file trusted for a wss:// cloud (default: built-in bundle)")
    hub.add_argument("--printers", help="JSON file: a list of configure_printer.printer maps")
    hub.set_defaults(func=run_hub)


def run_hub(args) -> int:
    """Provision and run the hub in the foreground; returns the VM's exit status."""
    import tempfile

    from hub_sim.hub_runner import start_from_args

    try:
        return start_from_args(args, tempfile)
    except KeyboardInterrupt:
        return 130
