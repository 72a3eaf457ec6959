"""Codec test cases shared by CPython (C and pure codec) and MicroPython (pure codec).

Each `case_*` takes the codec module under test (anything with packb/unpackb). The CPython
tests run them directly; tests/protocol/protocol_mp_harness.py runs them inside micropython.
"""

import sys
from binascii import hexlify

from protocol_vectorlib import build, expand, load, order_sensitive, same

from protocol import EncodeError, FrameTooLarge, MalformedFrame, ProtocolError
from protocol.errors import CLOSE_BAD_DATA, CLOSE_TOO_BIG
from protocol.limits import MAX_DEPTH, MAX_HUB_FRAME

# Large vectors (64 KiB boundaries) are decoded fully, but truncated only at a sample of offsets
# so the MicroPython run stays within seconds; every offset is tried for frames up to this size.
_EVERY_OFFSET_MAX = 600
_BIG = 1 << 20  # max_size used where a vector is larger than a hub frame

# The harness passes the codec module under test to every case of this module.
NEEDS_CODEC = True
_VECTORS = None


def _vectors():
    global _VECTORS
    if _VECTORS is None:
        _VECTORS = load()
    return _VECTORS


def expect_error(kind, fn, *args, **kwargs):
    """Call fn and return the exception, which must be a `kind`."""
    try:
        fn(*args, **kwargs)
    except kind as exc:
        return exc
    raise AssertionError(f"expected {kind.__name__} from {fn.__name__}{args[:1]!r}")


def _hex(data):
    return str(hexlify(data[:40]), "ascii")


def case_valid_vectors_decode(codec):
    for vec in _vectors()["valid"]:
        data = expand(vec["hex"])
        got = codec.unpackb(data, max_size=_BIG)
        assert same(got, build(vec["value"])), vec["name"]


def case_valid_vectors_reencode_byte_identical(codec):
    for vec in _vectors()["valid"]:
        data = expand(vec["hex"])
        canonical = expand(vec["canonical"]) if "canonical" in vec else data
        value = build(vec["value"])
        for source in (codec.unpackb(data, max_size=_BIG), value):
            again = codec.packb(source)
            if order_sensitive(source) and again != canonical:
                # MicroPython dicts do not keep insertion order: same bytes in another order.
                assert len(again) == len(canonical), vec["name"]
                assert same(codec.unpackb(again, max_size=_BIG), value), vec["name"]
            else:
                assert again == canonical, "{}: {} != {}".format(
                    vec["name"],
                    _hex(again),
                    _hex(canonical),
                )


def case_invalid_vectors_raise_malformed(codec):
    for vec in _vectors()["invalid"]:
        exc = expect_error(MalformedFrame, codec.unpackb, expand(vec["hex"]))
        assert exc.close_code == CLOSE_BAD_DATA, vec["name"]


def case_truncation_at_every_offset(codec):
    tried = 0
    for vec in _vectors()["valid"]:
        data = expand(vec["hex"])
        n = len(data)
        if n <= _EVERY_OFFSET_MAX:
            offsets = range(n)
        else:
            # Headers, the first elements, and a spread through the body, and the last byte.
            offsets = list(range(12)) + list(range(12, n, n // 97 + 1)) + [n - 1]
        for cut in offsets:
            expect_error(MalformedFrame, codec.unpackb, data[:cut], max_size=_BIG)
            tried += 1
    assert tried > 2000, tried


def case_truncated_nested_message(codec):
    msg = {
        "type": "printer_status",
        "printer_id": "p-1",
        "status": {"hms": [{"attr": 1, "code": 2}], "nozzle_temp": 215.5, "job_name": "ü" * 40},
    }
    data = codec.packb(msg)
    for cut in range(len(data)):
        expect_error(MalformedFrame, codec.unpackb, data[:cut])
    assert same(codec.unpackb(data), msg)


def case_claimed_lengths_beyond_data(codec):
    for data in (
        b"\xdb\xff\xff\xff\xff" + b"a",
        b"\xc6\xff\xff\xff\xff" + b"\x00",
        b"\xdd\xff\xff\xff\xff" + b"\xc0",
        b"\xdf\xff\xff\xff\xff" + b"\xa1a\x01",
        b"\xdc\xff\xff\xc0",
        b"\xde\xff\xff\xa1a\x01",
        b"\x81\xa1a" + b"\xdd\xff\xff\xff\xff\xc0",
        b"\x92\xc0" + b"\xc6\xff\xff\xff\xff",
    ):
        expect_error(MalformedFrame, codec.unpackb, data)


def case_depth_limit(codec):
    def nested(levels):
        return b"\x91" * levels + b"\xc0"

    assert codec.unpackb(nested(MAX_DEPTH)) is not None
    expect_error(MalformedFrame, codec.unpackb, nested(MAX_DEPTH + 1))
    expect_error(MalformedFrame, codec.unpackb, nested(2000))
    assert codec.unpackb(nested(3), max_depth=3) == [[[None]]]
    expect_error(MalformedFrame, codec.unpackb, nested(4), max_depth=3)
    # Wide but shallow is fine: many containers, depth 2.
    wide = codec.packb([[i] for i in range(100)])
    assert len(codec.unpackb(wide, max_depth=2)) == 100
    expect_error(MalformedFrame, codec.unpackb, wide, max_depth=1)
    # A deep branch after many shallow ones is still found.
    mixed = codec.packb({"a": [[1]] * 20, "b": [[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]})
    expect_error(MalformedFrame, codec.unpackb, mixed)
    assert codec.unpackb(mixed, max_depth=17)["a"][19] == [1]


def case_size_limit(codec):
    payload = codec.packb(b"x" * 95)  # 97 bytes: c4 5f + 95
    assert len(payload) == 97
    assert codec.unpackb(payload, max_size=97) == b"x" * 95
    exc = expect_error(FrameTooLarge, codec.unpackb, payload, max_size=96)
    assert isinstance(exc, MalformedFrame) and isinstance(exc, ProtocolError)
    assert exc.close_code == CLOSE_TOO_BIG
    hub_max = codec.packb(b"\x00" * (MAX_HUB_FRAME - 3))
    assert len(hub_max) == MAX_HUB_FRAME
    assert len(codec.unpackb(hub_max)) == MAX_HUB_FRAME - 3
    expect_error(FrameTooLarge, codec.unpackb, hub_max + b"\xc0")


def case_array_boundary_64k(codec):
    # Maps share the header code; their 64Ki boundary is tested on CPython only
    # (test_umsgpack.py), because a 65536-key dict takes MicroPython's unix port a minute to build.
    items = [None] * 65536
    data = codec.packb(items)
    assert data[:5] == b"\xdd\x00\x01\x00\x00", _hex(data[:5])
    assert len(data) == 65541
    assert codec.unpackb(data, max_size=_BIG) == items
    assert codec.packb(items[1:])[:3] == b"\xdc\xff\xff"


def case_input_buffer_types(codec):
    data = codec.packb({"a": [1, b"\x00", "z"]})
    for buf in (data, bytearray(data), memoryview(data)):
        assert same(codec.unpackb(buf), {"a": [1, b"\x00", "z"]})
    expect_error(MalformedFrame, codec.unpackb, "not bytes")
    expect_error(MalformedFrame, codec.unpackb, None)


def case_encode_types(codec):
    assert codec.packb((1, 2)) == b"\x92\x01\x02"
    assert codec.packb(bytearray(b"ab")) == b"\xc4\x02ab"
    assert codec.packb(memoryview(b"ab")) == b"\xc4\x02ab"
    assert codec.packb(True) == b"\xc3" and codec.packb(False) == b"\xc2"
    assert codec.packb(1.0) == b"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"
    assert codec.packb(-0.0) == b"\xcb\x80\x00\x00\x00\x00\x00\x00\x00"
    assert codec.packb({}) == b"\x80" and codec.packb([]) == b"\x90"
    assert codec.packb("") == b"\xa0" and codec.packb(b"") == b"\xc4\x00"
    assert type(codec.unpackb(b"\xc4\x00")) is bytes
    assert type(codec.unpackb(b"\x92\x01\x02")) is list


def case_encode_rejects_unsupported(codec):
    lone_surrogate = chr(0xD800)
    for value in (
        2**64,
        -(2**63) - 1,
        {1, 2},
        object(),
        [1, {"k": {3}}],
        lone_surrogate,
        ["a" + lone_surrogate],
    ):
        exc = expect_error(EncodeError, codec.packb, value)
        assert isinstance(exc, ProtocolError)
    loop = []
    loop.append(loop)
    expect_error(EncodeError, codec.packb, loop)
    # A failed encode leaves nothing behind for the next one.
    assert codec.packb([1]) == b"\x91\x01"


def case_backend_matches_runtime(codec):
    import protocol.codec
    import protocol.umsgpack

    on_micropython = sys.implementation.name == "micropython"
    # The hub must run the pure codec; the cloud the C package behind the same two names.
    assert (protocol.codec.packb is protocol.umsgpack.packb) == on_micropython
    assert (protocol.codec.unpackb is protocol.umsgpack.unpackb) == on_micropython


def case_errors_are_one_family(codec):
    assert issubclass(MalformedFrame, ProtocolError)
    assert issubclass(FrameTooLarge, MalformedFrame)
    assert issubclass(EncodeError, ProtocolError)
    assert issubclass(ProtocolError, ValueError)
    exc = expect_error(ProtocolError, codec.unpackb, b"\xc1")
    assert "c1" in str(exc).lower() or str(exc)
