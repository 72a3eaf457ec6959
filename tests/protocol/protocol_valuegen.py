"""Seeded random msgpack-able values, identical on CPython and MicroPython (own PRNG).

Both runtimes call `values(seed, n)` and get the same sequence, so one side can encode and the
other decode and compare without any shared encoding of the values themselves.
"""

import struct

# Integers at and around every msgpack width boundary.
_INT_EDGES = (
    0,
    127,
    128,
    255,
    256,
    65535,
    65536,
    0xFFFFFFFF,
    0x100000000,
    0x7FFFFFFFFFFFFFFF,
    0x8000000000000000,
    0xFFFFFFFFFFFFFFFF,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -0x80000000,
    -0x80000001,
    -0x8000000000000000,
)
_UINT64_MAX = 0xFFFFFFFFFFFFFFFF
_INT64_MIN = -0x8000000000000000
# Code point ranges: ASCII printable, C0 controls, 2-byte, 3-byte (no surrogates), 4-byte.
_CODEPOINTS = (
    (0x20, 0x7F),
    (0x00, 0x20),
    (0x80, 0x800),
    (0x800, 0xD800),
    (0xE000, 0x10000),
    (0x10000, 0x110000),
)
# Lengths: mostly small, sometimes on a form boundary (fixarray/fixmap 16; fixstr 32; 8-bit 256).
_CONTAINER_EDGES = (15, 16, 17)
_STRING_EDGES = (31, 32, 33, 255, 256, 257)


class Rng:
    """xorshift32: tiny, fast on MicroPython's small ints, the same on both runtimes."""

    def __init__(self, seed):
        self.state = (seed & 0xFFFFFFFF) or 0x9E3779B9

    def next32(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def below(self, n):
        return self.next32() % n


def _int(rng):
    pick = rng.below(8)
    if pick == 0:
        return _INT_EDGES[rng.below(len(_INT_EDGES))]
    if pick == 1:
        v = _INT_EDGES[rng.below(len(_INT_EDGES))] + rng.below(5) - 2
        return min(max(v, _INT64_MIN), _UINT64_MAX)
    if pick < 5:
        return rng.below(300) - 100
    bits = (8, 16, 32, 64)[rng.below(4)]
    v = ((rng.next32() << 32) | rng.next32()) & ((1 << bits) - 1)
    if rng.below(2):
        v -= 1 << (bits - 1)  # signed range of that width
    return v


def _float(rng):
    if rng.below(3) == 0:
        # Any 64-bit pattern: subnormals, infinities, NaNs with payloads.
        return struct.unpack(">d", struct.pack(">II", rng.next32(), rng.next32()))[0]
    return (rng.next32() - 0x80000000) / 1024.0


def _size(rng, small, edges):
    if rng.below(40) == 0:
        return edges[rng.below(len(edges))]
    return rng.below(small)


def _text(rng, n):
    if n > 64:
        # Long strings repeat a random chunk: the codec cost is the same, generation is cheap.
        chunk = _text(rng, 8)
        return (chunk * (n // 8 + 1))[:n]
    # Mostly ASCII strings; otherwise each character from a random UTF-8 length class.
    if rng.below(3):
        return "".join([chr(0x20 + rng.below(0x5F)) for _ in range(n)])
    chars = []
    for _ in range(n):
        lo, hi = _CODEPOINTS[rng.below(6)]
        chars.append(chr(lo + rng.below(hi - lo)))
    return "".join(chars)


def _bytes(rng, n):
    if n > 64:
        return bytes([rng.below(256)]) * n
    return bytes([rng.below(256) for _ in range(n)])


def value(rng, depth=0, max_depth=6, container=False):
    """One random value; containers only while `depth` < `max_depth` (always if `container`)."""
    pick = 13 + rng.below(7) if container else rng.below(20 if depth < max_depth else 13)
    if pick < 4:
        return _int(rng)
    if pick < 6:
        return _float(rng)
    if pick < 9:
        return _text(rng, _size(rng, 12, _STRING_EDGES))
    if pick < 10:
        return _bytes(rng, _size(rng, 12, _STRING_EDGES))
    if pick < 11:
        return None
    if pick < 13:
        return rng.below(2) == 1
    n = _size(rng, 6 if depth < 2 else 3, _CONTAINER_EDGES)
    if pick < 16:
        return [value(rng, depth + 1, max_depth) for _ in range(n)]
    result = {}
    # One key type per map: MicroPython warns when it compares a bytes key with a str key.
    bin_keys = rng.below(8) == 0
    for _ in range(n):
        key = _bytes(rng, rng.below(6)) if bin_keys else _text(rng, rng.below(10))
        result[key] = value(rng, depth + 1, max_depth)
    return result


def big_value(rng):
    """A rare large value: a str, bin or array across the 16-bit length boundary."""
    n = 65530 + rng.below(12)
    kind = rng.below(3)
    if kind == 0:
        return _text(rng, n)
    if kind == 1:
        return _bytes(rng, n)
    return [rng.below(2) == 1] * n


def values(seed, count):
    """Yield the deterministic `count` values for `seed` (every 2000th one is big)."""
    rng = Rng(seed)
    for i in range(count):
        if i % 2000 == 1999:
            yield big_value(rng)
        else:
            # Half of the values are maps or arrays at the top, like real messages.
            yield value(rng, container=rng.below(2) == 0)
