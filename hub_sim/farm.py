"""A simulated farm: N real hub firmwares under `micropython`, each with M simulated Bambu printers."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hub_sim.bambu import SimulatedBambuPrinter
from hub_sim.bambu.models import get_model
from hub_sim.hub_runner import DEFAULT_HEAP, HubProcess, provision

log = logging.getLogger("hub_sim.farm")

# The hub's console says one of these once its first cloud session is up.
CLAIM_CODE_MARK = "unclaimed: claim code "
LINK_UP_MARK = "up: claimed="


@dataclass
class FarmPrinter:
    """One simulated printer: what a user types into the cloud to add it to a hub."""

    printer: SimulatedBambuPrinter
    name: str

    @property
    def serial(self) -> str:
        """The printer's serial (its MQTT topic id)."""
        return self.printer.serial

    @property
    def access_code(self) -> str:
        """LAN access code (MQTT/FTPS password)."""
        return self.printer.access_code

    @property
    def model(self) -> str:
        """Short model name, e.g. P1S."""
        return self.printer.model.key

    def describe(self) -> dict:
        """Name, serial, model, address, ports and access code, plus the SD card folder."""
        return {
            "name": self.name,
            "serial": self.serial,
            "model": self.model,
            "ip": self.printer.host,
            "mqtt_port": self.printer.mqtt_port,
            "ftps_port": self.printer.ftps_port,
            "access_code": self.access_code,
            "sd_path": str(self.printer.sd_path),
        }


@dataclass
class FarmHub:
    """One hub: its factory identity, its firmware VM and the printers on its LAN."""

    hub_id: str
    secret: str
    state_dir: Path
    process: HubProcess
    printers: list[FarmPrinter] = field(default_factory=list)
    claim_code: str | None = None
    claimed: bool | None = None

    def describe(self) -> dict:
        """What a person needs to claim the hub and add its printers (the secret stays out)."""
        return {
            "hub_id": self.hub_id,
            "claim_code": self.claim_code,
            "claimed": self.claimed,
            "state_dir": str(self.state_dir),
            "printers": [p.describe() for p in self.printers],
        }

    async def wait_link_up(self, timeout: float = 60.0, start: int = 0) -> None:
        """Wait until the hub's cloud session is up; read its claim code when unclaimed."""
        index = await self.process.wait_line(LINK_UP_MARK, timeout=timeout, start=start)
        self.claimed = "claimed=True" in self.process.lines[index]
        self.claim_code = None
        for line in self.process.lines[start:]:
            if CLAIM_CODE_MARK in line:
                self.claim_code = line.split(CLAIM_CODE_MARK, 1)[1].split()[0]

    async def restart(self, timeout: float = 60.0) -> None:
        """Power-cycle the hub (SIGKILL, boot again) and wait for its cloud session."""
        await self.process.kill()
        start = len(self.process.lines)
        await self.process.start()
        await self.wait_link_up(timeout, start)


def ws_url(cloud_url: str) -> str:
    """http(s)://host:port -> ws(s)://host:port (what a hub is provisioned with)."""
    url = cloud_url.rstrip("/")
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def http_url(cloud_url: str) -> str:
    """ws(s)://host:port -> http(s)://host:port (where the REST API answers)."""
    url = cloud_url.rstrip("/")
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    return url


def serial_for(model: str, hub_index: int, printer_index: int) -> str:
    """A 15-character serial with the model's real prefix, unique within the farm."""
    prefix = get_model(model).serial_prefix + "00A"
    tail = f"{hub_index:03d}{printer_index:03d}"
    return (prefix + "9" * 15)[: 15 - len(tail)] + tail


async def register_hub(session, cloud_url: str, provisioning_key: str) -> tuple[str, str]:
    """Factory registration: POST /api/v1/admin/hubs; returns (hub_id, secret)."""
    url = http_url(cloud_url) + "/api/v1/admin/hubs"
    headers = {"X-Provisioning-Key": provisioning_key}
    async with session.post(url, json={"hardware_revision": "sim"}, headers=headers) as r:
        reply = await r.json(content_type=None)
        if r.status != 201:
            raise RuntimeError(f"hub registration refused ({r.status}): {reply}")
        return reply["hub_id"], reply["secret"]


def provisioning_key_from(data_dir) -> str | None:
    """`provisioning_key` of a cloud data folder's keys.json (base64), if there is one."""
    from cloud.config import KEYS_FILE_NAME
    from cloud.db import data_dir as resolve

    path = resolve(str(data_dir) if data_dir else None) / KEYS_FILE_NAME
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("provisioning_key")


def encode_key(raw: bytes) -> str:
    """The X-Provisioning-Key header value of a raw key."""
    return base64.b64encode(raw).decode()


class Farm:
    """N hubs (real firmware under micropython) × M simulated Bambu printers, on loopback.

    `async with Farm(cloud_url, hubs=2, printers_per_hub=2, provisioning_key=K) as farm:`
    registers the hubs with the cloud, boots them and waits until each has a cloud session;
    `farm.hubs[i].claim_code` is what an owner enters to claim it.
    """

    def __init__(
        self,
        cloud_url: str,
        *,
        hubs: int = 1,
        printers_per_hub: int = 1,
        provisioning_key: str,
        heap: str = DEFAULT_HEAP,
        model: str = "P1S",
        speed: float = 1.0,
        data_dir=None,
        host: str = "127.0.0.1",
        hub_env: dict | None = None,
        hub_settings: dict | None = None,
    ):
        get_model(model)  # unknown model: fail before starting anything
        self.cloud_url = http_url(cloud_url)
        self.hub_count = hubs
        self.printers_per_hub = printers_per_hub
        self.provisioning_key = provisioning_key
        self.heap = heap
        self.model = model
        self.speed = speed
        self.host = host
        self.hub_env = hub_env or {}
        # Extra NVS values for every hub (e.g. bo_min_ms / bo_max_ms: reconnect backoff).
        self.hub_settings = hub_settings or {}
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="printfarm-farm-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self.hubs: list[FarmHub] = []
        self.printers: list[FarmPrinter] = []

    async def __aenter__(self) -> Farm:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self, timeout: float = 120.0) -> None:
        """Start the printers, register and boot the hubs, wait for every cloud session."""
        import aiohttp

        self.data_dir.mkdir(parents=True, exist_ok=True)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for h in range(self.hub_count):
                hub_id, secret = await register_hub(session, self.cloud_url, self.provisioning_key)
                hub_printers = [
                    await self._start_printer(h, p) for p in range(self.printers_per_hub)
                ]
                self.hubs.append(self._make_hub(hub_id, secret, hub_printers))
        for hub in self.hubs:
            await hub.process.start()
        await asyncio.gather(*(hub.wait_link_up(timeout) for hub in self.hubs))

    async def _start_printer(self, hub_index: int, printer_index: int) -> FarmPrinter:
        serial = serial_for(self.model, hub_index + 1, printer_index + 1)
        folder = self.data_dir / "printers" / serial
        folder.mkdir(parents=True, exist_ok=True)
        printer = SimulatedBambuPrinter(
            serial,
            f"{secrets.randbelow(10**8):08d}",
            model=self.model,
            host=self.host,
            mqtt_port=0,
            ftps_port=0,
            camera_port=None,
            control_port=None,
            sd_dir=folder / "sdcard",
            workdir=folder,
            speed=self.speed,
        )
        await printer.start()
        farm_printer = FarmPrinter(printer, f"{self.model}-{hub_index + 1}-{printer_index + 1}")
        self.printers.append(farm_printer)
        return farm_printer

    def _make_hub(self, hub_id: str, secret: str, printers: list[FarmPrinter]) -> FarmHub:
        state_dir = self.data_dir / "hubs" / hub_id
        values = {"hub_id": hub_id, "secret": secret, "cloud_url": ws_url(self.cloud_url)}
        provision(state_dir, {**self.hub_settings, **values})
        process = HubProcess(state_dir, heap=self.heap, env=self.hub_env)
        return FarmHub(hub_id, secret, state_dir, process, printers)

    def printer_by_serial(self, serial: str) -> FarmPrinter:
        """The farm's printer with that serial (KeyError otherwise)."""
        for printer in self.printers:
            if printer.serial == serial:
                return printer
        raise KeyError(serial)

    def describe(self) -> list[dict]:
        """Every hub with its claim code and its printers' connection details."""
        return [hub.describe() for hub in self.hubs]

    async def stop(self) -> None:
        """Stop every hub VM, then every printer; safe to call twice."""
        await asyncio.gather(*(hub.process.stop() for hub in self.hubs), return_exceptions=True)
        await asyncio.gather(*(p.printer.stop() for p in self.printers), return_exceptions=True)
        self.hubs, self.printers = [], []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def resolve_provisioning_key(given: str | None, cloud_data_dir=None) -> str | None:
    """--provisioning-key, else PRINTFARM_PROVISIONING_KEY, else the cloud data folder's keys.json."""
    return (
        given
        or os.environ.get("PRINTFARM_PROVISIONING_KEY")
        or provisioning_key_from(cloud_data_dir)
    )
