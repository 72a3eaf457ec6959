"""Pure-Python msgpack codec for MicroPython, byte-compatible with the C `msgpack` package."""

import struct
import sys

from protocol.errors import EncodeError, FrameTooLarge, MalformedFrame
from protocol.limits import MAX_DEPTH, MAX_HUB_FRAME

# MicroPython's str(bytes, "utf-8") only checks the byte structure of UTF-8: it accepts
# surrogates, overlong forms and code points above U+10FFFF, which C msgpack (CPython's codec)
# rejects. There we validate non-ASCII strings ourselves so both runtimes accept the same frames.
_LAX_UTF8 = sys.implementation.name == "micropython"

# Fixed-size scalars: type byte -> (struct format, size in bytes).
_SCALARS = {
    0xCA: (">f", 4),
    0xCB: (">d", 8),
    0xCC: (">B", 1),
    0xCD: (">H", 2),
    0xCE: (">I", 4),
    0xCF: (">Q", 8),
    0xD0: (">b", 1),
    0xD1: (">h", 2),
    0xD2: (">i", 4),
    0xD3: (">q", 8),
}
# Variable-length types: type byte -> (kind, size of the length field in bytes).
_STR, _BIN, _ARRAY, _MAP = 0, 1, 2, 3
_SIZED = {
    0xD9: (_STR, 1),
    0xDA: (_STR, 2),
    0xDB: (_STR, 4),
    0xC4: (_BIN, 1),
    0xC5: (_BIN, 2),
    0xC6: (_BIN, 4),
    0xDC: (_ARRAY, 2),
    0xDD: (_ARRAY, 4),
    0xDE: (_MAP, 2),
    0xDF: (_MAP, 4),
}
_LENGTH_FORMATS = {1: ">B", 2: ">H", 4: ">I"}

_UINT64_MAX = 0xFFFFFFFFFFFFFFFF
_INT64_MIN = -0x8000000000000000
_LEN32_MAX = 0xFFFFFFFF


def _check_utf8(raw):
    """Reject overlong forms, surrogates and code points above U+10FFFF (structure is checked)."""
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c < 0x80:
            i += 1
            continue
        if c < 0xC2 or c > 0xF4:
            raise MalformedFrame("invalid UTF-8 in str")
        if c < 0xE0:
            i += 2
            continue
        nxt = raw[i + 1] if i + 1 < n else 0
        if (
            (c == 0xE0 and nxt < 0xA0)
            or (c == 0xED and nxt >= 0xA0)
            or (c == 0xF0 and nxt < 0x90)
            or (c == 0xF4 and nxt >= 0x90)
        ):
            raise MalformedFrame("invalid UTF-8 in str")
        i += 3 if c < 0xF0 else 4


def _decode_str(raw):
    try:
        text = str(raw, "utf-8")
    except UnicodeError:
        raise MalformedFrame("invalid UTF-8 in str") from None
    if _LAX_UTF8 and len(text) != len(raw):
        _check_utf8(raw)
    return text


class _Decoder:
    """Cursor over one frame; every read is bounds-checked before anything is allocated."""

    def __init__(self, data, max_depth):
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.max_depth = max_depth

    def value(self, depth):
        """Decode the value at the cursor; `depth` counts the containers around it."""
        data = self.data
        pos = self.pos
        if pos >= self.end:
            raise MalformedFrame("truncated frame")
        b = data[pos]
        pos += 1
        if b < 0x80:
            self.pos = pos
            return b
        if b >= 0xE0:
            self.pos = pos
            return b - 0x100
        if b < 0xA0:
            # fixmap 0x80-0x8f, fixarray 0x90-0x9f
            self.pos = pos
            if b < 0x90:
                return self.map(b & 0x0F, depth)
            return self.array(b & 0x0F, depth)
        if b < 0xC0:
            n = b & 0x1F
            if n > self.end - pos:
                raise MalformedFrame("truncated frame")
            self.pos = pos + n
            return _decode_str(data[pos : pos + n])
        if b == 0xC0:
            self.pos = pos
            return None
        if b == 0xC2:
            self.pos = pos
            return False
        if b == 0xC3:
            self.pos = pos
            return True
        scalar = _SCALARS.get(b)
        if scalar is not None:
            if scalar[1] > self.end - pos:
                raise MalformedFrame("truncated frame")
            self.pos = pos + scalar[1]
            return struct.unpack_from(scalar[0], data, pos)[0]
        sized = _SIZED.get(b)
        if sized is None:
            # 0xc1 (never used) and the ext family 0xc7-0xc9, 0xd4-0xd8.
            raise MalformedFrame("unsupported type byte 0x%02x" % b)
        width = sized[1]
        if width > self.end - pos:
            raise MalformedFrame("truncated frame")
        n = struct.unpack_from(_LENGTH_FORMATS[width], data, pos)[0]
        pos += width
        self.pos = pos
        kind = sized[0]
        if kind == _MAP:
            return self.map(n, depth)
        if kind == _ARRAY:
            return self.array(n, depth)
        if n > self.end - pos:
            raise MalformedFrame("length %d beyond the end of the frame" % n)
        self.pos = pos + n
        if kind == _STR:
            return _decode_str(data[pos : pos + n])
        return data[pos : pos + n]

    def array(self, n, depth):
        """Decode `n` elements into a list (each takes at least one byte: checked first)."""
        depth += 1
        if depth > self.max_depth:
            raise MalformedFrame("nesting deeper than %d" % self.max_depth)
        if n > self.end - self.pos:
            raise MalformedFrame("array of %d beyond the end of the frame" % n)
        items = [None] * n
        for i in range(n):
            items[i] = self.value(depth)
        return items

    def map(self, n, depth):
        """Decode `n` pairs into a dict; keys must be str or bytes (as C msgpack's strict keys)."""
        depth += 1
        if depth > self.max_depth:
            raise MalformedFrame("nesting deeper than %d" % self.max_depth)
        if 2 * n > self.end - self.pos:
            raise MalformedFrame("map of %d beyond the end of the frame" % n)
        result = {}
        for _ in range(n):
            key = self.value(depth)
            kt = type(key)
            if kt is not str and kt is not bytes:
                raise MalformedFrame("map key must be str or bytes")
            result[key] = self.value(depth)
        return result


def unpackb(data, max_size=MAX_HUB_FRAME, max_depth=MAX_DEPTH):
    """Decode exactly one msgpack value from `data`; any defect raises MalformedFrame."""
    if not isinstance(data, bytes):
        if not isinstance(data, (bytearray, memoryview)):
            raise MalformedFrame("frame must be bytes")
        data = bytes(data)
    if len(data) > max_size:
        raise FrameTooLarge("frame of %d bytes exceeds %d" % (len(data), max_size))
    decoder = _Decoder(data, max_depth)
    obj = decoder.value(0)
    if decoder.pos != decoder.end:
        raise MalformedFrame("%d bytes after the value" % (decoder.end - decoder.pos))
    return obj


def _pack_int(v, out):
    if v >= 0:
        if v < 0x80:
            out.append(v)
        elif v <= 0xFF:
            out.append(0xCC)
            out.append(v)
        elif v <= 0xFFFF:
            out.extend(struct.pack(">BH", 0xCD, v))
        elif v <= 0xFFFFFFFF:
            out.extend(struct.pack(">BI", 0xCE, v))
        elif v <= _UINT64_MAX:
            out.extend(struct.pack(">BQ", 0xCF, v))
        else:
            raise EncodeError("integer out of 64-bit range")
    elif v >= -32:
        out.append(v & 0xFF)
    elif v >= -0x80:
        out.extend(struct.pack(">Bb", 0xD0, v))
    elif v >= -0x8000:
        out.extend(struct.pack(">Bh", 0xD1, v))
    elif v >= -0x80000000:
        out.extend(struct.pack(">Bi", 0xD2, v))
    elif v >= _INT64_MIN:
        out.extend(struct.pack(">Bq", 0xD3, v))
    else:
        raise EncodeError("integer out of 64-bit range")


def _pack_header(n, fix_base, fix_limit, byte8, byte16, byte32, out):
    # The smallest form, exactly as C msgpack chooses it (fix_limit 0 = no fix form).
    if n < fix_limit:
        out.append(fix_base | n)
    elif byte8 and n <= 0xFF:
        out.append(byte8)
        out.append(n)
    elif n <= 0xFFFF:
        out.extend(struct.pack(">BH", byte16, n))
    elif n <= _LEN32_MAX:
        out.extend(struct.pack(">BI", byte32, n))
    else:
        raise EncodeError("object too large for msgpack")


def _pack(obj, out):
    t = type(obj)
    if t is str:
        raw = obj.encode("utf-8")
        if _LAX_UTF8 and len(raw) != len(obj):
            try:
                _check_utf8(raw)
            except MalformedFrame:
                raise EncodeError("str is not valid Unicode") from None
        _pack_header(len(raw), 0xA0, 32, 0xD9, 0xDA, 0xDB, out)
        out.extend(raw)
    elif t is int:
        _pack_int(obj, out)
    elif t is dict:
        _pack_header(len(obj), 0x80, 16, 0, 0xDE, 0xDF, out)
        for key, value in obj.items():
            _pack(key, out)
            _pack(value, out)
    elif obj is None:
        out.append(0xC0)
    elif obj is True:
        out.append(0xC3)
    elif obj is False:
        out.append(0xC2)
    elif t is float:
        out.extend(struct.pack(">Bd", 0xCB, obj))
    elif t is list or t is tuple:
        _pack_header(len(obj), 0x90, 16, 0, 0xDC, 0xDD, out)
        for item in obj:
            _pack(item, out)
    elif t is bytes or t is bytearray or t is memoryview:
        _pack_header(len(obj), 0, 0, 0xC4, 0xC5, 0xC6, out)
        out.extend(obj)
    # Subclasses (IntEnum, OrderedDict, ...) are packed as their base, as C msgpack does.
    elif isinstance(obj, int):
        _pack_int(int(obj), out)
    elif isinstance(obj, str):
        _pack(str(obj), out)
    elif isinstance(obj, float):
        _pack(float(obj), out)
    elif isinstance(obj, dict):
        _pack(dict(obj), out)
    elif isinstance(obj, (list, tuple)):
        _pack(list(obj), out)
    elif isinstance(obj, (bytes, bytearray)):
        _pack(bytes(obj), out)
    else:
        raise EncodeError("cannot encode %s" % type(obj).__name__)


def packb(obj):
    """Encode `obj` to msgpack bytes, choosing the smallest form like C msgpack."""
    out = bytearray()
    try:
        _pack(obj, out)
    except RuntimeError:
        # Recursion limit: a cyclic or absurdly deep value.
        raise EncodeError("value nested too deeply") from None
    return bytes(out)
