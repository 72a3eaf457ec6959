"""`printfarm sim ...`: simulated printers, hubs and farms for the bench."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from tools.commands.sim_farm import add_farm_commands
from tools.commands.sim_hub import add_hub_commands


def _size(text: str) -> int:
    """'64M' -> bytes (K/M/G suffixes, powers of 1024)."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _port_or_off(text: str) -> int | None:
    """A port number, 0 for any free port, or 'off'."""
    return None if text.lower() == "off" else int(text)


def _target(text: str) -> tuple[str, int] | None:
    """'HOST:PORT' or 'off'."""
    if text.lower() == "off":
        return None
    host, _, port = text.rpartition(":")
    return host, int(port)


def _switch(text: str) -> bool:
    if text.lower() in ("on", "yes", "true", "1"):
        return True
    if text.lower() in ("off", "no", "false", "0"):
        return False
    raise argparse.ArgumentTypeError("expected on or off")


def add_printer_commands(sim_commands) -> None:
    """`sim printer bambu ...`: one simulated Bambu Lab printer."""
    printer = sim_commands.add_parser("printer", help="run a simulated printer")
    kinds = printer.add_subparsers(dest="printer_kind", metavar="KIND")
    kinds.required = True
    bambu = kinds.add_parser(
        "bambu",
        help="a Bambu Lab printer (MQTT/TLS, implicit FTPS, camera, SSDP)",
        description="Run one simulated Bambu Lab printer until interrupted. Prints one JSON line "
        "with where it listens. Ports given as 0 are chosen by the OS.",
    )
    env = os.environ.get
    bambu.add_argument("--serial", required=True, help="15-character serial (MQTT topic id)")
    bambu.add_argument(
        "--access-code",
        default=env("PRINTFARM_SIM_ACCESS_CODE"),
        required=env("PRINTFARM_SIM_ACCESS_CODE") is None,
        help="LAN access code, the MQTT/FTPS password (env PRINTFARM_SIM_ACCESS_CODE)",
    )
    bambu.add_argument("--model", default="P1S", help="P1P, P1S, A1, A1MINI, X1C, X1E")
    bambu.add_argument("--host", default="127.0.0.1", help="address to listen on")
    bambu.add_argument("--mqtt-port", type=int, default=8883)
    bambu.add_argument("--ftps-port", type=_port_or_off, default=990, help="port or 'off'")
    bambu.add_argument(
        "--camera-port", type=_port_or_off, default=6000, help="port or 'off' (P1/A1 only)"
    )
    bambu.add_argument(
        "--control-port", type=_port_or_off, default="off", help="HTTP fault/status API"
    )
    bambu.add_argument("--speed", type=float, default=1.0, help="simulated-time multiplier")
    bambu.add_argument("--report-interval", type=float, default=1.0, help="seconds")
    bambu.add_argument("--name", help="printer name (SSDP DevName)")
    bambu.add_argument("--sd-dir", help="SD card folder (default: a temporary folder)")
    bambu.add_argument("--sd-capacity", type=_size, help="SD card size, e.g. 512M")
    bambu.add_argument(
        "--ssdp-target",
        type=_target,
        default="off",
        help="HOST:PORT for NOTIFY datagrams (a printer uses 255.255.255.255:2021), or off",
    )
    bambu.add_argument("--ssdp-interval", type=float, default=5.0, help="seconds")
    bambu.add_argument("--advertise-ip", help="IP put in reports and SSDP (default: --host)")
    bambu.add_argument(
        "--developer-mode",
        type=_switch,
        default=True,
        help="on/off; off = control commands fail with err_code 84033543",
    )
    bambu.add_argument(
        "--ftps-session-reuse",
        type=_switch,
        default=None,
        help="on/off: require TLS session reuse on FTPS data (default: per model)",
    )
    bambu.add_argument("--max-mqtt-clients", type=int, help="refuse MQTT clients beyond this")
    bambu.set_defaults(func=run_bambu_printer)


# `sim` subcommands: each adds its parser to the `sim` sub-parsers. Add yours to this list.
SIM_COMMANDS = [add_printer_commands, add_hub_commands, add_farm_commands]


def register(subparsers) -> None:
    """Add `sim` and its subcommands to the top-level parser."""
    sim = subparsers.add_parser("sim", help="simulated printers, hubs and farms")
    sim_commands = sim.add_subparsers(dest="sim_command", metavar="WHAT")
    sim_commands.required = True
    for add in SIM_COMMANDS:
        add(sim_commands)


def run_bambu_printer(args) -> int:
    """Run one printer until SIGINT/SIGTERM."""
    return asyncio.run(_serve_bambu(args))


def _quiet_libraries() -> None:
    """amqtt, transitions and pyftpdlib log every connection at INFO; keep them for DEBUG runs."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in ("amqtt", "transitions", "pyftpdlib"):
            logging.getLogger(name).setLevel(logging.WARNING)


async def _serve_bambu(args) -> int:
    from hub_sim.bambu import SimulatedBambuPrinter

    _quiet_libraries()

    printer = SimulatedBambuPrinter(
        args.serial,
        args.access_code,
        model=args.model,
        host=args.host,
        mqtt_port=args.mqtt_port,
        ftps_port=args.ftps_port,
        camera_port=args.camera_port,
        control_port=args.control_port,
        ssdp_target=args.ssdp_target,
        ssdp_interval=args.ssdp_interval,
        sd_dir=args.sd_dir,
        sd_capacity=args.sd_capacity,
        speed=args.speed,
        report_interval=args.report_interval,
        advertise_ip=args.advertise_ip,
        name=args.name,
        ftps_session_reuse=args.ftps_session_reuse,
        developer_mode=args.developer_mode,
        max_mqtt_clients=args.max_mqtt_clients,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await printer.start()
    try:
        print(json.dumps({"event": "listening", **printer.status()}), flush=True)
        await stop.wait()
    finally:
        await printer.stop()
    print(json.dumps({"event": "stopped", "serial": printer.serial}), file=sys.stderr, flush=True)
    return 0
