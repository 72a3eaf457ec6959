"""Load protocol/vectors/msgpack.json and compare values; runs on CPython and MicroPython."""

import json
import struct
from binascii import unhexlify

import protocol

_PACKAGE_DIR = protocol.__file__.rsplit("/", 1)[0]
VECTORS_PATH = _PACKAGE_DIR + "/vectors/msgpack.json"


def load(path=VECTORS_PATH):
    """The parsed vectors document: {"valid": [...], "invalid": [...]}."""
    with open(path) as f:
        return json.load(f)


def expand(segments):
    """Bytes from a hex string or a list of hex / [hex, count] segments."""
    if isinstance(segments, str):
        return unhexlify(segments)
    out = bytearray()
    for seg in segments:
        if isinstance(seg, str):
            out.extend(unhexlify(seg))
        else:
            out.extend(unhexlify(seg[0]) * seg[1])
    return bytes(out)


def build(desc):
    """The Python value a typed description stands for (see the vectors file)."""
    if desc is None or desc is True or desc is False:
        return desc
    kind, arg = list(desc.items())[0]
    if kind == "int":
        return int(arg)
    if kind == "float":
        return struct.unpack(">d", unhexlify(arg))[0]
    if kind == "str":
        return str(expand(arg), "utf-8")
    if kind == "bin":
        return expand(arg)
    if kind == "array":
        return [build(x) for x in arg]
    if kind == "array_repeat":
        return [build(arg[0])] * arg[1]
    if kind == "map":
        result = {}
        for pair in arg:
            result[build(pair[0])] = build(pair[1])
        return result
    raise ValueError("unknown value kind " + kind)


def same(a, b):
    """Deep equality that also compares types (1 != 1.0 != True) and treats NaN as equal."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is float:
        return struct.pack(">d", a) == struct.pack(">d", b) or (a != a and b != b)
    if ta is list:
        if len(a) != len(b):
            return False
        return all(same(a[i], b[i]) for i in range(len(a)))
    if ta is dict:
        if len(a) != len(b):
            return False
        return all(not (key not in b or not same(a[key], b[key])) for key in a)
    return a == b


def order_sensitive(value):
    """True if `value` holds a map of 2+ keys: its bytes depend on the runtime's dict order."""
    if type(value) is dict:
        if len(value) > 1:
            return True
        for v in value.values():
            if order_sensitive(v):
                return True
    elif type(value) is list:
        for v in value:
            if order_sensitive(v):
                return True
    return False
