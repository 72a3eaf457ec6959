"""Provisioning portal (microdot): a person enters WiFi and cloud settings and sees the hub's id and claim state.

Runs only in provisioning mode and safe mode (one listening socket plus one per browser
connection). Operating systems probe for captive portals at well-known paths; those, and
every unknown path, redirect to the portal page so it opens by itself.
"""

import asyncio
import json

from microdot import Microdot, Request, Response
from micropython import const

from device.settings import Settings, SettingsError

HTTP_PORT = const(80)
MAX_BODY = const(2048)  # largest settings form accepted (RAM cost: up to 2 KiB per request)
Request.max_content_length = MAX_BODY
Request.max_body_length = MAX_BODY

# Paths that Android, Apple, Windows and Firefox fetch to detect a captive portal.
CAPTIVE_PROBES = (
    "/generate_204",
    "/gen_204",
    "/hotspot-detect.html",
    "/library/test/success.html",
    "/connecttest.txt",
    "/ncsi.txt",
    "/success.txt",
    "/canonical.html",
)

_PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width">
<title>PrintFarm hub %(hub_id)s</title></head><body>
<h1>PrintFarm hub</h1>
<p>Hub id: <b id="hub_id">%(hub_id)s</b></p>
<p>Claim: <b id="claim">%(claim)s</b></p>
<p>Mode: %(mode)s. WiFi: %(ssid)s</p>
<form method="post" action="/api/settings">
<label>WiFi network <input name="ssid" value="%(ssid_value)s" list="nets" required></label>
<datalist id="nets">%(networks)s</datalist>
<label>Password <input name="password" type="password"></label>
<label>Cloud URL <input name="cloud_url" value="%(cloud_url)s" placeholder="wss://"></label>
<button>Save and connect</button></form>
<form method="post" action="/api/leave_safe_mode"><button>Restart the application</button></form>
</body></html>"""


def _escape(text):
    text = str(text)
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = text.replace(a, b)
    return text


def claim_text(status):
    """What the page says about the claim state."""
    if status.get("claimed") is True:
        return "claimed"
    if status.get("claim_code"):
        return "not claimed: enter code %s in PrintFarm" % status["claim_code"]
    if status.get("claimed") is False:
        return "not claimed"
    return "unknown until the hub reaches the cloud"


class Portal:
    """The portal app; serve() runs it, stop() ends it, on_saved(values) runs after a save."""

    def __init__(
        self, settings=None, status=None, port=HTTP_PORT, address="192.168.4.1", networks=None
    ):
        self.settings = settings or Settings()
        self.status = status or (lambda: {})
        self.port = port
        self.address = address
        self.networks = networks or (lambda: [])
        self.on_saved = None
        self.app = self._build()

    def _info(self):
        info = {"hub_id": self.settings.get("hub_id") or "unprovisioned"}
        info.update(self.status())
        info["claim"] = claim_text(info)
        info.setdefault("mode", "provisioning")
        info["wifi_ssid"] = self.settings.get("wifi_ssid") or ""
        info["cloud_url"] = self.settings.get("cloud_url") or ""
        return info

    def _build(self):
        app = Microdot()
        portal = self

        @app.route("/")
        async def index(request):
            info = portal._info()
            nets = "".join('<option value="%s">' % _escape(n) for n in portal.networks())
            page = _PAGE % {
                "hub_id": _escape(info["hub_id"]),
                "claim": _escape(info["claim"]),
                "mode": _escape(info["mode"]),
                "ssid": _escape(info["wifi_ssid"] or "not set"),
                "ssid_value": _escape(info["wifi_ssid"]),
                "cloud_url": _escape(info["cloud_url"]),
                "networks": nets,
            }
            return Response(page, headers={"Content-Type": "text/html; charset=utf-8"})

        @app.route("/api/status")
        async def status(request):
            info = portal._info()
            info["networks"] = portal.networks()
            return Response(json.dumps(info), headers={"Content-Type": "application/json"})

        @app.route("/api/settings", methods=["POST"])
        async def save(request):
            try:
                values = request.json if _is_json(request) else request.form
            except ValueError:
                values = None
            if values is None or not hasattr(values, "get"):
                return _error(400, "bad_request", "send a form or a JSON object")
            try:
                clean = portal.settings.save(
                    {k: values.get(k) for k in ("ssid", "password", "cloud_url")}
                )
            except SettingsError as e:
                return _error(400, "invalid", str(e))
            if portal.on_saved is not None:
                portal.on_saved(clean)
            body = {"saved": True, "ssid": clean["ssid"], "cloud_url": clean["cloud_url"]}
            return Response(json.dumps(body), headers={"Content-Type": "application/json"})

        @app.route("/api/leave_safe_mode", methods=["POST"])
        async def leave_safe_mode(request):
            # After repeated failed boots the loader runs safe mode; once the cause is fixed
            # (e.g. settings saved here) a person restarts the application from the portal.
            import loader

            loader.leave_safe_mode()
            asyncio.create_task(_restart_soon())
            return Response(
                json.dumps({"restarting": True}), headers={"Content-Type": "application/json"}
            )

        @app.errorhandler(404)
        async def elsewhere(request):
            return Response.redirect("http://%s/" % portal.address)

        for path in CAPTIVE_PROBES:
            app.route(path)(elsewhere)
        return app

    async def serve(self, host="0.0.0.0"):
        """Serve until stop()."""
        await self.app.start_server(host=host, port=self.port)

    def stop(self):
        """Stop serving."""
        self.app.shutdown()


RESTART_DELAY_MS = const(500)  # let the answer reach the browser before the reset


async def _restart_soon():
    import machine

    await asyncio.sleep_ms(RESTART_DELAY_MS)
    machine.reset()


def _is_json(request):
    return (request.headers.get("Content-Type") or "").startswith("application/json")


def _error(status, code, message):
    body = json.dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, headers={"Content-Type": "application/json"})
