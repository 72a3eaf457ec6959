"""Test-only esp32 stand-in until fwcore's hardware/host/esp32.py is on main: NVS + Partition.

It sits after hardware/host on MICROPYPATH, so the real stand-in wins once it exists.
"""

import json

import _hubdir
from _partition import Partition  # noqa: F401


class NVS:
    """esp32.NVS over a JSON file per namespace (set_*/get_*/erase_key/commit)."""

    def __init__(self, namespace):
        self._file = _hubdir.path("nvs_" + namespace + ".json")
        try:
            with open(self._file) as f:
                self._data = json.load(f)
        except (OSError, ValueError):
            self._data = {}
        self._pending = dict(self._data)

    def _get(self, key):
        if key not in self._data:
            raise OSError(-0x1102)  # ESP_ERR_NVS_NOT_FOUND
        return self._data[key]

    def set_i32(self, key, value):
        self._pending[key] = int(value)

    def get_i32(self, key):
        return self._get(key)

    def set_blob(self, key, value):
        self._pending[key] = bytes(value).hex()

    def get_blob(self, key, buf):
        raw = bytes.fromhex(self._get(key))
        buf[: len(raw)] = raw
        return len(raw)

    def erase_key(self, key):
        if key not in self._pending:
            raise OSError(-0x1102)
        del self._pending[key]

    def commit(self):
        self._data = dict(self._pending)
        with open(self._file, "w") as f:
            json.dump(self._data, f)
