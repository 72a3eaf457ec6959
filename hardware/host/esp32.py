"""Host stand-in for the `esp32` module: NVS backed by a JSON file so state survives a restart."""

import json
import os

try:
    from errno import ENOENT
except ImportError:  # pragma: no cover - every port has errno
    ENOENT = 2

# ESP-IDF limits the stand-in enforces so code that passes here also passes on the chip.
NVS_KEY_MAX = 15  # NVS_KEY_NAME_MAX_SIZE - 1
NVS_BLOB_MAX = 508000  # largest blob on a 16 MB flash with the default NVS partition
ESP_ERR_NVS_INVALID_LENGTH = -0x110C  # what the chip reports when get_blob's buffer is too small

_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1


def _nvs_path():
    """Where the NVS file lives: $PRINTFARM_NVS, else nvs.json in the hub's working directory."""
    return os.getenv("PRINTFARM_NVS") or "nvs.json"


def _load():
    try:
        with open(_nvs_path()) as f:
            return json.load(f)
    except OSError:
        return {}
    except ValueError:
        # A torn file reads as empty, as a corrupted NVS partition is erased by the firmware.
        return {}


def _hex(data):
    return "".join("%02x" % b for b in data)


def _unhex(text):
    return bytes(int(text[i : i + 2], 16) for i in range(0, len(text), 2))


class NVS:
    """One NVS namespace; writes are visible at once and reach the file on commit()."""

    def __init__(self, namespace):
        if not namespace or len(namespace) > NVS_KEY_MAX:
            raise ValueError("bad namespace")
        self._ns = namespace
        self._data = _load().get(namespace, {})

    def _check_key(self, key):
        if not key or len(key) > NVS_KEY_MAX:
            raise OSError(ENOENT)

    def set_i32(self, key, value):
        """Store a signed 32-bit integer."""
        self._check_key(key)
        if value < _I32_MIN or value > _I32_MAX:
            raise OverflowError("i32 out of range")
        self._data[key] = ["i32", value]

    def get_i32(self, key):
        """Read a signed 32-bit integer; OSError(ENOENT) when absent."""
        entry = self._data.get(key)
        if entry is None or entry[0] != "i32":
            raise OSError(ENOENT)
        return entry[1]

    def set_blob(self, key, value):
        """Store bytes (or str, stored as its UTF-8 bytes)."""
        self._check_key(key)
        if isinstance(value, str):
            value = value.encode()
        if len(value) > NVS_BLOB_MAX:
            raise OSError(ESP_ERR_NVS_INVALID_LENGTH)
        self._data[key] = ["blob", _hex(value)]

    def get_blob(self, key, buffer):
        """Copy a blob into buffer and return its length; errors as on the chip."""
        entry = self._data.get(key)
        if entry is None or entry[0] != "blob":
            raise OSError(ENOENT)
        data = _unhex(entry[1])
        if len(data) > len(buffer):
            raise OSError(ESP_ERR_NVS_INVALID_LENGTH)
        buffer[: len(data)] = data
        return len(data)

    def erase_key(self, key):
        """Remove a key; OSError(ENOENT) when absent."""
        if key not in self._data:
            raise OSError(ENOENT)
        del self._data[key]

    def commit(self):
        """Write the namespace to the file atomically (temp file + rename)."""
        path = _nvs_path()
        everything = _load()
        everything[self._ns] = self._data
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(everything, f)
        os.rename(tmp, path)


# Partitions with ESP-IDF's OTA and rollback rules live in their own module (hardware platform),
# imported on first use of esp32.Partition: ~30 KB of bytecode in the unix port's heap that a
# hub which never touches partitions should not pay (module __getattr__, PEP 562).
def __getattr__(name):
    if name == "Partition":
        from _partition import Partition

        globals()["Partition"] = Partition
        return Partition
    raise AttributeError(name)
