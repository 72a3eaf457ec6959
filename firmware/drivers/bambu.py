"""Bambu Lab LAN driver: MQTT/TLS session, normalised status, job events, commands, FTPS upload."""

import asyncio
import json
import random
import time

from net import ftps, mqtt, tls

from drivers import bambu_status as bs
from drivers.base import (
    BAD_COMMAND,
    CARD_FULL,
    JOB_CANCELLED,
    JOB_FAILED,
    JOB_FINISHED,
    JOB_PAUSED,
    JOB_RESUMED,
    JOB_STARTED,
    PRINTER_BUSY,
    PRINTER_ERROR,
    PRINTER_OFFLINE,
    PRINTER_REFUSED,
    SESSION_REUSE_UNSUPPORTED,
    UPLOAD_FAILED,
    DriverError,
    PrinterDriver,
)

try:
    from micropython import const
except ImportError:  # CPython (tooling only)

    def const(x):
        return x


MQTT_PORT = const(8883)
FTPS_PORT = const(990)
KEEPALIVE_S = const(30)
STATUS_INTERVAL_MS = const(1000)  # on_status at most once per second per printer
PUMP_TICK_MS = const(200)
SILENCE_MS = const(60000)  # no report this long: ask for a push, then reconnect at 2x
PUSHALL_PERIOD_MS = const(300000)  # resync deltas every 5 min (more often lags a P1P)
ACK_TIMEOUT_MS = const(10000)
START_TIMEOUT_MS = const(30000)
BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(60000)
REFUSED_BACKOFF_MS = const(60000)  # wrong access code: retrying fast only locks the user out
STAGGER_MS = const(2000)  # random delay before the first connect of each printer
STABLE_SESSION_MS = const(30000)  # a session this long resets the reconnect backoff

# One TLS handshake at a time across all printers: on the ESP32 a handshake blocks the loop for
# up to ~1 s and costs ~15 KB extra heap, so they must never pile up after a WiFi return.
_handshake_gate = asyncio.Lock()


def backoff_ms(attempt, base=BACKOFF_MIN_MS):
    """Exponential backoff with +-25 % jitter, capped at BACKOFF_MAX_MS."""
    d = min(BACKOFF_MAX_MS, base << min(attempt, 6))
    return d - d // 4 + random.getrandbits(16) % (d // 2 + 1)


class BambuDriver(PrinterDriver):
    """A Bambu printer in LAN mode: one MQTT session (user bblp, access code) + FTPS uploads."""

    def __init__(self, config, on_status, on_event, ca_data=None):
        super().__init__(config, on_status, on_event)
        self.serial = config["serial"]
        self.host = config["ip"]
        self.mqtt_port = int(config.get("mqtt_port") or MQTT_PORT)
        self.ftps_port = int(config.get("ftps_port") or FTPS_PORT)
        self.require_session_reuse = bool(config.get("require_session_reuse"))
        self._code = config["access_code"]  # never logged
        # Printers present per-device certificates (CN=serial); with the CA we verify against
        # it using the serial as host name, without one we accept any (as every LAN client).
        self._ctx = tls.client_context(ca_data, verify=bool(ca_data))
        self._report_topic = "device/" + self.serial + "/report"
        self._request_topic = "device/" + self.serial + "/request"
        self._client = None
        self._raw = {}
        self._connected = False
        self._error = "not connected yet"
        self._sent = {}
        self._dirty = True
        self._last_emit = time.ticks_add(time.ticks_ms(), -STATUS_INTERVAL_MS)
        self._last_report = time.ticks_ms()
        self._last_pushall = time.ticks_ms()
        self._job_state = None  # last gcode_state seen, kept across reconnects
        self._stop_requested = False  # a stop we sent: FAILED then means cancelled
        self._hms_seen = set()
        self._pending = {}  # sequence_id -> waiter map for command acks
        self._seq = 20000 + random.getrandbits(12)  # Studio's window, not reused across boots
        self._stopping = False
        self._stop_ev = asyncio.Event()
        self._connected_once = False
        self._connected_at = 0
        self.firmware = None
        self.malformed = 0  # reports that were not JSON objects

    # connection

    async def run(self):
        """Own the MQTT session: connect, pushall, read; reconnect with staggered backoff."""
        self._stopping = False
        self._stop_ev = asyncio.Event()
        await self._pause(random.getrandbits(16) % STAGGER_MS)
        attempt = 0
        while not self._stopping:
            delay = None
            try:
                await self._session()
            except mqtt.MQTTError as e:
                if e.code in (4, 5):
                    self._set_offline("access code rejected by the printer")
                    delay = REFUSED_BACKOFF_MS
                else:
                    self._set_offline(e.message)
            except OSError as e:
                self._set_offline("network: " + str(e))
            except DriverError as e:
                self._set_offline(e.message)
            except Exception as e:  # a bug must not kill the task: report and retry
                self._set_offline("driver error: " + repr(e))
            if self._stopping:
                break
            # Only a session that lasted resets the backoff: a printer that accepts and then
            # drops us at once (client limit reached) must not be hammered every second.
            if self._connected_once and (
                time.ticks_diff(time.ticks_ms(), self._connected_at) >= STABLE_SESSION_MS
            ):
                attempt = 0
            await self._pause(delay or backoff_ms(attempt))
            attempt += 1
        self._set_offline("stopped")

    async def stop(self):
        """Close the session and make run() return."""
        self._stopping = True
        self._stop_ev.set()
        c = self._client
        if c is not None:
            await c.disconnect()

    async def _pause(self, ms):
        try:
            await asyncio.wait_for_ms(self._stop_ev.wait(), ms)
        except asyncio.TimeoutError:
            pass

    async def _session(self):
        self._connected_once = False
        # A unique client id: some brokers drop an older session holding the same id.
        cid = "pfhub-" + self.serial[-6:] + "-" + str(random.getrandbits(20))
        client = mqtt.MQTTClient(
            cid, "bblp", self._code, keepalive_s=KEEPALIVE_S, on_message=self._on_message
        )
        async with _handshake_gate:
            if self._stopping:
                return
            try:
                await client.connect(
                    self.host, self.mqtt_port, self._ctx, server_hostname=self.serial
                )
                await client.subscribe(self._report_topic, 0)
            except BaseException:
                await client.close()
                raise
            self._client = client
        pump = None
        try:
            self._connected = True
            self._connected_once = True
            self._connected_at = time.ticks_ms()
            self._error = ""
            self._dirty = True
            self._last_report = time.ticks_ms()
            await self._request({"pushing": {"sequence_id": "0", "command": "pushall"}})
            await self._request({"info": {"sequence_id": "0", "command": "get_version"}})
            self._last_pushall = time.ticks_ms()
            pump = asyncio.create_task(self._pump(client))
            await client.loop()
        finally:
            if pump is not None:
                pump.cancel()
            self._client = None
            self._connected = False
            await client.close()
            for w in self._pending.values():
                w["lost"] = True

    async def _request(self, obj, qos=0):
        c = self._client
        if c is None:
            raise DriverError(PRINTER_OFFLINE, "printer not connected: " + (self._error or "?"))
        try:
            await c.publish(self._request_topic, json.dumps(obj), qos)
        except (OSError, mqtt.MQTTError) as e:
            raise DriverError(PRINTER_OFFLINE, "lost the printer while sending: " + str(e))

    async def _pump(self, client):
        # Emits rate-bounded status and watches for a silent printer; ends with the session.
        try:
            await self._pump_loop(client)
        except DriverError:
            pass  # the session is going down; run() reconnects

    async def _pump_loop(self, client):
        asked = False
        while True:
            await asyncio.sleep_ms(PUMP_TICK_MS)
            self._emit_if_due()
            now = time.ticks_ms()
            quiet = time.ticks_diff(now, self._last_report)
            if quiet > 2 * SILENCE_MS:
                await client.close()  # loop() then raises and run() reconnects
                return
            if quiet > SILENCE_MS and not asked:
                asked = True
                await self._request({"pushing": {"sequence_id": "0", "command": "start"}})
                await self._request({"pushing": {"sequence_id": "0", "command": "pushall"}})
            elif quiet <= SILENCE_MS:
                asked = False
            if time.ticks_diff(now, self._last_pushall) > PUSHALL_PERIOD_MS:
                self._last_pushall = now
                await self._request({"pushing": {"sequence_id": "0", "command": "pushall"}})

    def _set_offline(self, reason):
        if self._connected or self._error != reason:
            self._connected = False
            self._error = reason
            self._dirty = True
            self._emit(force=True)

    # status

    def status(self):
        """The full normalised status map (docs/protocol.md printer_status.status)."""
        return bs.normalise(self._raw, self._connected, self._error)

    def _emit_if_due(self):
        if self._dirty and (
            time.ticks_diff(time.ticks_ms(), self._last_emit) >= STATUS_INTERVAL_MS
        ):
            self._emit()

    def _emit(self, force=False):
        self._dirty = False
        st = self.status()
        changed = {}
        for k, v in st.items():
            if self._sent.get(k) != v or k not in self._sent:
                changed[k] = v
        if changed or force:
            self._sent = st
            self._last_emit = time.ticks_ms()
            if changed:
                try:
                    self.on_status(self.printer_id, changed)
                except Exception as e:  # the hub's callback must not break the session
                    print("bambu", self.printer_id, "on_status failed:", repr(e))

    def _event(self, event, data):
        try:
            self.on_event(self.printer_id, event, data)
        except Exception as e:
            print("bambu", self.printer_id, "on_event failed:", repr(e))

    def _on_message(self, topic, payload):
        if topic != self._report_topic:
            return
        try:
            msg = json.loads(payload)
        except (ValueError, MemoryError):
            self.malformed += 1
            return
        if not isinstance(msg, dict):
            self.malformed += 1
            return
        self._last_report = time.ticks_ms()
        for family, body in msg.items():
            if not isinstance(body, dict):
                continue
            cmd = body.get("command")
            if family == "print" and cmd == "push_status":
                self._on_report(body)
            elif family == "info" and cmd == "get_version":
                for m in body.get("module") or ():
                    if isinstance(m, dict) and m.get("name") == "ota":
                        self.firmware = m.get("sw_ver")
            if cmd and cmd != "push_status":
                self._on_ack(cmd, body)

    def resume_job(self):
        """Take the printer as RUNNING until its first report: FINISH/FAILED/IDLE seen then is
        the end of the job the hub started before it rebooted (else that event is lost)."""
        if self._job_state is None:
            self._job_state = "RUNNING"

    def _on_report(self, report):
        bs.merge_report(self._raw, report)
        self._dirty = True
        new = self._raw.get("gcode_state")
        old = self._job_state
        if isinstance(new, str) and new != old:
            self._job_state = new
            if old is not None:
                self._transition(old, new)
        self._check_errors()

    def _job_data(self, **extra):
        st = self.status()
        data = {}
        for k in ("job_name", "gcode_state", "progress", "print_error"):
            if k in st:
                data[k] = st[k]
        if "current_layer" in st:
            data["layer"] = st["current_layer"]
        data.update(extra)
        return data

    def _transition(self, old, new):
        if new in bs.ACTIVE and old == "PAUSE":
            self._event(JOB_RESUMED, self._job_data())
        elif new in bs.ACTIVE and old not in bs.ACTIVE:
            self._stop_requested = False
            self._event(JOB_STARTED, self._job_data())
        elif new == "PAUSE":
            self._event(JOB_PAUSED, self._job_data())
        elif new == "FINISH":
            self._event(JOB_FINISHED, self._job_data())
        elif new == "FAILED":
            err = bs._int(self._raw.get("print_error")) or 0
            if err == bs.CANCEL_ERROR or self._stop_requested:
                self._event(JOB_CANCELLED, self._job_data())
            else:
                self._event(JOB_FAILED, self._job_data(reason="printer reported FAILED"))
            self._stop_requested = False
        elif new == "IDLE" and (old in bs.ACTIVE or old == "PAUSE"):
            self._event(JOB_FAILED, self._job_data(reason="printer returned to IDLE mid-job"))

    def _check_errors(self):
        err = bs._int(self._raw.get("print_error")) or 0
        if err and err != bs.CANCEL_ERROR and ("pe", err) not in self._hms_seen:
            self._hms_seen.add(("pe", err))
            self._event(PRINTER_ERROR, {"print_error": err, "hms": self._raw.get("hms", [])})
        for h in self._raw.get("hms") or ():
            key = (h["attr"], h["code"])
            # HMS level = code >> 16: 1 fatal, 2 serious are worth an event; 3/4 are status.
            if key not in self._hms_seen and (h["code"] >> 16) in (1, 2):
                self._hms_seen.add(key)
                self._event(PRINTER_ERROR, {"hms": [h], "print_error": err})
        if len(self._hms_seen) > 32:  # bounded memory: forget old ones (may re-report)
            self._hms_seen = set()

    def _on_ack(self, cmd, body):
        seq = body.get("sequence_id")
        w = self._pending.get(str(seq)) if seq is not None else None
        if w is None or w["command"] != cmd:
            for cand in self._pending.values():  # printers echo ids inconsistently
                if cand["command"] == cmd and not cand["done"]:
                    w = cand
                    break
        if w is None or w["done"]:
            return
        w["done"] = True
        w["error"] = bs.ack_error(body)

    # commands

    def _next_seq(self):
        self._seq = 20000 + (self._seq - 19999) % 10000  # stay in 20000..29999
        return str(self._seq)

    async def _command(self, family, body, confirm=None, timeout_ms=ACK_TIMEOUT_MS, qos=1):
        # Publish, then wait for a refusal ack, a success ack or the state change that proves
        # the effect (Bambu acks are optional); returns True when confirmed.
        seq = self._next_seq()
        body["sequence_id"] = seq
        w = {"command": body["command"], "done": False, "error": None, "lost": False}
        self._pending[seq] = w
        try:
            await self._request({family: body}, qos)
            deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
            while time.ticks_diff(deadline, time.ticks_ms()) > 0:
                if w["error"]:
                    raise DriverError(PRINTER_REFUSED, w["error"])
                if w["done"] or (confirm is not None and confirm(self._raw)):
                    return True  # a success ack, or the state change that proves the effect
                if w["lost"]:
                    raise DriverError(PRINTER_OFFLINE, "printer connection lost")
                await asyncio.sleep_ms(50)
            return w["done"]
        finally:
            self._pending.pop(seq, None)

    def _require_online(self):
        if not self._connected or self._client is None:
            raise DriverError(PRINTER_OFFLINE, "printer not connected: " + (self._error or "?"))

    async def control(self, action, args=None):
        """pause | resume | stop | speed {level: 1-4} | light {on: bool}; returns {confirmed}."""
        args = args or {}
        self._require_online()
        gs = self._raw.get("gcode_state")
        if action == "pause":
            if gs not in bs.ACTIVE:
                raise DriverError(PRINTER_REFUSED, "cannot pause: printer is " + str(gs))
            ok = await self._command(
                "print",
                {"command": "pause", "param": ""},
                lambda r: r.get("gcode_state") == "PAUSE",
            )
        elif action == "resume":
            if gs != "PAUSE":
                raise DriverError(PRINTER_REFUSED, "cannot resume: printer is " + str(gs))
            ok = await self._command(
                "print",
                {"command": "resume", "param": ""},
                lambda r: r.get("gcode_state") in bs.ACTIVE,
            )
        elif action == "stop":
            if gs not in bs.ACTIVE and gs != "PAUSE":
                raise DriverError(PRINTER_REFUSED, "nothing to stop: printer is " + str(gs))
            self._stop_requested = True
            ok = await self._command(
                "print",
                {"command": "stop", "param": ""},
                lambda r: r.get("gcode_state") in bs.NOT_PRINTING,
            )
        elif action == "speed":
            level = bs._int(args.get("level"))
            if level is None or not 1 <= level <= 4:
                raise DriverError(BAD_COMMAND, "speed level must be 1-4")
            ok = await self._command(
                "print",
                {"command": "print_speed", "param": str(level)},
                lambda r: bs._int(r.get("spd_lvl")) == level,
            )
        elif action == "light":
            mode = "on" if args.get("on", True) else "off"
            body = {
                "command": "ledctrl",
                "led_node": args.get("node", "chamber_light"),
                "led_mode": mode,
                "led_on_time": 500,
                "led_off_time": 500,
                "loop_times": 0,
                "interval_time": 0,
            }
            ok = await self._command("system", body, None)
        else:
            raise DriverError(BAD_COMMAND, "unknown printer action: " + str(action))
        return {"confirmed": bool(ok)}

    async def start_print(self, name, md5, plate=1, options=None):
        """project_file for plate `plate` of `name` (uploaded to the card root)."""
        o = options or {}
        self._require_online()
        gs = self._raw.get("gcode_state")
        if gs is not None and gs not in bs.NOT_PRINTING:
            raise DriverError(PRINTER_BUSY, "printer is " + gs)
        title = name
        for ext in (".gcode.3mf", ".3mf"):
            if title.endswith(ext):
                title = title[: -len(ext)]
                break
        mapping = o.get("ams_mapping")
        body = {
            "command": "project_file",
            "param": "Metadata/plate_" + str(int(plate or 1)) + ".gcode",
            "project_id": "0",
            "profile_id": "0",
            "task_id": "0",
            "subtask_id": "0",
            "subtask_name": title,
            "file": name,
            "url": "ftp://" + name,
            "md5": md5 or "",
            "bed_type": o.get("bed_type", "auto"),
            "timelapse": bool(o.get("timelapse", False)),
            "bed_leveling": bool(o.get("bed_leveling", True)),
            "bed_levelling": bool(o.get("bed_leveling", True)),
            "flow_cali": bool(o.get("flow_cali", False)),
            "vibration_cali": bool(o.get("vibration_cali", False)),
            "layer_inspect": False,
            "use_ams": bool(o.get("use_ams", bool(mapping))),
            "ams_mapping": list(mapping) if mapping else [],
        }
        self._stop_requested = False
        ok = await self._command(
            "print", body, lambda r: r.get("gcode_state") in bs.ACTIVE, START_TIMEOUT_MS
        )
        if not ok:
            raise DriverError(PRINTER_REFUSED, "printer did not start the print (no answer)")
        return {"confirmed": True}

    async def send_file(self, name, reader, size, progress, buf=None):
        """Upload over implicit FTPS to the card root; returns the MD5 of what was sent."""
        if self.require_session_reuse and not tls.SESSION_REUSE:
            raise DriverError(
                SESSION_REUSE_UNSUPPORTED,
                "this printer requires FTPS TLS session reuse, which this hub firmware's TLS "
                "stack lacks (needs the hub build with SSLSession support)",
            )
        client = ftps.FTPSClient(self.host, self.ftps_port, self._ctx, server_hostname=self.serial)
        try:
            async with _handshake_gate:
                await client.connect("bblp", self._code)
            return await client.upload(name, reader, size, progress, buf)
        except ftps.FTPError as e:
            raise DriverError(_ftp_code(e), "FTPS: " + e.message)
        except tls.ConnectError as e:
            raise DriverError(UPLOAD_FAILED, "FTPS link: " + str(e))
        except OSError as e:
            raise DriverError(UPLOAD_FAILED, "FTPS link: " + str(e))
        finally:
            await client.quit()


def _ftp_code(e):
    # 452/552: storage exhausted; 522 / reset on the data channel: session reuse demanded.
    if e.reply in (452, 552):
        return CARD_FULL
    if e.reply == 522 or e.session_reuse:
        return SESSION_REUSE_UNSUPPORTED if not tls.SESSION_REUSE else UPLOAD_FAILED
    if e.reply in (530, 331, 332):
        return PRINTER_REFUSED
    return e.code or UPLOAD_FAILED
