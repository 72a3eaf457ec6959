"""Catalogue of every hub<->cloud and dashboard message (docs/protocol.md) and `validate()`."""

from protocol.errors import InvalidMessage
from protocol.limits import MAX_DASHBOARD_FRAME, MAX_DEPTH, MAX_HUB_FRAME  # noqa: F401

# Directions a message travels in; HUB_LINK and DASHBOARD accept either way of that link.
HUB_TO_CLOUD = "hub_to_cloud"
CLOUD_TO_HUB = "cloud_to_hub"
DASHBOARD_TO_SERVER = "dashboard_to_server"
SERVER_TO_DASHBOARD = "server_to_dashboard"
HUB_LINK = "hub_link"
DASHBOARD = "dashboard"

# Value sets named by the contract (the spec's strings).
HUB_PRINTER_STATES = ("idle", "printing", "paused", "error", "offline")
PRINTER_STATUSES = ("idle", "printing", "paused", "maintenance", "offline", "error")
JOB_STATUSES = (
    "queued",
    "processing",
    "uploaded",
    "printing",
    "paused",
    "completed",
    "failed",
    "cancelled",
)
# Raw Bambu states; `gcode_state` is passed through as str (printers also send e.g. SLICING).
GCODE_STATES = ("IDLE", "PREPARE", "RUNNING", "PAUSE", "FINISH", "FAILED")
PRINTER_EVENTS = (
    "job_started",
    "job_paused",
    "job_resumed",
    "job_finished",
    "job_failed",
    "job_cancelled",
    "file_transferred",
    "printer_error",
)
ACK_ERROR_CODES = (
    "printer_offline",
    "printer_busy",
    "printer_refused",
    "download_failed",
    "upload_failed",
    "card_full",
    "md5_mismatch",
    "session_reuse_unsupported",
    "cancelled",
    "bad_command",
    "unknown_printer",
)
PRINTER_ACTIONS = ("pause", "resume", "stop", "cancel_transfer", "speed", "light")
CONFIGURE_ACTIONS = ("add", "update", "remove")
OTA_KINDS = ("firmware", "app")
NONCE_SIZE = 16
MAC_SIZE = 32
SIGNATURE_SIZE = 64


class _Spec:
    """A field type; `check(value, path)` raises InvalidMessage naming `path`."""

    name = "value"

    def check(self, value, path):
        raise NotImplementedError


class _Str(_Spec):
    name = "str"

    def __init__(self, nonempty=False):
        self.nonempty = nonempty

    def check(self, value, path):
        if type(value) is not str:
            raise InvalidMessage(path, "expected str")
        if self.nonempty and not value:
            raise InvalidMessage(path, "must not be empty")


class _Int(_Spec):
    name = "int"

    def __init__(self, minimum=None, maximum=None):
        self.minimum = minimum
        self.maximum = maximum

    def check(self, value, path):
        # bool is an int on CPython but never a valid int field.
        if type(value) is not int:
            raise InvalidMessage(path, "expected " + self.name)
        _check_range(self, value, path)


class _Num(_Int):
    name = "number"

    def check(self, value, path):
        if type(value) is not int and type(value) is not float:
            raise InvalidMessage(path, "expected number")
        if value != value:
            raise InvalidMessage(path, "must not be NaN")
        _check_range(self, value, path)


def _check_range(spec, value, path):
    if spec.minimum is not None and value < spec.minimum:
        raise InvalidMessage(path, "must be >= %s" % spec.minimum)
    if spec.maximum is not None and value > spec.maximum:
        raise InvalidMessage(path, "must be <= %s" % spec.maximum)


class _Bool(_Spec):
    name = "bool"

    def check(self, value, path):
        if type(value) is not bool:
            raise InvalidMessage(path, "expected bool")


class _Bin(_Spec):
    name = "bin"

    def __init__(self, size):
        self.size = size

    def check(self, value, path):
        if type(value) is not bytes:
            raise InvalidMessage(path, "expected bin")
        if len(value) != self.size:
            raise InvalidMessage(path, "expected bin of %d bytes, got %d" % (self.size, len(value)))


class _Hex(_Str):
    name = "hex str"

    def __init__(self, length):
        self.length = length

    def check(self, value, path):
        if type(value) is not str:
            raise InvalidMessage(path, "expected str")
        if len(value) != self.length:
            raise InvalidMessage(path, "expected %d hex digits" % self.length)
        for ch in value:
            if ch not in "0123456789abcdefABCDEF":
                raise InvalidMessage(path, "expected %d hex digits" % self.length)


class _Enum(_Spec):
    name = "str"

    def __init__(self, values):
        self.values = values

    def check(self, value, path):
        if type(value) is not str:
            raise InvalidMessage(path, "expected str")
        if value not in self.values:
            raise InvalidMessage(path, "must be one of " + "|".join(self.values))


class _AnyMap(_Spec):
    name = "map"

    def check(self, value, path):
        if type(value) is not dict:
            raise InvalidMessage(path, "expected map")


class _Nullable(_Spec):
    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name + " or nil"

    def check(self, value, path):
        if value is not None:
            self.inner.check(value, path)


class _ListOf(_Spec):
    name = "list"

    def __init__(self, item):
        self.item = item

    def check(self, value, path):
        if type(value) is not list:
            raise InvalidMessage(path, "expected list")
        item = self.item
        for i in range(len(value)):
            item.check(value[i], path + "[" + str(i) + "]")


class _Struct(_Spec):
    """A map with required and optional fields: tuples of (name, spec); extra keys are ignored."""

    name = "map"

    def __init__(self, required=(), optional=()):
        self.required = required
        self.optional = optional

    def check(self, value, path):
        if type(value) is not dict:
            raise InvalidMessage(path, "expected map")
        for field, spec in self.required:
            if field not in value:
                raise InvalidMessage(path + "." + field, "missing required field")
            spec.check(value[field], path + "." + field)
        for field, spec in self.optional:
            if field in value:
                spec.check(value[field], path + "." + field)


STR = _Str()
ID = _Str(nonempty=True)
INT = _Int()
COUNT = _Int(minimum=0)
NUMBER = _Num()
BOOL = _Bool()
MAP = _AnyMap()

# --- nested maps -------------------------------------------------------------------------

_HMS_ENTRY = _Struct(required=(("attr", INT), ("code", INT)))
# One AMS tray; `id` is the global tray index (ams_id * 4 + slot, 254 = external spool) and an
# empty slot carries only `id`. `color` is Bambu's RRGGBBAA hex; `remain` is percent (-1 or nil:
# unknown, as printers without RFID data report it).
_AMS_TRAY = _Struct(
    required=(("id", INT),),
    optional=(
        ("type", _Nullable(STR)),
        ("color", _Nullable(STR)),
        ("remain", _Nullable(_Int(minimum=-1, maximum=100))),
    ),
)
# Normalised printer status: every key optional, absent = unchanged/unknown.
PRINTER_STATUS = _Struct(
    optional=(
        ("state", _Enum(HUB_PRINTER_STATES)),
        ("gcode_state", STR),
        ("progress", _Num(0, 100)),
        ("remaining_minutes", COUNT),
        ("current_layer", COUNT),
        ("total_layers", COUNT),
        ("job_name", STR),
        ("gcode_file", STR),
        ("nozzle_temp", NUMBER),
        ("nozzle_target", NUMBER),
        ("bed_temp", NUMBER),
        ("bed_target", NUMBER),
        ("chamber_temp", NUMBER),
        ("speed_level", INT),
        ("print_error", INT),
        ("hms", _ListOf(_HMS_ENTRY)),
        ("ams", _ListOf(_AMS_TRAY)),
        ("wifi_signal", INT),  # dBm, parsed from Bambu's "-53dBm"
        ("connected", BOOL),
        ("error", STR),
    )
)
_ACK_ERROR = _Struct(required=(("code", _Enum(ACK_ERROR_CODES)), ("message", STR)))
_DISCOVERED_PRINTER = _Struct(
    required=(("serial", STR), ("model", STR), ("name", STR), ("ip", STR)),
)
PRINTER_CONFIG = _Struct(
    required=(
        ("printer_id", ID),
        ("connection_type", _Enum(("bambu",))),
        ("serial", STR),
        ("ip", STR),
        ("access_code", STR),
        ("model", STR),
        ("name", STR),
    ),
    optional=(
        ("mqtt_port", _Int(1, 65535)),
        ("ftps_port", _Int(1, 65535)),
        ("require_session_reuse", BOOL),
    ),
)
# Removing a printer needs only its id.
_PRINTER_REF = _Struct(required=(("printer_id", ID),))
PRINT_OPTIONS = _Struct(
    optional=(
        ("bed_type", STR),
        ("use_ams", BOOL),
        ("ams_mapping", _ListOf(INT)),
        ("timelapse", BOOL),
        ("bed_leveling", BOOL),
        ("flow_cali", BOOL),
        ("vibration_cali", BOOL),
    )
)
_CLAIM_FIELDS = (("tenant_id", ID), ("claim_code", STR), ("claim_expires_at", INT))


class _Message(_Struct):
    """One message type: its fields and the defaults `validate` fills in."""

    def __init__(self, type_name, required=(), optional=(), defaults=None):
        super().__init__(required, optional)
        self.type_name = type_name
        self.defaults = defaults


def _catalogue(*messages):
    return {m.type_name: m for m in messages}


_HUB_TO_CLOUD = _catalogue(
    _Message(
        "hub_hello",
        required=(("hub_id", ID), ("firmware", STR), ("ts", INT), ("mac", _Bin(MAC_SIZE))),
        optional=(
            ("hardware_revision", STR),
            ("ip", STR),
            ("wifi_rssi", INT),
            ("reset_reason", STR),
            ("boot_count", COUNT),
            ("app_slot", STR),
            ("last_acked_seq", COUNT),
        ),
    ),
    _Message(
        "printer_status",
        required=(("printer_id", ID), ("status", PRINTER_STATUS)),
        optional=(("ts", INT),),
    ),
    _Message(
        "file_progress",
        required=(
            ("command_id", ID),
            ("job_id", ID),
            ("printer_id", ID),
            ("bytes_sent", COUNT),
            ("bytes_total", COUNT),
        ),
    ),
    _Message(
        "command_ack",
        required=(("command_id", ID), ("success", BOOL)),
        optional=(("error", _ACK_ERROR), ("result", MAP)),
    ),
    _Message(
        "printer_event",
        required=(
            ("seq", _Int(minimum=1)),
            ("printer_id", ID),
            ("event", _Enum(PRINTER_EVENTS)),
            ("ts", INT),
        ),
        optional=(("job_id", ID), ("command_id", ID), ("data", MAP)),
    ),
    _Message(
        "printer_discovered",
        required=(("printers", _ListOf(_DISCOVERED_PRINTER)),),
        optional=(("command_id", ID),),
    ),
    _Message("hub_log", required=(("lines", _ListOf(STR)),)),
)

_CLOUD_TO_HUB = _catalogue(
    _Message(
        "auth_challenge",
        required=(("nonce", _Bin(NONCE_SIZE)), ("server_time", INT)),
    ),
    _Message(
        "hello_ok",
        required=(
            ("hub_id", ID),
            ("claimed", BOOL),
            ("acked_seq", COUNT),
            ("heartbeat_s", _Int(minimum=1)),
        ),
        optional=_CLAIM_FIELDS,
    ),
    _Message("claim_update", required=(("claimed", BOOL),), optional=_CLAIM_FIELDS),
    _Message(
        "configure_printer",
        required=(
            ("command_id", ID),
            ("action", _Enum(CONFIGURE_ACTIONS)),
            ("printer", PRINTER_CONFIG),
        ),
    ),
    _Message(
        "print_command",
        required=(
            ("command_id", ID),
            ("printer_id", ID),
            ("job_id", ID),
            ("action", _Enum(("start",))),
            ("file_url", STR),
            ("file_name", STR),
            ("file_size", COUNT),
        ),
        optional=(("file_md5", _Hex(32)), ("plate", _Int(minimum=1)), ("options", PRINT_OPTIONS)),
        defaults=(("plate", 1),),
    ),
    _Message(
        "printer_command",
        required=(("command_id", ID), ("printer_id", ID), ("action", _Enum(PRINTER_ACTIONS))),
        optional=(("args", MAP),),
    ),
    _Message(
        "discover_printers",
        required=(("command_id", ID),),
        optional=(("duration_s", _Int(minimum=1)),),
        defaults=(("duration_s", 10),),
    ),
    _Message(
        "ota_update",
        required=(
            ("command_id", ID),
            ("kind", _Enum(OTA_KINDS)),
            ("version", STR),
            ("url", STR),
            ("size", COUNT),
            ("sha256", _Hex(64)),
            ("signature", _Bin(SIGNATURE_SIZE)),
        ),
    ),
    _Message("event_ack", required=(("seq", COUNT),)),
    _Message("error", required=(("code", STR), ("message", STR))),
)

_DASHBOARD_TO_SERVER = _catalogue(
    _Message("auth", required=(("token", STR),)),
    _Message("subscribe", required=(("printers", _ListOf(ID)),)),
    _Message("unsubscribe", required=(("printers", _ListOf(ID)),)),
    _Message("ping"),
)

_SERVER_TO_DASHBOARD = _catalogue(
    _Message("auth_success", required=(("user_id", ID), ("tenant_id", ID))),
    _Message("auth_error", required=(("message", STR),)),
    # Progress fields are nil while the printer has no job.
    _Message(
        "printer_status",
        required=(("printer_id", ID), ("status", _Enum(PRINTER_STATUSES))),
        optional=(
            ("progress", _Nullable(_Num(0, 100))),
            ("remaining_minutes", _Nullable(COUNT)),
            ("current_layer", _Nullable(COUNT)),
            ("total_layers", _Nullable(COUNT)),
        ),
    ),
    _Message(
        "job_update",
        required=(("job_id", ID), ("status", _Enum(JOB_STATUSES))),
        optional=(("printer_id", _Nullable(ID)), ("actual_time_minutes", _Nullable(COUNT))),
    ),
    _Message(
        "hub_status",
        required=(("hub_id", ID), ("is_online", BOOL), ("printer_count", COUNT)),
    ),
    _Message(
        "inventory_alert",
        required=(("sku_id", ID), ("sku", STR), ("current_stock", INT), ("threshold", INT)),
    ),
    _Message("new_order", required=(("order_id", ID), ("source", STR), ("item_count", COUNT))),
    _Message(
        "file_progress",
        required=(("job_id", ID), ("bytes_sent", COUNT), ("bytes_total", COUNT)),
    ),
    _Message("pong"),
    _Message("error", required=(("code", STR), ("message", STR))),
)


def _merge(first, second):
    merged = dict(first)
    merged.update(second)
    return merged


CATALOGUES = {
    HUB_TO_CLOUD: _HUB_TO_CLOUD,
    CLOUD_TO_HUB: _CLOUD_TO_HUB,
    DASHBOARD_TO_SERVER: _DASHBOARD_TO_SERVER,
    SERVER_TO_DASHBOARD: _SERVER_TO_DASHBOARD,
    HUB_LINK: _merge(_HUB_TO_CLOUD, _CLOUD_TO_HUB),
    DASHBOARD: _merge(_DASHBOARD_TO_SERVER, _SERVER_TO_DASHBOARD),
}
# The type names on the hub link that the hub must keep in its outbox until acknowledged.
QUEUED_TYPES = ("printer_event",)


def message_types(direction):
    """The type names valid in `direction` (one of the direction constants)."""
    return tuple(CATALOGUES[direction])


def validate(msg, direction=HUB_LINK):
    """Return `msg` (defaults filled in) if it fits the catalogue, else raise InvalidMessage."""
    catalogue = CATALOGUES.get(direction)
    if catalogue is None:
        raise ValueError("unknown direction %r" % direction)
    if type(msg) is not dict:
        raise InvalidMessage("message", "expected map")
    type_name = msg.get("type")
    if type(type_name) is not str:
        raise InvalidMessage("type", "missing or not a str")
    spec = catalogue.get(type_name)
    if spec is None:
        raise InvalidMessage("type", "unknown message type %r for %s" % (type_name, direction))
    # Removing a printer needs only its id (type checked first: MicroPython warns on bytes == str).
    action = msg.get("action")
    if type_name == "configure_printer" and type(action) is str and action == "remove":
        _validate_remove(spec, msg)
    else:
        spec.check(msg, type_name)
    if spec.defaults:
        for field, value in spec.defaults:
            if field not in msg:
                msg[field] = value
    return msg


def _validate_remove(spec, msg):
    for field, field_spec in spec.required:
        if field == "printer":
            field_spec = _PRINTER_REF
        if field not in msg:
            raise InvalidMessage("configure_printer." + field, "missing required field")
        field_spec.check(msg[field], "configure_printer." + field)


def build(type_name, direction=HUB_LINK, **fields):
    """Make a message of `type_name` from keyword fields and validate it."""
    msg = {"type": type_name}
    msg.update(fields)
    return validate(msg, direction)
