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


# Bytes that never occur in valid UTF-8 (overlong 2-byte leads, leads beyond U+10FFFF)...
_NEVER_IN_UTF8 = (b"\xc0", b"\xc1", b"\xf5", b"\xf6", b"\xf7", b"\xf8", b"\xf9", b"\xfa")
_NEVER_IN_UTF8 += (b"\xfb", b"\xfc", b"\xfd", b"\xfe", b"\xff")
# ...and leads whose second byte must avoid a range: overlong 3/4-byte forms, surrogates,
# code points above U+10FFFF. A lead byte is never a continuation byte, so every occurrence is
# a lead: we find them with C-speed searches instead of walking the string byte by byte.
_LEAD_BANS = (
    (b"\xe0", 0x80, 0x9F),
    (b"\xed", 0xA0, 0xBF),
    (b"\xf0", 0x80, 0x8F),
    (b"\xf4", 0x90, 0xBF),
)


def _check_utf8(raw):
    """Reject what MicroPython's structural check lets through (raw is structurally valid)."""
    for byte in _NEVER_IN_UTF8:
        if byte in raw:
            raise MalformedFrame("invalid UTF-8 in str")
    end = len(raw) - 1
    for lead, low, high in _LEAD_BANS:
        i = raw.find(lead)
        while i >= 0:
            if i < end and low <= raw[i + 1] <= high:
                raise MalformedFrame("invalid UTF-8 in str")
            i = raw.find(lead, i + 1)


def _decode_str(raw):
    try:
        text = str(raw, "utf-8")
    except UnicodeError:
        raise MalformedFrame("invalid UTF-8 in str") from None
    if _LAX_UTF8 and len(text) != len(raw):
        _check_utf8(raw)
    return text


_NO_KEY = object()  # marks an open map waiting for its next key


def unpackb(data, max_size=MAX_HUB_FRAME, max_depth=MAX_DEPTH):
    """Decode exactly one msgpack value from `data`; any defect raises MalformedFrame."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedFrame("frame must be bytes")
    if len(data) > max_size:
        raise FrameTooLarge("frame of %d bytes exceeds %d" % (len(data), max_size))
    if not isinstance(data, bytes):
        data = bytes(data)  # one copy, within the size limit: slices are then immutable bytes
    end = len(data)
    pos = 0
    # Open containers, innermost last: [list or dict, items left, is_map, pending map key].
    # Iterative, not recursive: nesting costs no C stack (an ESP32 task has about 16 KB).
    stack = []
    while True:
        if pos >= end:
            raise MalformedFrame("truncated frame")
        b = data[pos]
        pos += 1
        n = -1  # set to an item count when b opens an array or map
        if b < 0x80:
            value = b
        elif b >= 0xE0:
            value = b - 0x100
        elif b < 0xA0:
            n = b & 0x0F  # fixmap 0x80-0x8f, fixarray 0x90-0x9f
            is_map = b < 0x90
        elif b < 0xC0:
            size = b & 0x1F
            if size > end - pos:
                raise MalformedFrame("truncated frame")
            value = _decode_str(data[pos : pos + size])
            pos += size
        elif b == 0xC0:
            value = None
        elif b == 0xC2 or b == 0xC3:
            value = b == 0xC3
        else:
            scalar = _SCALARS.get(b)
            if scalar is not None:
                if scalar[1] > end - pos:
                    raise MalformedFrame("truncated frame")
                value = struct.unpack_from(scalar[0], data, pos)[0]
                pos += scalar[1]
            else:
                sized = _SIZED.get(b)
                if sized is None:
                    # 0xc1 (never used) and the ext family 0xc7-0xc9, 0xd4-0xd8.
                    raise MalformedFrame("unsupported type byte 0x%02x" % b)
                kind, width = sized
                if width > end - pos:
                    raise MalformedFrame("truncated frame")
                size = struct.unpack_from(_LENGTH_FORMATS[width], data, pos)[0]
                pos += width
                if kind == _MAP or kind == _ARRAY:
                    n = size
                    is_map = kind == _MAP
                else:
                    if size > end - pos:
                        raise MalformedFrame("length %d beyond the end of the frame" % size)
                    raw = data[pos : pos + size]
                    pos += size
                    value = _decode_str(raw) if kind == _STR else raw
        if n >= 0:
            if len(stack) >= max_depth:
                raise MalformedFrame("nesting deeper than %d" % max_depth)
            # Every item takes at least one byte, so a count beyond the remaining bytes is a
            # lie: refused before the list or dict is allocated.
            if (n + n if is_map else n) > end - pos:
                raise MalformedFrame("%d items beyond the end of the frame" % n)
            if n:
                stack.append([{} if is_map else [None] * n, n, is_map, _NO_KEY])
                continue
            value = {} if is_map else []
        # Attach the finished value to the innermost open container; a container that this
        # completes is attached to its parent in turn.
        while stack:
            top = stack[-1]
            container = top[0]
            if top[2]:
                key = top[3]
                if key is _NO_KEY:
                    if type(value) is not str and type(value) is not bytes:
                        raise MalformedFrame("map key must be str or bytes")
                    top[3] = value
                    break
                container[key] = value
                top[3] = _NO_KEY
            else:
                container[len(container) - top[1]] = value
            top[1] -= 1
            if top[1]:
                break
            stack.pop()
            value = container
        else:
            if pos != end:
                raise MalformedFrame("%d bytes after the value" % (end - pos))
            return value


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


def _pack_str(text, out):
    try:
        raw = text.encode()
    except UnicodeError:  # CPython: lone surrogates
        raise EncodeError("str is not valid Unicode") from None
    n = len(raw)
    if _LAX_UTF8 and n != len(text):
        try:
            _check_utf8(raw)
        except MalformedFrame:
            raise EncodeError("str is not valid Unicode") from None
    if n < 32:
        out.append(0xA0 | n)
    else:
        _pack_header(n, 0xA0, 32, 0xD9, 0xDA, 0xDB, out)
    out.extend(raw)


def _pack(obj, out):
    t = type(obj)
    if t is str:
        _pack_str(obj, out)
    elif t is int:
        _pack_int(obj, out)
    elif t is dict:
        _pack_header(len(obj), 0x80, 16, 0, 0xDE, 0xDF, out)
        for key, value in obj.items():
            if type(key) is str:
                _pack_str(key, out)
            else:
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
