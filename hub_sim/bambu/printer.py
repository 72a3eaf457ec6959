"""SimulatedBambuPrinter: one simulated Bambu Lab printer (MQTT, FTPS, camera, SSDP) in asyncio."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import socket
import tempfile
from pathlib import Path

from hub_sim.bambu.certs import generate_certificates, server_ssl_context
from hub_sim.bambu.commands import CommandHandler
from hub_sim.bambu.faults import Faults, parse_hms
from hub_sim.bambu.machine import PrintMachine
from hub_sim.bambu.models import get_model
from hub_sim.bambu.mqtt import PrinterMqtt
from hub_sim.bambu.report import diff_state, initial_print_state
from hub_sim.bambu.sdcard import SdCard

log = logging.getLogger(__name__)

# Wall-clock step of the simulation loop; simulated time advances by TICK_S * speed per step.
TICK_S = 0.1


def _guess_lan_ip() -> str:
    """The address other hosts would reach us on (no packet is sent); loopback if none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


class SimulatedBambuPrinter:
    """A Bambu Lab printer on the LAN, faithful enough for unmodified third-party clients.

    Use as `async with SimulatedBambuPrinter(serial, access_code, ...) as printer:`; ports given
    as 0 are chosen by the OS and readable afterwards (`mqtt_port`, `ftps_port`, ...).
    """

    def __init__(
        self,
        serial: str,
        access_code: str,
        *,
        model: str = "P1S",
        host: str = "127.0.0.1",
        mqtt_port: int = 8883,
        ftps_port: int | None = 990,
        camera_port: int | None = 6000,
        control_port: int | None = None,
        ssdp_target: tuple[str, int] | None = None,
        ssdp_interval: float = 5.0,
        sd_dir=None,
        sd_capacity: int | None = None,
        speed: float = 1.0,
        report_interval: float = 1.0,
        advertise_ip: str | None = None,
        name: str | None = None,
        ftps_session_reuse: bool | None = None,
        developer_mode: bool = True,
        lan_only: bool = True,
        max_mqtt_clients: int | None = None,
        workdir=None,
        seed: int = 0,
    ):
        self.model = get_model(model)
        self.serial = serial
        self.access_code = access_code
        self.host = host
        self.speed = float(speed)
        self.report_interval = report_interval
        self.name = name or f"3DP-{serial[:3]}-{serial[-3:]}"
        self.developer_mode = developer_mode
        self.lan_only = lan_only
        # False (printer-like): a client's close_notify after an upload gets no reply.
        self.ftps_reply_close_notify = False
        self.ftps_session_reuse = (
            self.model.ftps_session_reuse if ftps_session_reuse is None else ftps_session_reuse
        )
        if advertise_ip is None:
            advertise_ip = _guess_lan_ip() if host in ("", "0.0.0.0") else host
        self.advertise_ip = advertise_ip
        self.request_topic = f"device/{serial}/request"
        self.report_topic = f"device/{serial}/report"
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"simprinter-{serial}-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.sdcard = SdCard(Path(sd_dir) if sd_dir else self.workdir / "sdcard", sd_capacity)
        self.certs = generate_certificates(self.workdir / "certs", serial)
        self.faults = Faults()
        self.state = initial_print_state(self.model, advertise_ip)
        self.machine = PrintMachine(self.model, self.state)
        self.commands = CommandHandler(self)
        self.reporting_enabled = True
        self._rng = random.Random(seed)
        self._last_sent: dict = {}
        self._push_seq = 2000
        self._tasks: list[asyncio.Task] = []
        self._ssl = server_ssl_context(self.certs)
        self.mqtt = PrinterMqtt(self, host, mqtt_port, self._ssl, max_mqtt_clients)
        self._ftps_port_req = ftps_port
        self._camera_port_req = camera_port if self.model.jpeg_camera else None
        self._control_port_req = control_port
        self._ssdp_target = ssdp_target
        self._ssdp_interval = ssdp_interval
        self.ftps = None
        self.camera = None
        self.ssdp = None
        self.control = None
        self.online = False
        self.reboots = 0

    # ----- lifecycle

    async def __aenter__(self) -> SimulatedBambuPrinter:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start every service and the simulation loop."""
        self._last_sent = copy.deepcopy(self.state)
        try:
            await self._start_services()
            if self._control_port_req is not None:
                from hub_sim.bambu.control import ControlServer

                self.control = ControlServer(self, self.host, self._control_port_req)
                await self.control.start()
        except BaseException:
            await self._stop_services()
            raise
        self._tasks.append(asyncio.create_task(self._run(), name=f"sim-{self.serial}"))

    async def stop(self) -> None:
        """Stop everything; the SD folder is kept unless it was a temporary one."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        await self._stop_services()
        if self.control is not None:
            await self.control.stop()
            self.control = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def _start_services(self) -> None:
        await self.mqtt.start()
        if self._ftps_port_req is not None:
            from hub_sim.bambu.ftps import PrinterFtps

            self.ftps = PrinterFtps(self, self.host, self._ftps_port_req)
            await self.ftps.start()
            self._ftps_port_req = self.ftps.port
        if self._camera_port_req is not None:
            from hub_sim.bambu.camera import PrinterCamera

            self.camera = PrinterCamera(self, self.host, self._camera_port_req, self._ssl)
            await self.camera.start()
            self._camera_port_req = self.camera.port
        if self._ssdp_target is not None:
            from hub_sim.bambu.ssdp import SsdpAnnouncer

            self.ssdp = SsdpAnnouncer(self, self._ssdp_target, self._ssdp_interval)
            await self.ssdp.start()
        self.online = True

    async def _stop_services(self) -> None:
        self.online = False
        if self.ssdp is not None:
            await self.ssdp.stop()
            self.ssdp = None
        if self.camera is not None:
            await self.camera.stop()
            self.camera = None
        if self.ftps is not None:
            await self.ftps.stop()
            self.ftps = None
        await self.mqtt.stop()

    # ----- ports and paths

    @property
    def mqtt_port(self) -> int | None:
        """Bound MQTT port."""
        return self.mqtt.port

    @property
    def ftps_port(self) -> int | None:
        """Bound implicit-FTPS port (None when FTPS is off)."""
        return self._ftps_port_req

    @property
    def camera_port(self) -> int | None:
        """Bound camera port (None for models without the JPEG stream)."""
        return self._camera_port_req

    @property
    def control_port(self) -> int | None:
        """Bound control-API port (None when not requested)."""
        return self.control.port if self.control else None

    @property
    def sd_path(self) -> Path:
        """The SD card folder (FTPS root)."""
        return self.sdcard.root

    @property
    def ca_file(self) -> Path:
        """PEM of the CA that signed the printer's certificate (CN=serial)."""
        return self.certs.ca_file

    # ----- reports

    async def publish(self, payload: dict) -> None:
        """Publish one JSON message on the report topic."""
        await self.mqtt.publish(self.report_topic, json.dumps(payload).encode())

    async def push_full(self) -> None:
        """A full push_status (msg 0), as the answer to pushall."""
        self._last_sent = copy.deepcopy(self.state)
        await self._push(copy.deepcopy(self.state), msg=0)

    async def push_changes(self) -> None:
        """What changed since the last report: a delta (P1/A1) or the full object (X1)."""
        if not self.model.delta_reports:
            await self.push_full()
            return
        delta = diff_state(self._last_sent, self.state)
        if not delta:
            return
        self._last_sent = copy.deepcopy(self.state)
        await self._push(delta, msg=1)

    async def _push(self, body: dict, msg: int) -> None:
        self._push_seq += 1
        body.update(command="push_status", msg=msg, sequence_id=str(self._push_seq))
        await self.publish({"print": body})

    async def handle_request(self, raw: bytes) -> None:
        """A message arrived on the request topic."""
        await self.commands.handle(raw)

    # ----- simulation loop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        next_report = last + self.report_interval
        while True:
            await asyncio.sleep(TICK_S)
            now = loop.time()
            try:
                next_report = await self._tick(now - last, now, next_report)
            except Exception:  # a bad tick must not stop the printer's clock
                log.exception("%s: simulation step failed", self.serial)
            last = now

    async def _tick(self, wall_dt: float, now: float, next_report: float) -> float:
        """Advance the machine; report when due or when gcode_state changed."""
        before = self.state["gcode_state"]
        self.machine.advance(wall_dt * self.speed)
        if not self.online:
            return next_report
        due = now >= next_report
        if due:
            next_report = now + self.report_interval
            # Signal strength wanders a little, as on a real Wi-Fi link.
            self.state["wifi_signal"] = f"-{self._rng.randint(45, 52)}dBm"
        if (due or self.state["gcode_state"] != before) and self.reporting_enabled:
            await self.push_changes()
            self.machine.report_sent()
        return next_report

    # ----- faults (in-process API; the control server calls the same methods)

    def fail_at_layer(
        self,
        layer: int,
        hms: str = "0300_1A00_0002_0002",
        print_error: int = 0x03004006,
        pause: bool = False,
    ) -> None:
        """When the running print reaches `layer`, raise the HMS code and fail (or pause).

        Defaults are a real pair from Bambu's tables: HMS "The nozzle is clogged with filament."
        and print_error 0x03004006 "The nozzle is clogged.".
        """
        entry = parse_hms(hms)
        self.machine.fail_at_layer = (int(layer), entry, int(print_error), bool(pause))

    def drop_mqtt_connections(self) -> int:
        """Abort every MQTT connection (clients see a network drop and reconnect)."""
        return self.mqtt.drop_all()

    def reject_next_command(self, reason: str = "rejected", err_code: int | None = None) -> None:
        """Answer the next print.* command with result "fail"."""
        self.faults.reject_next_command(reason, err_code)

    def set_developer_mode(self, enabled: bool) -> None:
        """Off: print.* commands fail with err_code 84033543; reads keep working."""
        self.developer_mode = bool(enabled)

    def set_ftps_session_reuse(self, required: bool) -> None:
        """Require (vsftpd require_ssl_reuse) or not the data channel to resume the TLS session."""
        self.ftps_session_reuse = bool(required)

    def set_ftps_refuse(self, refuse: bool = True) -> None:
        """Refuse new FTPS connections (421) until switched off."""
        self.faults.ftps_refuse = bool(refuse)

    def cut_next_ftps_transfer(self, after_bytes: int = 0) -> None:
        """Close the data connection of the next transfer after `after_bytes` bytes."""
        self.faults.ftps_cut_after = int(after_bytes)

    def set_link_rate(self, bytes_per_s: int | None) -> None:
        """Cap FTPS data throughput (None removes the cap)."""
        self.faults.link_bytes_per_s = int(bytes_per_s) if bytes_per_s else None

    def set_sd_capacity(self, capacity_bytes: int | None) -> None:
        """Change the SD card size; set it to the used size to make the card full."""
        self.sdcard.capacity_bytes = capacity_bytes

    def fill_sd_card(self) -> None:
        """Make the SD card full: no byte can be added."""
        self.sdcard.capacity_bytes = self.sdcard.used_bytes()

    def spawn(self, coro) -> asyncio.Task:
        """Run `coro` as a task owned by the printer (cancelled by `stop`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)
        return task

    def _forget_task(self, task: asyncio.Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    def set_sd_card_inserted(self, inserted: bool) -> None:
        """Remove or insert the SD card: reports `sdcard`, prints and FTPS uploads need it."""
        self.sdcard.inserted = bool(inserted)
        self.state["sdcard"] = bool(inserted)

    async def reboot(self, downtime_s: float = 1.0) -> None:
        """Power cycle: every connection drops, the job is lost, state returns to IDLE."""
        self.reboots += 1
        await self._stop_services()
        self.machine.reset()
        self.reporting_enabled = True
        # Fault switches are the bench's, not the printer's: they survive the reboot.
        await asyncio.sleep(downtime_s)
        self._last_sent = copy.deepcopy(self.state)
        await self._start_services()

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self.faults.clear()
        self.machine.fail_at_layer = None

    def status(self) -> dict:
        """Summary for the control API and the CLI."""
        return {
            "serial": self.serial,
            "model": self.model.key,
            "name": self.name,
            "host": self.host,
            "ip": self.advertise_ip,
            "mqtt_port": self.mqtt_port,
            "ftps_port": self.ftps_port,
            "camera_port": self.camera_port,
            "control_port": self.control_port,
            "sd_path": str(self.sd_path),
            "ca_file": str(self.ca_file),
            "gcode_state": self.state["gcode_state"],
            "mc_percent": self.state["mc_percent"],
            "layer_num": self.state["layer_num"],
            "developer_mode": self.developer_mode,
            "ftps_session_reuse": self.ftps_session_reuse,
            "mqtt_clients": self.mqtt.client_count,
            "online": self.online,
            "reboots": self.reboots,
        }
