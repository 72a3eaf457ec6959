"""Cross-runtime property tests: MicroPython's pure codec against the C msgpack package.

10,000 seeded random values each way (the same generator runs in both interpreters), plus a
differential fuzz: mutated frames must get the same verdict (value or MalformedFrame) from both.
"""

import random
import struct

import msgpack
import protocol_mp
import pytest
from protocol_examples import EXAMPLES
from protocol_valuegen import values
from protocol_vectorlib import expand, load, order_sensitive, same

from protocol import FrameTooLarge, MalformedFrame, codec

pytestmark = pytest.mark.micropython

COUNT = 10_000
_BIG = 1 << 20  # the generator's rare 64 KiB strings exceed the hub frame limit on purpose


def write_frames(path, frames):
    with open(path, "wb") as f:
        for frame in frames:
            f.write(struct.pack(">I", len(frame)) + frame)


def read_frames(path):
    blob = path.read_bytes()
    frames, pos = [], 0
    while pos < len(blob):
        (n,) = struct.unpack_from(">I", blob, pos)
        frames.append(blob[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return frames


def result_line(proc):
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"rc {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    )
    return dict(item.split("=") for item in lines[-1][7:].split())


def test_micropython_encodes_c_decodes(tmp_path):
    seed = 20261129
    out = tmp_path / "mp_frames.bin"
    proc = protocol_mp.run("protocol_mp_property.py", "encode", seed, COUNT, out, heapsize="64M")
    assert result_line(proc) == {"encoded": str(COUNT)}
    frames = read_frames(out)
    assert len(frames) == COUNT
    mismatches, byte_checked = [], 0
    for i, (value, frame) in enumerate(zip(values(seed, COUNT), frames, strict=True)):
        decoded = msgpack.unpackb(frame, raw=False, strict_map_key=True)  # the C package itself
        ok = same(decoded, value) and same(codec.unpackb(frame, max_size=_BIG), value)
        if ok and not order_sensitive(value):
            # No multi-key map: the bytes must be exactly what C msgpack produces.
            byte_checked += 1
            ok = frame == msgpack.packb(value, use_bin_type=True)
        if not ok:
            mismatches.append((i, repr(value)[:200], frame[:60].hex()))
    assert not mismatches, mismatches[:5]
    assert byte_checked > COUNT // 4, byte_checked


def test_c_encodes_micropython_decodes(tmp_path):
    seed = 4242
    path = tmp_path / "c_frames.bin"
    write_frames(path, (msgpack.packb(v, use_bin_type=True) for v in values(seed, COUNT)))
    proc = protocol_mp.run("protocol_mp_property.py", "decode", seed, COUNT, path, heapsize="64M")
    result = result_line(proc)
    assert result["checked"] == str(COUNT)
    assert result["mismatches"] == "0", proc.stdout[-3000:]
    assert int(result["byte_checked"]) > COUNT // 4


def _utf8_stress(rng):
    # Random bytes from UTF-8's interesting classes inside a str header: structure errors,
    # overlongs, surrogates, code points beyond U+10FFFF, and plenty of valid sequences.
    pools = (range(0x20, 0x80), range(0x80, 0xC0), range(0xC0, 0x100), b"\xe0\xed\xf0\xf4\xc2\xe2")
    raw = bytes(rng.choice(pools[rng.randrange(4)]) for _ in range(rng.randrange(1, 12)))
    if rng.random() < 0.5:
        try:
            raw = raw.decode("utf-8", "ignore").encode("utf-8") + raw[:2]
        except UnicodeError:
            pass
    return bytes([0xA0 | len(raw)]) + raw if len(raw) < 32 else b"\xd9" + bytes([len(raw)]) + raw


def _mutate(rng, frame):
    data = bytearray(frame)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = bytes([rng.choice(b"\xc1\xd4\xc7\xdd\xdb\xc6\xdf\x91\x81\xed\xc0\xff")])
        elif op == 2:
            del data[pos:]
        elif op == 3 and data:
            data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
        else:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
    return bytes(data)


def fuzz_frames():
    rng = random.Random(77)
    sources = [expand(v["hex"]) for v in load()["valid"] if len(expand(v["hex"])) < 2048]
    sources += [codec.packb(m) for msgs in EXAMPLES.values() for m in msgs]
    sources += [msgpack.packb(v, use_bin_type=True) for v in values(99, 1500)]
    sources = [s for s in sources if len(s) < 4096]
    frames = [_mutate(rng, rng.choice(sources)) for _ in range(20_000)]
    frames += [_utf8_stress(rng) for _ in range(5_000)]
    frames += [b"\x91" * 17 + b"\xc0", b"\xc4\x00" + b"x" * 70000]  # depth and size limits
    return frames


def c_verdict(frame):
    try:
        return 1, codec.unpackb(frame)
    except FrameTooLarge:
        return 3, None
    except MalformedFrame:
        return 2, None


def test_malformed_frames_get_the_same_verdict(tmp_path):
    frames = fuzz_frames()
    in_path, out_path = tmp_path / "fuzz.bin", tmp_path / "verdicts.bin"
    write_frames(in_path, frames)
    proc = protocol_mp.run("protocol_mp_property.py", "verdict", in_path, out_path, heapsize="64M")
    assert result_line(proc) == {"verdicts": str(len(frames))}
    assert "CRASH" not in proc.stdout, proc.stdout[:3000]
    blob = out_path.read_bytes()
    pos, disagreements, counts = 0, [], {1: 0, 2: 0, 3: 0}
    for i, frame in enumerate(frames):
        status = blob[pos]
        pos += 1
        mp_value = None
        if status == 1:
            (n,) = struct.unpack_from(">I", blob, pos)
            mp_value = msgpack.unpackb(blob[pos + 4 : pos + 4 + n], raw=False, strict_map_key=False)
            pos += 4 + n
        c_status, c_value = c_verdict(frame)
        counts[c_status] += 1
        if status != c_status or (status == 1 and not same(mp_value, c_value)):
            disagreements.append((i, frame[:40].hex(), status, c_status))
    assert pos == len(blob)
    assert not disagreements, disagreements[:10]
    # The fuzz must exercise both outcomes substantially to mean anything.
    assert counts[1] > 2000 and counts[2] > 5000, counts
