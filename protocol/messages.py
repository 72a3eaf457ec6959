"""Catalogue of every hub<->cloud and dashboard message (docs/protocol.md) and `validate()`."""

from protocol.errors import InvalidMessage
from protocol.fields import (
    BOOL,
    COUNT,
    ID,
    INT,
    MAP,
    NUMBER,
    STR,
    Bin,
    Enum,
    Hex,
    Int,
    ListOf,
    Nullable,
    Num,
    Struct,
)
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


# Field names of the normalised printer_status.status map (every one optional).
STATUS_KEYS = (
    "state",
    "gcode_state",
    "progress",
    "remaining_minutes",
    "current_layer",
    "total_layers",
    "job_name",
    "gcode_file",
    "nozzle_temp",
    "nozzle_target",
    "bed_temp",
    "bed_target",
    "chamber_temp",
    "speed_level",
    "print_error",
    "hms",
    "ams",
    "wifi_signal",
    "connected",
    "error",
)


class _Message(Struct):
    """One message type: its fields and the defaults `validate` fills in."""

    def __init__(self, type_name, required=(), optional=(), defaults=None, variants=None):
        super().__init__(required, optional)
        self.type_name = type_name
        self.defaults = defaults
        # (field, {value: {other field: spec}}): other specs when `field` has that value.
        self.variants = variants


def _catalogue(*messages):
    return {m.type_name: m for m in messages}


# Each direction's catalogue is built on first use: the hub, which checks only what the cloud
# sends, holds just CLOUD_TO_HUB's specs (about 6 KB on the 64-bit unix port) in RAM.


def _hub_to_cloud():
    hms_entry = Struct(required=(("attr", INT), ("code", INT)))
    # One AMS tray; `id` is the global tray index (ams_id * 4 + slot, 254 = external spool) and an
    # empty slot carries only `id`. `color` is Bambu's RRGGBBAA hex; `remain` is percent (-1 or nil:
    # unknown, as printers without RFID data report it).
    ams_tray = Struct(
        required=(("id", INT),),
        optional=(
            ("type", Nullable(STR)),
            ("color", Nullable(STR)),
            ("remain", Nullable(Int(minimum=-1, maximum=100))),
        ),
    )
    # Normalised printer status: every key optional, absent = unchanged/unknown.
    printer_status = Struct(
        optional=(
            ("state", Enum(HUB_PRINTER_STATES)),
            ("gcode_state", STR),
            ("progress", Num(0, 100)),
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
            ("hms", ListOf(hms_entry)),
            ("ams", ListOf(ams_tray)),
            ("wifi_signal", INT),  # dBm, parsed from Bambu's "-53dBm"
            ("connected", BOOL),
            ("error", STR),
        )
    )
    ack_error = Struct(required=(("code", Enum(ACK_ERROR_CODES)), ("message", STR)))
    discovered_printer = Struct(
        required=(("serial", STR), ("model", STR), ("name", STR), ("ip", STR)),
    )
    return _catalogue(
        _Message(
            "hub_hello",
            required=(("hub_id", ID), ("firmware", STR), ("ts", INT), ("mac", Bin(MAC_SIZE))),
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
            required=(("printer_id", ID), ("status", printer_status)),
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
            optional=(("error", ack_error), ("result", MAP)),
        ),
        _Message(
            "printer_event",
            required=(
                ("seq", Int(minimum=1)),
                ("printer_id", ID),
                ("event", Enum(PRINTER_EVENTS)),
                ("ts", INT),
            ),
            optional=(("job_id", ID), ("command_id", ID), ("data", MAP)),
        ),
        _Message(
            "printer_discovered",
            required=(("printers", ListOf(discovered_printer)),),
            optional=(("command_id", ID),),
        ),
        _Message("hub_log", required=(("lines", ListOf(STR)),)),
    )


def _cloud_to_hub():
    printer_config = Struct(
        required=(
            ("printer_id", ID),
            ("connection_type", Enum(("bambu",))),
            ("serial", STR),
            ("ip", STR),
            ("access_code", STR),
            ("model", STR),
            ("name", STR),
        ),
        optional=(
            ("mqtt_port", Int(1, 65535)),
            ("ftps_port", Int(1, 65535)),
            ("require_session_reuse", BOOL),
        ),
    )
    # Removing a printer needs only its id.
    printer_ref = Struct(required=(("printer_id", ID),))
    print_options = Struct(
        optional=(
            ("bed_type", STR),
            ("use_ams", BOOL),
            ("ams_mapping", ListOf(INT)),
            ("timelapse", BOOL),
            ("bed_leveling", BOOL),
            ("flow_cali", BOOL),
            ("vibration_cali", BOOL),
        )
    )
    claim_fields = (("tenant_id", ID), ("claim_code", STR), ("claim_expires_at", INT))
    return _catalogue(
        _Message(
            "auth_challenge",
            required=(("nonce", Bin(NONCE_SIZE)), ("server_time", INT)),
        ),
        _Message(
            "hello_ok",
            required=(
                ("hub_id", ID),
                ("claimed", BOOL),
                ("acked_seq", COUNT),
                ("heartbeat_s", Int(minimum=1)),
            ),
            optional=claim_fields,
        ),
        _Message("claim_update", required=(("claimed", BOOL),), optional=claim_fields),
        _Message(
            "configure_printer",
            required=(
                ("command_id", ID),
                ("action", Enum(CONFIGURE_ACTIONS)),
                ("printer", printer_config),
            ),
            variants=("action", {"remove": {"printer": printer_ref}}),
        ),
        _Message(
            "print_command",
            required=(
                ("command_id", ID),
                ("printer_id", ID),
                ("job_id", ID),
                ("action", Enum(("start",))),
                ("file_url", STR),
                ("file_name", STR),
                ("file_size", COUNT),
            ),
            optional=(
                ("file_md5", Hex(32)),
                ("plate", Int(minimum=1)),
                ("options", print_options),
            ),
            defaults=(("plate", 1),),
        ),
        _Message(
            "printer_command",
            required=(("command_id", ID), ("printer_id", ID), ("action", Enum(PRINTER_ACTIONS))),
            optional=(("args", MAP),),
        ),
        _Message(
            "discover_printers",
            required=(("command_id", ID),),
            optional=(("duration_s", Int(minimum=1)),),
            defaults=(("duration_s", 10),),
        ),
        _Message(
            "ota_update",
            required=(
                ("command_id", ID),
                ("kind", Enum(OTA_KINDS)),
                ("version", STR),
                ("url", STR),
                ("size", COUNT),
                ("sha256", Hex(64)),
                ("signature", Bin(SIGNATURE_SIZE)),
            ),
        ),
        _Message("event_ack", required=(("seq", COUNT),)),
        _Message("error", required=(("code", STR), ("message", STR))),
    )


def _dashboard_to_server():
    return _catalogue(
        _Message("auth", required=(("token", STR),)),
        _Message("subscribe", required=(("printers", ListOf(ID)),)),
        _Message("unsubscribe", required=(("printers", ListOf(ID)),)),
        _Message("ping"),
    )


def _server_to_dashboard():
    return _catalogue(
        _Message("auth_success", required=(("user_id", ID), ("tenant_id", ID))),
        _Message("auth_error", required=(("message", STR),)),
        # Progress fields are nil while the printer has no job.
        _Message(
            "printer_status",
            required=(("printer_id", ID), ("status", Enum(PRINTER_STATUSES))),
            optional=(
                ("progress", Nullable(Num(0, 100))),
                ("remaining_minutes", Nullable(COUNT)),
                ("current_layer", Nullable(COUNT)),
                ("total_layers", Nullable(COUNT)),
            ),
        ),
        _Message(
            "job_update",
            required=(("job_id", ID), ("status", Enum(JOB_STATUSES))),
            optional=(
                ("printer_id", Nullable(ID)),
                ("actual_time_minutes", Nullable(COUNT)),
                ("progress", Nullable(Num(0, 100))),
                ("failure_reason", Nullable(STR)),
            ),
        ),
        _Message(
            "hub_status",
            required=(("hub_id", ID), ("is_online", BOOL), ("printer_count", COUNT)),
        ),
        _Message(
            "inventory_alert",
            required=(("sku_id", ID), ("sku", STR), ("current_stock", INT), ("threshold", INT)),
            optional=(("state", Enum(("low", "restocked"))),),
        ),
        _Message("new_order", required=(("order_id", ID), ("source", STR), ("item_count", COUNT))),
        _Message(
            "file_progress",
            required=(("job_id", ID), ("bytes_sent", COUNT), ("bytes_total", COUNT)),
        ),
        _Message("pong"),
        _Message("error", required=(("code", STR), ("message", STR))),
        # Raised by automation rules' `notify` action.
        _Message("notification", required=(("message", STR),), optional=(("rule_id", ID),)),
    )


_BUILDERS = {
    HUB_TO_CLOUD: _hub_to_cloud,
    CLOUD_TO_HUB: _cloud_to_hub,
    DASHBOARD_TO_SERVER: _dashboard_to_server,
    SERVER_TO_DASHBOARD: _server_to_dashboard,
}
_UNIONS = {
    HUB_LINK: (HUB_TO_CLOUD, CLOUD_TO_HUB),
    DASHBOARD: (DASHBOARD_TO_SERVER, SERVER_TO_DASHBOARD),
}
_CATALOGUES = {}


def catalogue(direction):
    """{type name: message spec} of `direction`; ValueError for an unknown direction."""
    found = _CATALOGUES.get(direction)
    if found is None:
        if direction in _UNIONS:
            found = {}
            for part in _UNIONS[direction]:
                found.update(catalogue(part))
        elif direction in _BUILDERS:
            found = _BUILDERS[direction]()
        else:
            raise ValueError("unknown direction %r" % direction)
        _CATALOGUES[direction] = found
    return found


# The type names on the hub link that the hub must keep in its outbox until acknowledged.
QUEUED_TYPES = ("printer_event",)


def message_types(direction):
    """The type names valid in `direction` (one of the direction constants)."""
    return tuple(catalogue(direction))


def validate(msg, direction=HUB_LINK):
    """Return `msg` (defaults filled in) if it fits the catalogue, else raise InvalidMessage."""
    messages = catalogue(direction)
    if type(msg) is not dict:
        raise InvalidMessage("message", "expected map")
    type_name = msg.get("type")
    if type(type_name) is not str:
        raise InvalidMessage("type", "missing or not a str")
    spec = messages.get(type_name)
    if spec is None:
        raise InvalidMessage("type", "unknown message type %r for %s" % (type_name, direction))
    overrides = None
    if spec.variants:
        field, table = spec.variants
        value = msg.get(field)
        # type checked first: MicroPython warns when it compares bytes with str
        if type(value) is str:
            overrides = table.get(value)
    if overrides is None:
        spec.check(msg, type_name)
    else:
        _check_fields(spec, msg, type_name, overrides)
    if spec.defaults:
        for field, value in spec.defaults:
            if field not in msg:
                msg[field] = value
    return msg


def _check_fields(spec, msg, path, overrides):
    for fields, required in ((spec.required, True), (spec.optional, False)):
        for field, field_spec in fields:
            field_spec = overrides.get(field, field_spec)
            if field in msg:
                field_spec.check(msg[field], path + "." + field)
            elif required:
                raise InvalidMessage(path + "." + field, "missing required field")


def build(type_name, direction=HUB_LINK, **fields):
    """Make a message of `type_name` from keyword fields and validate it."""
    msg = {"type": type_name}
    msg.update(fields)
    return validate(msg, direction)
