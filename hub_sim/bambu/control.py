"""HTTP control API of a simulated printer: status and faults, for tests driving a CLI process."""

from __future__ import annotations

import inspect
import json

from aiohttp import web

# Fault methods of SimulatedBambuPrinter reachable as POST /faults/<name> with a JSON object of
# keyword arguments. Each entry: name -> accepted keyword arguments.
FAULTS = {
    "fail_at_layer": ("layer", "hms", "print_error", "pause"),
    "drop_mqtt_connections": (),
    "reject_next_command": ("reason", "err_code"),
    "set_developer_mode": ("enabled",),
    "set_ftps_session_reuse": ("required",),
    "set_ftps_refuse": ("refuse",),
    "cut_next_ftps_transfer": ("after_bytes",),
    "set_link_rate": ("bytes_per_s",),
    "set_sd_capacity": ("capacity_bytes",),
    "fill_sd_card": (),
    "set_sd_card_inserted": ("inserted",),
    "reboot": ("downtime_s",),
    "clear_faults": (),
}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class ControlServer:
    """`GET /status`, `GET /state` (the full print object), `POST /faults/<name>`."""

    def __init__(self, printer, host: str, port: int):
        self.printer = printer
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve."""
        app = web.Application()
        app.router.add_get("/status", self._status)
        app.router.add_get("/state", self._state)
        app.router.add_get("/faults", self._list_faults)
        app.router.add_post("/faults/{name}", self._fault)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self.printer.status())

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response({"print": self.printer.state})

    async def _list_faults(self, request: web.Request) -> web.Response:
        return web.json_response({name: list(args) for name, args in FAULTS.items()})

    async def _fault(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in FAULTS:
            return _error(404, "unknown_fault", f"no fault named {name!r}")
        body = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "bad_json", "body must be a JSON object")
        if not isinstance(body, dict):
            return _error(400, "bad_json", "body must be a JSON object")
        unknown = set(body) - set(FAULTS[name])
        if unknown:
            return _error(400, "bad_argument", f"unknown arguments: {sorted(unknown)}")
        method = getattr(self.printer, name)
        try:
            result = method(**body)
            if inspect.isawaitable(result):
                if name == "reboot":
                    # Answer before the connections (this one is separate) go down.
                    self.printer.spawn(result)
                    result = None
                else:
                    result = await result
        except (TypeError, ValueError) as exc:
            return _error(400, "bad_argument", str(exc))
        return web.json_response({"ok": True, "result": result})
