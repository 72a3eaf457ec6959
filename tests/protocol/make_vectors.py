"""Regenerate protocol/vectors/msgpack.json: hand-written expected bytes, checked against C msgpack.

Run: .venv/bin/python tests/protocol/make_vectors.py  (the file is committed; tests only read it)
"""

import json
import math
import pathlib
import struct

import msgpack

from protocol import MalformedFrame, codec

OUT = pathlib.Path(__file__).resolve().parents[2] / "protocol" / "vectors" / "msgpack.json"

valid = []
invalid = []


def h(*parts):
    """Hex segments: a hex string or [hex, count] (repeated), kept compact in the file."""
    return list(parts) if len(parts) > 1 or not isinstance(parts[0], str) else parts[0]


def expand(segments):
    if isinstance(segments, str):
        return bytes.fromhex(segments)
    out = b""
    for seg in segments:
        out += bytes.fromhex(seg) if isinstance(seg, str) else bytes.fromhex(seg[0]) * seg[1]
    return out


def build(desc):
    """Turn a typed value description into the Python value (same rules as vectorlib.py)."""
    if desc is None or isinstance(desc, bool):
        return desc
    ((kind, arg),) = desc.items()
    if kind == "int":
        return int(arg)
    if kind == "float":
        return struct.unpack(">d", bytes.fromhex(arg))[0]
    if kind == "str":
        return expand(arg).decode("utf-8")
    if kind == "bin":
        return expand(arg)
    if kind == "array":
        return [build(x) for x in arg]
    if kind == "array_repeat":
        return [build(arg[0])] * arg[1]
    if kind == "map":
        return {build(k): build(v) for k, v in arg}
    raise ValueError(kind)


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack(">d", a) == struct.pack(">d", b) or (math.isnan(a) and math.isnan(b))
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def ok(name, hexs, value, canonical=None):
    """A valid frame; `canonical` is the re-encoding when `hexs` is not the smallest form."""
    vec = {"name": name, "hex": hexs, "value": value}
    if canonical is not None:
        vec["canonical"] = canonical
    data = expand(hexs)
    decoded = msgpack.unpackb(data, raw=False, strict_map_key=True)
    assert same(decoded, build(value)), name
    expected = expand(canonical if canonical is not None else hexs)
    assert msgpack.packb(decoded, use_bin_type=True) == expected, name
    valid.append(vec)


def bad(name, hexs):
    """A frame every decoder must refuse with MalformedFrame."""
    invalid.append({"name": name, "hex": hexs})


def i(n):
    return {"int": str(n)}


def f64(x):
    return {"float": struct.pack(">d", x).hex()}


def s(text):
    return {"str": text.encode("utf-8").hex()}


ok("nil", "c0", None)
ok("false", "c2", False)
ok("true", "c3", True)

# Integers: every boundary of every width, as C msgpack chooses the form.
for n, hx in [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "cc80"),
    (255, "ccff"),
    (256, "cd0100"),
    (65535, "cdffff"),
    (65536, "ce00010000"),
    (2**32 - 1, "ceffffffff"),
    (2**32, "cf0000000100000000"),
    (2**63 - 1, "cf7fffffffffffffff"),
    (2**63, "cf8000000000000000"),
    (2**64 - 1, "cfffffffffffffffff"),
    (-1, "ff"),
    (-31, "e1"),
    (-32, "e0"),
    (-33, "d0df"),
    (-127, "d081"),
    (-128, "d080"),
    (-129, "d1ff7f"),
    (-32767, "d18001"),
    (-32768, "d18000"),
    (-32769, "d2ffff7fff"),
    (-(2**31) + 1, "d280000001"),
    (-(2**31), "d280000000"),
    (-(2**31) - 1, "d3ffffffff7fffffff"),
    (-(2**63) + 1, "d38000000000000001"),
    (-(2**63), "d38000000000000000"),
]:
    ok(f"int {n}", hx, i(n))
# Wider-than-needed integer forms decode to the value and re-encode in the smallest form.
for hx, n, canon in [
    ("cc05", 5, "05"),
    ("cd0005", 5, "05"),
    ("ce00000005", 5, "05"),
    ("cf0000000000000005", 5, "05"),
    ("d005", 5, "05"),
    ("d0ff", -1, "ff"),
    ("d1ffff", -1, "ff"),
    ("d2ffffffff", -1, "ff"),
    ("d3ffffffffffffffff", -1, "ff"),
    ("d37fffffffffffffff", 2**63 - 1, "cf7fffffffffffffff"),
    ("d200010000", 65536, "ce00010000"),
]:
    ok(f"int {n} as {hx[:2]}", hx, i(n), canon)

# Floats: float64 is what both encoders emit; float32 decodes exactly and re-encodes as float64.
for x in [0.0, -0.0, 1.0, -1.5, 0.1, 1e300, 5e-324, 1.7976931348623157e308, math.inf, -math.inf]:
    hx = "cb" + struct.pack(">d", x).hex()
    ok(f"float64 {x!r}", hx, f64(x))
ok("float64 nan", "cb7ff8000000000000", {"float": "7ff8000000000000"})
for x32hex in ["3fc00000", "3dcccccd", "7f7fffff", "00000001", "80000000", "7f800000", "ff800000"]:
    x = struct.unpack(">f", bytes.fromhex(x32hex))[0]
    ok(
        f"float32 {x32hex}",
        "ca" + x32hex,
        f64(x),
        "cb" + struct.pack(">d", x).hex(),
    )
ok("float32 nan", "ca7fc00000", {"float": "7ff8000000000000"}, "cb7ff8000000000000")

# Strings: fixstr/str8/str16/str32 boundaries, multi-byte UTF-8.
for n, header in [
    (0, "a0"),
    (1, "a1"),
    (31, "bf"),
    (32, "d920"),
    (255, "d9ff"),
    (256, "da0100"),
    (65535, "daffff"),
    (65536, "db00010000"),
]:
    ok(f"str len {n}", h(header, ["61", n]), {"str": [["61", n]]})
for text in ["é", "€", "𝄞", "naïve café ☕ 𝄞 ünïcödé", "\x00", "\U0010ffff"]:
    raw = text.encode("utf-8")
    header = f"{0xA0 | len(raw):02x}" if len(raw) < 32 else f"d9{len(raw):02x}"
    ok(f"str {text!r}", header + raw.hex(), s(text))
ok("str8 short", "d903616263", s("abc"), "a3616263")
ok("str16 short", "da0003616263", s("abc"), "a3616263")
ok("str32 short", "db00000003616263", s("abc"), "a3616263")

# Binary: bin8/bin16/bin32 boundaries (no fix form).
for n, header in [
    (0, "c400"),
    (1, "c401"),
    (255, "c4ff"),
    (256, "c50100"),
    (65535, "c5ffff"),
    (65536, "c600010000"),
]:
    ok(f"bin len {n}", h(header, ["00", n]), {"bin": [["00", n]]})
ok("bin all byte values", "c5" + "0100" + bytes(range(256)).hex(), {"bin": bytes(range(256)).hex()})
ok("bin16 short", "c500020102", {"bin": "0102"}, "c4020102")
ok("bin32 short", "c6000000020102", {"bin": "0102"}, "c4020102")

# Arrays: fixarray/array16/array32 boundaries.
for n, header in [
    (0, "90"),
    (1, "91"),
    (15, "9f"),
    (16, "dc0010"),
    (65535, "dcffff"),
    (65536, "dd00010000"),
]:
    ok(f"array len {n}", h(header, ["c0", n]), {"array_repeat": [None, n]})
ok("array16 short", "dc0001c3", {"array": [True]}, "91c3")
ok("array32 short", "dd00000001c3", {"array": [True]}, "91c3")

# Maps: fixmap/map16 boundary, map16/map32 short forms, bytes keys, nested.
for n in (0, 1, 15, 16):
    pairs = [[s(f"k{k:02d}"), i(k)] for k in range(n)]
    body = "".join("a3" + f"k{k:02d}".encode().hex() + f"{k:02x}" for k in range(n))
    header = f"{0x80 | n:02x}" if n < 16 else f"de{n:04x}"
    ok(f"map len {n}", header + body, {"map": pairs})
ok("map16 short", "de0001a16101", {"map": [[s("a"), i(1)]]}, "81a16101")
ok("map32 short", "df00000001a16101", {"map": [[s("a"), i(1)]]}, "81a16101")
ok("map bin key", "81c4020102c0", {"map": [[{"bin": "0102"}, None]]})
ok(
    "nested mix",
    "83a474797065ae7072696e7465725f737461747573a1739291c0" + "81a16292cb3ff8000000000000ff"
    "a162c403010203",
    {
        "map": [
            [s("type"), s("printer_status")],
            [
                s("s"),
                {"array": [{"array": [None]}, {"map": [[s("b"), {"array": [f64(1.5), i(-1)]}]]}]},
            ],
            [s("b"), {"bin": "010203"}],
        ]
    },
)


def nested(levels, inner):
    for _ in range(levels):
        inner = {"array": [inner]}
    return inner


ok("depth 16 (the limit)", "91" * 15 + "81a178c0", nested(15, {"map": [[s("x"), None]]}))

# Invalid frames: each must raise MalformedFrame (FrameTooLarge for the size case is tested in
# code, as it depends on the limit passed).
bad("empty frame", "")
bad("reserved type byte 0xc1", "c1")
for code in [
    "c70001",
    "c8000001",
    "c900000001",
    "d40100",
    "d5010000",
    "d601" + "00" * 4,
    "d701" + "00" * 8,
    "d801" + "00" * 16,
    "d6ff00000001",
]:
    bad(f"ext type byte 0x{code[:2]}", code)
bad("ext inside a map", "81a161d40100")
bad("truncated uint16", "cd01")
bad("truncated uint64", "cf00000000000000")
bad("truncated float64", "cb3ff0")
bad("truncated float32", "ca3f")
bad("truncated int32", "d2ffff")
bad("truncated str8 header", "d9")
bad("truncated str16 header", "da00")
bad("truncated str32 header", "db000000")
bad("str claims 3, has 2", "a36162")
bad("str8 claims 255, has 1", "d9ff61")
bad("str32 claims 2^32-1", "dbffffffff61")
bad("bin32 claims 2^32-1", "c6ffffffff00")
bad("bin16 claims 65535, has 0", "c5ffff")
bad("array32 claims 2^32-1", "ddffffffffc0")
bad("map32 claims 2^32-1", "dfffffffffa16101")
bad("array16 claims 65535, has 1", "dcffffc0")
bad("fixarray claims 3, has 2", "930102")
bad("fixmap missing value", "81a161")
bad("map16 claims 2, has 1 pair", "de0002a16101")
bad("depth 17 (over the limit)", "91" * 16 + "81a178c0")
bad("depth 17 of maps", "81a161" * 17 + "c0")
bad("trailing byte", "c0c0")
bad("two values", "0102")
bad("int map key", "810102")
bad("nil map key", "81c001")
bad("array map key", "8190c0")
bad("float map key", "81cb000000000000000001")
bad("invalid utf-8: lone continuation", "a180")
bad("invalid utf-8: truncated sequence", "a1c3")
bad("invalid utf-8: overlong nul", "a2c080")
bad("invalid utf-8: overlong 3-byte", "a3e080af")
bad("invalid utf-8: surrogate", "a3eda080")
bad("invalid utf-8: above U+10FFFF", "a4f4908080")
bad("invalid utf-8: 0xf5 lead", "a4f5808080")
bad("invalid utf-8: 0xff", "a1ff")

for vec in invalid:
    try:
        codec.unpackb(expand(vec["hex"]))
    except MalformedFrame:
        pass
    else:
        raise AssertionError("protocol.codec (C msgpack) accepted " + vec["name"])

OUT.parent.mkdir(parents=True, exist_ok=True)
doc = {
    "description": (
        "msgpack test vectors shared by the C codec (CPython) and protocol/umsgpack.py "
        "(MicroPython). hex: the frame, as a hex string or a list of segments, each a hex "
        "string or [hex, repeat count]. value: typed description: null/true/false, "
        "{int: decimal str}, {float: big-endian IEEE-754 double hex}, {str: UTF-8 hex "
        "segments}, {bin: hex segments}, {array: [..]}, {array_repeat: [value, count]}, "
        "{map: [[key, value], ..]} in wire order. canonical: the bytes any encoder produces "
        "for the decoded value when hex is not the smallest form. invalid: frames every "
        "decoder must refuse with MalformedFrame (default limits: depth 16)."
    ),
    "valid": valid,
    "invalid": invalid,
}
OUT.write_text(json.dumps(doc, indent=1) + "\n")
print(f"wrote {len(valid)} valid, {len(invalid)} invalid vectors to {OUT}")
