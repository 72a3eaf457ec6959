"""Sets a simulated farm up in a cloud through its REST API: owner, claims, printers, file, jobs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from hub_sim.farm import Farm, FarmHub, http_url


class CloudError(RuntimeError):
    """The cloud answered an API call with an error status."""

    def __init__(self, method: str, path: str, status: int, body):
        super().__init__(f"{method} {path} -> {status}: {body}")
        self.status = status
        self.body = body


class FarmCloud:
    """A user's REST session with the cloud (bearer token after register/login)."""

    def __init__(self, cloud_url: str, session: aiohttp.ClientSession):
        self.url = http_url(cloud_url)
        self.session = session
        self.token: str | None = None
        self.tenant_id: str | None = None

    async def call(
        self, method: str, path: str, *, json_body=None, data=None, params=None, ok=None
    ):
        """One API call; returns the parsed JSON body; raises CloudError on an unexpected status."""
        headers = {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        async with self.session.request(
            method, self.url + path, json=json_body, data=data, params=params, headers=headers
        ) as r:
            raw = await r.read()
            body = json.loads(raw) if raw else None
            if r.status not in (ok or (200, 201, 202, 204)):
                raise CloudError(method, path, r.status, body)
            return body

    async def register(self, email: str, password: str, tenant_name: str, name: str) -> dict:
        """Register a user with a new tenant (role owner) and keep its access token."""
        body = {"email": email, "password": password, "tenant_name": tenant_name, "name": name}
        session = await self.call("POST", "/api/v1/auth/register", json_body=body)
        self._keep(session)
        return session

    async def login(self, email: str, password: str) -> dict:
        """Log in and keep the access token."""
        body = {"email": email, "password": password}
        session = await self.call("POST", "/api/v1/auth/login", json_body=body)
        self._keep(session)
        return session

    def _keep(self, session: dict) -> None:
        self.token = session["access_token"]
        self.tenant_id = session["tenant"]["id"]

    async def claim(self, hub: FarmHub, name: str | None = None) -> dict:
        """Claim a farm hub with the code its console showed."""
        body = {"claim_code": hub.claim_code}
        if name:
            body["name"] = name
        return await self.call("POST", "/api/v1/hubs/claim", json_body=body)

    async def add_printers(self, hub: FarmHub) -> list[dict]:
        """Create the hub's printers in the cloud; each reaches the hub as configure_printer."""
        created = []
        for printer in hub.printers:
            p = printer.describe()
            body = {
                "name": p["name"],
                "model": p["model"],
                "manufacturer": "Bambu Lab",
                "hub_id": hub.hub_id,
                "serial_number": p["serial"],
                "ip_address": p["ip"],
                "access_code": p["access_code"],
                "mqtt_port": p["mqtt_port"],
                "ftps_port": p["ftps_port"],
            }
            created.append(await self.call("POST", "/api/v1/printers", json_body=body))
        return created

    async def upload_file(self, path: Path, name: str | None = None) -> dict:
        """Upload a 3MF (raw body)."""
        data = Path(path).read_bytes()
        params = {"name": name or Path(path).name}
        return await self.call("POST", "/api/v1/files", data=data, params=params)

    async def product_with_sku(self, name: str, sku: str, color: str) -> tuple[dict, dict]:
        """A product and one SKU of it."""
        product = await self.call("POST", "/api/v1/products", json_body={"name": name})
        body = {"product_id": product["id"], "sku": sku, "color": color}
        return product, await self.call("POST", "/api/v1/skus", json_body=body)

    async def queue_job(self, file_id: str, sku_id: str | None = None, priority: int = 5) -> dict:
        """Queue a print job of a file (for a SKU: completion adds to its stock)."""
        body = {"print_file_id": file_id, "priority": priority}
        if sku_id:
            body["product_sku_id"] = sku_id
        return await self.call("POST", "/api/v1/jobs", json_body=body)

    async def job(self, job_id: str) -> dict:
        """One job."""
        return await self.call("GET", f"/api/v1/jobs/{job_id}")

    async def printers(self) -> list[dict]:
        """The tenant's printers (first 200)."""
        return (await self.call("GET", "/api/v1/printers", params={"limit": "200"}))["items"]

    async def clear_bed(self, printer_id: str) -> dict:
        """Mark a printer's bed cleared (the dispatcher may send it the next job)."""
        return await self.call("POST", f"/api/v1/printers/{printer_id}/clear-bed")

    async def wait_printers_ready(self, printer_ids, timeout: float = 90.0) -> None:
        """Until every printer is connected and idle (its hub reported it)."""

        async def ready():
            while True:
                rows = {p["id"]: p for p in await self.printers()}
                if all(
                    rows.get(i, {}).get("is_connected") and rows[i].get("status") == "idle"
                    for i in printer_ids
                ):
                    return
                await asyncio.sleep(0.5)

        await asyncio.wait_for(ready(), timeout)


async def set_up_farm(cloud: FarmCloud, farm: Farm) -> list[dict]:
    """Claim every hub of the farm and add its printers; returns the created printer rows."""
    printers = []
    for index, hub in enumerate(farm.hubs, 1):
        if not hub.claimed:
            await cloud.claim(hub, name=f"Rack {index}")
        printers += await cloud.add_printers(hub)
    return printers
