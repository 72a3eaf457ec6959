"""Cloud link: WebSocket session, HMAC auth, heartbeat, outbox delivery, command dispatch."""

import asyncio
import time

from net import websocket

from hub import clock
from hub.backoff import Backoff
from hub.commands import DONE, RUNNING
from hub.log import log
from hub.version import VERSION
from protocol import ProtocolError, codec, messages
from protocol.auth import hub_mac
from protocol.limits import MAX_HUB_FRAME

AUTH_TIMEOUT_MS = 15000
DEFAULT_HEARTBEAT_S = 30
# A link that has been up this long counts as healthy: the reconnect backoff starts over.
STABLE_MS = 30000
# hub_log batches: at most this many ring-log lines per frame (~160 B each: ~3 KB frames),
# shipped at most every LOG_SHIP_MS.
LOG_BATCH = 20
LOG_SHIP_MS = 5000
# Commands run concurrently (each a task); beyond this the cloud is told printer_busy.
MAX_RUNNING_COMMANDS = 8
CLOSE_AUTH_FAILED = 4401

COMMAND_TYPES = (
    "configure_printer",
    "print_command",
    "printer_command",
    "discover_printers",
    "ota_update",
)


class AuthRefused(Exception):
    """The cloud refused hub_hello (unknown hub, bad MAC, clock): retried with backoff."""


def _boot_report():
    try:
        from device import health
    except ImportError:  # a core built without the device layer
        return None
    try:
        return health.boot_report()
    except Exception as e:  # never let boot bookkeeping keep the hub off the cloud
        log.warn("cloud", "no boot report: %r" % (e,))
        return None


class LinkDown(Exception):
    """The session ended (heartbeat timeout, close, send failure)."""


def _reset_reason():
    # The same strings as device.health.REASONS.
    try:
        import machine

        return {
            machine.PWRON_RESET: "power_on",
            machine.HARD_RESET: "hard_reset",
            machine.WDT_RESET: "watchdog",
            machine.DEEPSLEEP_RESET: "deep_sleep",
            machine.SOFT_RESET: "soft_reset",
        }.get(machine.reset_cause(), "unknown")
    except Exception:
        return "unknown"


class CloudLink:
    """One WebSocket session at a time with reconnects; commands are handed to `handler`.

    `handler(msg)` is an async callable returning the ack fields ({success, error?, result?}).
    `on_up()` is called after each hello_ok (e.g. to send every printer's full status).
    """

    def __init__(self, config, outbox, commands, handler=None, on_up=None, ca_bundle=None):
        self.config = config
        self.outbox = outbox
        self.commands = commands
        self.handler = handler
        self.on_up = on_up
        self.ca_bundle = ca_bundle
        self.ws = None
        self.state = "down"  # down | connecting | authenticating | up
        self.claimed = None
        self.claim_code = None
        self.tenant_id = None
        self.heartbeat_s = DEFAULT_HEARTBEAT_S
        self.wake = asyncio.Event()  # sender: something to send
        outbox.changed = self.wake
        self._status = {}  # printer_id -> merged status changes not yet sent
        self._command_tasks = {}
        self.boot_count = 0
        self.stats = {
            "connects": 0,
            "sessions": 0,
            "auth_refused": 0,
            "frames_in": 0,
            "frames_out": 0,
            "bad_frames": 0,
            "invalid_out": 0,
            "last_error": None,
            "last_close": None,
        }
        self.backoff = None
        self._up_since = 0
        self._ctx = None

    # -- public API for the rest of the hub ------------------------------------------------
    def post_status(self, printer_id, changes):
        """Queue status changes for a printer; unsent changes merge (the newest value wins)."""
        pending = self._status.get(printer_id)
        if pending is None:
            self._status[printer_id] = dict(changes)
        else:
            pending.update(changes)
        self.wake.set()

    def forget_printer(self, printer_id):
        """Drop unsent status of a removed printer."""
        self._status.pop(printer_id, None)

    async def send_now(self, msg):
        """Send a message that is not queued (progress, acks, discovery); False if the link is down."""
        ws = self.ws
        if ws is None or self.state != "up":
            return False
        try:
            await self._send(ws, msg)
            return True
        except Exception as e:
            log.warn("cloud", "send %s failed: %r" % (msg.get("type"), e))
            return False

    def is_up(self):
        """True while authenticated."""
        return self.state == "up"

    # -- the supervised task ---------------------------------------------------------------
    async def run(self):
        """Connect, authenticate and serve forever, reconnecting with jittered backoff."""
        lo, hi = self.config.backoff_ms()
        self.backoff = Backoff(lo, hi)
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                self._teardown()
                raise
            except AuthRefused as e:
                self.stats["auth_refused"] += 1
                self.stats["last_error"] = str(e)
                log.error("cloud", "auth refused: %s" % e)
            except websocket.ConnectionClosed as e:
                self.stats["last_close"] = e.code
                log.warn(
                    "cloud", "closed %d %s (%s)" % (e.code, e.reason, "us" if e.local else "peer")
                )
            except Exception as e:  # network errors, TLS failures, timeouts: all retried
                self.stats["last_error"] = repr(e)[:80]
                log.warn("cloud", "link failed: %r" % (e,))
            self._teardown()
            if self._up_since and time.ticks_diff(time.ticks_ms(), self._up_since) > STABLE_MS:
                self.backoff.reset()
            self._up_since = 0
            delay = self.backoff.next_ms()
            log.info("cloud", "reconnect in %d ms" % delay)
            await asyncio.sleep_ms(delay)

    def _teardown(self):
        self.state = "down"
        ws, self.ws = self.ws, None
        if ws is not None:
            ws.abort()

    def _url(self):
        return self.config.cloud_url.rstrip("/") + "/ws/hub/" + self.config.hub_id

    def tls_for(self, url):
        """A verifying TLS context for a wss:// or https:// URL of the cloud (None for plain)."""
        if not (url.startswith("wss://") or url.startswith("https://")):
            return None
        if self._ctx is None:
            # Built once and reused: parsing the bundle on every reconnect costs heap and time.
            bundle = self.config.ca_bundle or self.ca_bundle
            if not bundle:
                raise OSError("TLS URL without a CA bundle")
            self._ctx = websocket.tls_context(bundle)
        return self._ctx

    def _checked(self, msg):
        """msg if the contract accepts it; a status loses only its bad keys; else None.

        The cloud closes the link on an invalid frame, so one bad value from a driver would
        otherwise turn into a reconnect loop.
        """
        while True:
            try:
                return messages.validate(msg, messages.HUB_TO_CLOUD)
            except ProtocolError as e:
                self.stats["invalid_out"] += 1
                field = getattr(e, "field", "")
                status = msg.get("status") if msg.get("type") == "printer_status" else None
                prefix = "printer_status.status."
                if status and field.startswith(prefix):
                    key = field[len(prefix) :].split(".")[0].split("[")[0]
                    if key in status:
                        log.warn("cloud", "status key %s dropped: %s" % (key, e))
                        del status[key]
                        if status:
                            continue
                        return None
                log.error("cloud", "invalid %s not sent: %s" % (msg.get("type"), e))
                return None

    async def _send(self, ws, msg):
        if self._checked(msg) is None:
            return
        data = codec.packb(msg)
        if len(data) > MAX_HUB_FRAME:
            # Never put an oversize frame on the wire: the cloud would drop the whole link.
            log.error(
                "cloud", "%s of %d bytes over the frame cap: dropped" % (msg["type"], len(data))
            )
            return
        await ws.send(data)
        self.stats["frames_out"] += 1

    async def _recv(self, ws, timeout_ms):
        data = await asyncio.wait_for_ms(ws.recv(), timeout_ms)
        return self._decode(data)

    def _decode(self, data):
        """bytes -> validated message; raises ProtocolError (with close_code) for bad frames."""
        if isinstance(data, str):
            err = ProtocolError("text frame on the hub link")
            err.close_code = websocket.CLOSE_UNSUPPORTED
            raise err
        self.stats["frames_in"] += 1
        msg = codec.unpackb(data, MAX_HUB_FRAME)
        if type(msg) is not dict:
            raise ProtocolError("frame is not a map")
        try:
            return messages.validate(msg, messages.CLOUD_TO_HUB)
        except ProtocolError as e:
            cid = msg.get("command_id")
            if type(cid) is str and msg.get("type") in COMMAND_TYPES:
                e.command_id = cid  # answered with a bad_command ack instead of a close
            raise

    async def _authenticate(self, ws):
        self.state = "authenticating"
        msg = await self._recv(ws, AUTH_TIMEOUT_MS)
        if msg["type"] != "auth_challenge":
            raise LinkDown("expected auth_challenge, got " + msg["type"])
        clock.sync(msg["server_time"])
        ts = clock.now_ms()
        hub_id = self.config.hub_id
        hello = {
            "type": "hub_hello",
            "hub_id": hub_id,
            "firmware": VERSION,
            "ts": ts,
            "mac": hub_mac(self.config.secret, msg["nonce"], hub_id, ts),
            "reset_reason": _reset_reason(),
            "boot_count": self.boot_count,
            "last_acked_seq": self.outbox.acked,
        }
        report = _boot_report()
        if report is not None:
            # The loader's view: which application slot runs (or safe mode) and why it booted.
            hello["app_slot"] = report["app_slot"]
            hello["reset_reason"] = report["reset_reason"]
        try:
            import network

            wlan = network.WLAN(network.STA_IF)
            hello["ip"] = wlan.ifconfig()[0]
            hello["wifi_rssi"] = wlan.status("rssi")
        except Exception:
            pass  # no radio information: the fields are optional
        await self._send(ws, hello)
        try:
            reply = await self._recv(ws, AUTH_TIMEOUT_MS)
        except websocket.ConnectionClosed as e:
            if e.code == CLOSE_AUTH_FAILED:
                raise AuthRefused("closed %d %s" % (e.code, e.reason))
            raise
        if reply["type"] == "error":
            raise AuthRefused("%s: %s" % (reply["code"], reply["message"]))
        if reply["type"] != "hello_ok":
            raise LinkDown("expected hello_ok, got " + reply["type"])
        self._apply_claim(reply)
        self.heartbeat_s = reply["heartbeat_s"]
        removed = self.outbox.ack(reply["acked_seq"])
        log.info(
            "cloud",
            "up: claimed=%s heartbeat=%ds acked_seq=%d (%d cleared, %d to resend)"
            % (
                self.claimed,
                self.heartbeat_s,
                reply["acked_seq"],
                removed,
                len(self.outbox.entries),
            ),
        )

    def _apply_claim(self, msg):
        self.claimed = msg["claimed"]
        self.tenant_id = msg.get("tenant_id")
        self.claim_code = msg.get("claim_code") if not self.claimed else None
        if self.claim_code:
            log.info("cloud", "unclaimed: claim code %s" % self.claim_code)

    async def _session(self):
        url = self._url()
        self.state = "connecting"
        self.stats["connects"] += 1
        log.info("cloud", "connecting to " + url)
        ws = await websocket.connect(url, ssl=self.tls_for(url), max_message=MAX_HUB_FRAME)
        self.ws = ws
        try:
            await self._authenticate(ws)
        except ProtocolError as e:
            await self._reject_frame(ws, e)
            raise
        self.state = "up"
        self.stats["sessions"] += 1
        self._up_since = time.ticks_ms()
        if self.on_up is not None:
            try:
                self.on_up()
            except Exception as e:
                log.exc("cloud", "on_up failed", e)
        done = asyncio.Event()
        why = []
        tasks = [
            asyncio.create_task(self._guarded(self._reader(ws), done, why)),
            asyncio.create_task(self._guarded(self._heartbeat(ws), done, why)),
            asyncio.create_task(self._guarded(self._sender(ws), done, why)),
        ]
        try:
            await done.wait()
        finally:
            for t in tasks:
                t.cancel()
        self.state = "down"
        if why:
            raise why[0]

    async def _guarded(self, coro, done, why):
        try:
            await coro
        except asyncio.CancelledError:
            pass
        except Exception as e:
            why.append(e)
        finally:
            done.set()

    async def _reject_frame(self, ws, e):
        self.stats["bad_frames"] += 1
        code = getattr(e, "close_code", websocket.CLOSE_BAD_DATA)
        log.warn("cloud", "bad frame (%s): closing %d" % (e, code))
        await ws.close(code, str(e)[:100])

    # -- session tasks -------------------------------------------------------------------
    async def _reader(self, ws):
        while True:
            data = await ws.recv()
            try:
                msg = self._decode(data)
            except ProtocolError as e:
                cid = getattr(e, "command_id", None)
                if cid is None:
                    await self._reject_frame(ws, e)
                    raise LinkDown("bad frame")
                # A well-formed command we cannot accept: refuse it once, keep the link.
                ack = {"success": False, "error": {"code": "bad_command", "message": str(e)[:200]}}
                await self._finish_command(cid, ack)
                continue
            await self._dispatch(msg)

    async def _dispatch(self, msg):
        kind = msg["type"]
        if kind == "event_ack":
            self.outbox.ack(msg["seq"])
        elif kind == "claim_update":
            self._apply_claim(msg)
            log.info("cloud", "claim update: claimed=%s tenant=%s" % (self.claimed, self.tenant_id))
        elif kind == "error":
            log.warn("cloud", "cloud error %s: %s" % (msg["code"], msg["message"]))
        elif kind in COMMAND_TYPES:
            self._accept_command(msg)
        else:
            log.warn("cloud", "unexpected %s ignored" % kind)

    def _accept_command(self, msg):
        cid = msg["command_id"]
        state, ack = self.commands.state(cid)
        if state == DONE:
            log.info("cloud", "command %s redelivered: ack replayed" % cid)
            self._spawn_send(self._ack_msg(cid, ack))
            return
        if state == RUNNING:
            log.info("cloud", "command %s redelivered while running: ignored" % cid)
            return
        if len(self._command_tasks) >= MAX_RUNNING_COMMANDS or self.handler is None:
            ack = {"success": False, "error": {"code": "printer_busy", "message": "hub busy"}}
            self._spawn_send(self._ack_msg(cid, ack))  # not remembered: a redelivery may run
            return
        self.commands.begin(cid)
        self._command_tasks[cid] = asyncio.create_task(self._run_command(cid, msg))

    async def _run_command(self, cid, msg):
        try:
            ack = await self.handler(msg)
        except asyncio.CancelledError:
            self.commands.abandon(cid)
            self._command_tasks.pop(cid, None)
            raise
        except Exception as e:
            log.exc("cmd", "%s %s failed" % (msg["type"], cid), e)
            ack = {"success": False, "error": {"code": "bad_command", "message": repr(e)[:200]}}
        self._command_tasks.pop(cid, None)
        await self._finish_command(cid, ack)

    async def _finish_command(self, cid, ack):
        self.commands.finish(cid, ack)  # on flash before the cloud hears of it
        await self.send_now(self._ack_msg(cid, ack))

    def _ack_msg(self, cid, ack):
        msg = {"type": "command_ack", "command_id": cid, "success": ack["success"]}
        if ack.get("error"):
            msg["error"] = ack["error"]
        if ack.get("result"):
            msg["result"] = ack["result"]
        return msg

    def _spawn_send(self, msg):
        asyncio.create_task(self.send_now(msg))

    async def _heartbeat(self, ws):
        hb_ms = self.heartbeat_s * 1000
        limit = 3 * hb_ms
        while True:
            await asyncio.sleep_ms(hb_ms)
            silent = time.ticks_diff(time.ticks_ms(), ws.last_rx_ms)
            if silent > limit:
                log.warn("cloud", "heartbeat timeout: silent %d ms" % silent)
                raise LinkDown("heartbeat timeout")
            # Bounded: a stalled TCP send must not hide a dead link from the check above.
            await asyncio.wait_for_ms(ws.ping(), hb_ms)

    async def _sender(self, ws):
        sent_upto = 0  # every unacked event is resent once per session, in order
        last_log_ms = time.ticks_ms()
        while True:
            self.wake.clear()
            for event in self.outbox.pending_after(sent_upto):
                await self._send(ws, event)
                sent_upto = event["seq"]
            while self._status:
                printer_id = next(iter(self._status))
                changes = self._status.pop(printer_id)
                await self._send(
                    ws,
                    {
                        "type": "printer_status",
                        "printer_id": printer_id,
                        "status": changes,
                        "ts": clock.now_ms(),
                    },
                )
            if time.ticks_diff(time.ticks_ms(), last_log_ms) >= LOG_SHIP_MS:
                last_log_ms = time.ticks_ms()
                lines = log.take_unsent(LOG_BATCH)
                if lines:
                    await self._send(ws, {"type": "hub_log", "lines": lines})
            try:
                await asyncio.wait_for_ms(self.wake.wait(), LOG_SHIP_MS)
            except asyncio.TimeoutError:
                pass

    def status(self):
        """Link state and counters for hub.status()."""
        out = dict(self.stats)
        out["state"] = self.state
        out["claimed"] = self.claimed
        out["claim_code"] = self.claim_code
        out["heartbeat_s"] = self.heartbeat_s
        out["running_commands"] = list(self._command_tasks)
        return out
