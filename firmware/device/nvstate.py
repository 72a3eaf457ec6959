"""Small typed access to esp32.NVS for the platform's own keys (strings and integers)."""

import esp32
from micropython import const

MAX_STR = const(96)  # longest stored string value (RAM cost: 96 B per read)


def _nvs(namespace):
    return esp32.NVS(namespace)


def get_str(namespace, key):
    """Stored string, or None if the key is absent."""
    buf = bytearray(MAX_STR)
    try:
        n = _nvs(namespace).get_blob(key, buf)
    except OSError:
        return None
    return bytes(buf[:n]).decode()


def set_str(namespace, key, value):
    """Store a string (committed at once)."""
    raw = value.encode()
    if len(raw) > MAX_STR:
        raise ValueError("value too long for %s/%s" % (namespace, key))
    nvs = _nvs(namespace)
    nvs.set_blob(key, raw)
    nvs.commit()


def get_int(namespace, key, default=0):
    """Stored integer, or default if absent."""
    try:
        return _nvs(namespace).get_i32(key)
    except OSError:
        return default


def set_int(namespace, key, value):
    """Store an integer (committed at once)."""
    nvs = _nvs(namespace)
    nvs.set_i32(key, value)
    nvs.commit()


def erase(namespace, key):
    """Remove a key if present."""
    nvs = _nvs(namespace)
    try:
        nvs.erase_key(key)
        nvs.commit()
    except OSError:
        pass
