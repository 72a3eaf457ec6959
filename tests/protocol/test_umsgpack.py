"""protocol/umsgpack.py on CPython: byte-identical to C msgpack on generated and random values."""

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_valuegen import values
from protocol_vectorlib import same

from protocol import umsgpack

_BIG = 1 << 20


def c_packb(value):
    return msgpack.packb(value, use_bin_type=True)


def test_generated_values_identical_bytes_both_ways():
    checked = 0
    for value in values(31337, 10_000):
        expected = c_packb(value)
        # CPython dicts keep insertion order, so even multi-key maps must match byte for byte.
        assert umsgpack.packb(value) == expected, repr(value)[:200]
        assert same(umsgpack.unpackb(expected, max_size=_BIG), value), repr(value)[:200]
        checked += 1
    assert checked == 10_000


def test_map_boundary_64k():
    big = {str(i): i & 0x7F for i in range(65536)}
    data = umsgpack.packb(big)
    assert data[:5] == b"\xdf\x00\x01\x00\x00"
    assert data == c_packb(big)
    assert umsgpack.unpackb(data, max_size=_BIG) == big
    del big["0"]
    assert umsgpack.packb(big)[:3] == b"\xde\xff\xff" and umsgpack.packb(big) == c_packb(big)


def test_subclasses_pack_as_their_base():
    import collections
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    class Name(str):
        pass

    value = [Level.HIGH, Name("x"), collections.OrderedDict(a=1), 1.5]
    assert umsgpack.packb(value) == c_packb(value)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text()
    | st.binary()
)
msgpack_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=20)
        | st.dictionaries(st.text() | st.binary(), children, max_size=20)
    ),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(msgpack_values)
def test_hypothesis_identical_to_c(value):
    expected = c_packb(value)
    assert umsgpack.packb(value) == expected
    assert same(umsgpack.unpackb(expected, max_size=_BIG, max_depth=1000), value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_hypothesis_random_bytes_same_verdict_as_c(data):
    try:
        expected = msgpack.unpackb(
            data, raw=False, strict_map_key=True, max_ext_len=0, ext_hook=_no_ext
        )
    except (ValueError, TypeError):
        expected = "error"
    try:
        got = umsgpack.unpackb(data, max_depth=1000)
    except umsgpack.MalformedFrame:
        got = "error"
    assert same(got, expected) or got == expected == "error"


def _no_ext(code, data):
    raise ValueError("ext")
