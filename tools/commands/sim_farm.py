"""`printfarm sim farm`: N hubs (real firmware under micropython) × M simulated Bambu printers."""

from __future__ import annotations

import os

# The hub-core suites' heap (hub_sim.hub_runner.DEFAULT_HEAP).
FARM_HEAP = "512K"


def add_farm_commands(sim_commands) -> None:
    """Add `sim farm --hubs N --printers-per-hub M --cloud URL ...`."""
    farm = sim_commands.add_parser(
        "farm",
        help="run N hubs × M simulated Bambu printers against a cloud",
        description="Start M simulated Bambu printers per hub on loopback (ephemeral ports), "
        "register N hubs with the cloud (POST /api/v1/admin/hubs with the provisioning key), boot "
        "each hub's firmware under micropython and print, per hub, its claim code and its "
        "printers' serial, address, ports and access code (one JSON line per hub). Claim the hubs "
        "and add the printers in the cloud; the hubs then drive them. Runs until SIGINT/SIGTERM.",
    )
    farm.add_argument("--hubs", type=int, default=1, help="how many hubs (default 1)")
    farm.add_argument("--printers-per-hub", type=int, default=2, help="printers on each hub")
    farm.add_argument(
        "--cloud",
        default=os.environ.get("PRINTFARM_PUBLIC_URL", "http://127.0.0.1:8080"),
        help="cloud base URL, http:// or ws:// (env PRINTFARM_PUBLIC_URL)",
    )
    farm.add_argument("--heap", default=FARM_HEAP, help=f"hub heap (default {FARM_HEAP})")
    farm.add_argument(
        "--model", default="P1S", help="printer model: P1P, P1S, A1, A1MINI, X1C, X1E"
    )
    farm.add_argument("--speed", type=float, default=1.0, help="simulated-time multiplier")
    farm.add_argument(
        "--provisioning-key",
        help="base64 key (default: PRINTFARM_PROVISIONING_KEY, else keys.json of --cloud-data-dir)",
    )
    farm.add_argument(
        "--cloud-data-dir", help="the cloud's data folder holding keys.json (default ./data)"
    )
    farm.add_argument(
        "--data-dir", help="hub flash/NVS and printer SD cards (default: a temporary folder)"
    )
    farm.set_defaults(func=run_farm)


def run_farm(args) -> int:
    """Run the farm in the foreground until interrupted."""
    import asyncio

    from hub_sim.farm import resolve_provisioning_key

    if args.hubs < 1 or args.printers_per_hub < 0:
        print("--hubs must be at least 1 and --printers-per-hub at least 0")
        return 2
    key = resolve_provisioning_key(args.provisioning_key, args.cloud_data_dir)
    if not key:
        print(
            "no provisioning key: pass --provisioning-key, set PRINTFARM_PROVISIONING_KEY "
            "or --cloud-data-dir (the cloud's data folder)"
        )
        return 2
    return asyncio.run(_serve_farm(args, key))


async def _serve_farm(args, key: str) -> int:
    import asyncio
    import json
    import signal

    from hub_sim.farm import Farm
    from tools.commands.sim import _quiet_libraries

    _quiet_libraries()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    farm = Farm(
        args.cloud,
        hubs=args.hubs,
        printers_per_hub=args.printers_per_hub,
        provisioning_key=key,
        heap=args.heap,
        model=args.model,
        speed=args.speed,
        data_dir=args.data_dir,
    )
    starting = asyncio.create_task(farm.start())
    try:
        await asyncio.wait(
            [starting, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if not starting.done():  # interrupted while starting
            starting.cancel()
            return 130
        starting.result()
        for hub in farm.describe():
            print(json.dumps({"event": "hub", **hub}), flush=True)
        print(
            f"farm: {args.hubs} hub(s) × {args.printers_per_hub} printer(s) up against "
            f"{farm.cloud_url}; claim the hubs with the codes above. Ctrl-C stops.",
            flush=True,
        )
        await stop.wait()
    except Exception as e:  # registration refused, hub did not come up, ...
        print(f"farm failed: {str(e) or type(e).__name__}", flush=True)
        return 1
    finally:
        await farm.stop()
        print(json.dumps({"event": "stopped"}), flush=True)
    return 0
