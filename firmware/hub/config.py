"""Hub configuration in NVS (esp32.NVS; a file on the host): identity, cloud, WiFi, printers."""

import json

import esp32

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


NAMESPACE = "printfarm"
# Blobs are read into a 128 B buffer first (ids, URLs, secrets fit); only a larger one (the
# printers list, a CA bundle) takes a transient buffer of up to 8 KiB. Values are cached after
# the first read, so the long-running hub does not need 8 KiB of contiguous heap again.
BLOB_SMALL = const(128)
BLOB_MAX = const(8192)
_ENOENT = 2
# Keys whose values never reach a log line, the REPL's config() view or the cloud.
SECRET_KEYS = ("secret", "wifi_pass")
SECRET_PRINTER_FIELDS = ("access_code",)
REDACTED = "<redacted>"

DEFAULT_BACKOFF_MIN_MS = 1000
DEFAULT_BACKOFF_MAX_MS = 60000


class ConfigError(Exception):
    """The hub is not provisioned enough to run (no id, secret or cloud URL)."""


def redact_printer(printer):
    """A copy of a printer map that is safe to log."""
    out = {}
    for k, v in printer.items():
        out[k] = REDACTED if k in SECRET_PRINTER_FIELDS else v
    return out


class Config:
    """Typed access to the hub's NVS namespace; writes reach flash on commit()."""

    def __init__(self, nvs=None):
        self._nvs = nvs if nvs is not None else esp32.NVS(NAMESPACE)
        self._cache = {}  # key -> bytes, or None when absent

    # -- raw access ----------------------------------------------------------------------
    def _read_blob(self, key):
        for size in (BLOB_SMALL, BLOB_MAX):
            buf = bytearray(size)
            try:
                n = self._nvs.get_blob(key, buf)
                return bytes(buf[:n])
            except OSError as e:
                if e.args and e.args[0] == _ENOENT:
                    return None
                # Anything else is "buffer too small" (ESP_ERR_NVS_INVALID_LENGTH): retry larger.
        return None

    def get_bytes(self, key, default=None):
        """A blob, or default when absent."""
        if key in self._cache:
            data = self._cache[key]
        else:
            data = self._read_blob(key)
            self._cache[key] = data
        return default if data is None else data

    def get_str(self, key, default=None):
        """A UTF-8 blob as str, or default when absent."""
        data = self.get_bytes(key)
        return default if data is None else data.decode()

    def get_int(self, key, default=None):
        """An i32, or default when absent."""
        try:
            return self._nvs.get_i32(key)
        except OSError:
            return default

    def set(self, key, value):
        """Store an int (i32) or a str/bytes (blob); None erases the key."""
        self._cache.pop(key, None)
        if value is None:
            try:
                self._nvs.erase_key(key)
            except OSError:
                pass
        elif isinstance(value, int) and not isinstance(value, bool):
            self._nvs.set_i32(key, value)
        else:
            self._nvs.set_blob(key, value)

    def commit(self):
        """Write pending changes to flash."""
        self._nvs.commit()

    # -- identity and cloud --------------------------------------------------------------
    @property
    def hub_id(self):
        """The hub's id (provisioned at the factory)."""
        return self.get_str("hub_id")

    @property
    def secret(self):
        """The factory secret (bytes); never logged."""
        return self.get_bytes("secret")

    @property
    def cloud_url(self):
        """Base ws:// or wss:// URL of the cloud; the hub appends /ws/hub/{id}."""
        return self.get_str("cloud_url")

    @property
    def ca_bundle(self):
        """Trusted CA certificates for the cloud (PEM/DER) when NVS overrides the built-in bundle."""
        return self.get_bytes("ca")

    def backoff_ms(self):
        """(min, max) reconnect backoff in ms."""
        return (
            self.get_int("bo_min_ms", DEFAULT_BACKOFF_MIN_MS),
            self.get_int("bo_max_ms", DEFAULT_BACKOFF_MAX_MS),
        )

    def check(self):
        """Raise ConfigError unless id, secret and cloud URL are set."""
        missing = [k for k in ("hub_id", "secret", "cloud_url") if self.get_bytes(k) is None]
        if missing:
            raise ConfigError("not provisioned: " + ", ".join(missing))

    # -- printers ------------------------------------------------------------------------
    def printers(self):
        """The configured printers (configure_printer.printer maps, access codes included)."""
        raw = self.get_bytes("printers")
        if not raw:
            return []
        try:
            return json.loads(raw)
        except ValueError:
            return []

    def _save_printers(self, printers):
        self.set("printers", json.dumps(printers))
        self.commit()

    def upsert_printer(self, printer):
        """Add or replace (by printer_id) one printer and commit."""
        printers = [p for p in self.printers() if p["printer_id"] != printer["printer_id"]]
        printers.append(printer)
        self._save_printers(printers)

    def remove_printer(self, printer_id):
        """Forget a printer and commit; True if it was configured."""
        printers = self.printers()
        kept = [p for p in printers if p["printer_id"] != printer_id]
        self._save_printers(kept)
        return len(kept) != len(printers)

    # -- views ---------------------------------------------------------------------------
    def redacted(self):
        """Everything worth showing an engineer, secrets replaced by REDACTED."""
        return {
            "hub_id": self.hub_id,
            "secret": REDACTED if self.secret else None,
            "cloud_url": self.cloud_url,
            "ca": "custom" if self.ca_bundle else "built-in",
            "wifi_ssid": self.get_str("wifi_ssid"),
            "wifi_pass": REDACTED if self.get_bytes("wifi_pass") else None,
            "printers": [redact_printer(p) for p in self.printers()],
        }

    def __repr__(self):
        return "<Config %r>" % (self.redacted(),)


def provision(values, nvs=None):
    """Write a provisioning map ({hub_id, secret, cloud_url, ca, wifi_ssid, wifi_pass, printers,
    bo_min_ms, bo_max_ms}) to NVS in one commit; keys absent from the map are left as they are."""
    cfg = Config(nvs)
    for key, value in values.items():
        if key == "printers":
            value = json.dumps(value)
        cfg.set(key, value)
    cfg.commit()
    return cfg
