"""MicroPython side of the cross-runtime property test (see test_cross_runtime.py).

  micropython protocol_mp_property.py encode SEED COUNT OUT  -> frames packed by the pure codec
  micropython protocol_mp_property.py decode SEED COUNT IN   -> decode C msgpack's frames, compare
  micropython protocol_mp_property.py verdict IN OUT         -> decode arbitrary (fuzzed) frames
Frames file: each frame is a 4-byte big-endian length then the bytes. Verdict file: per frame a
status byte (1 accepted, 2 MalformedFrame, 3 FrameTooLarge, 4 any other exception) and, when
accepted, the re-encoded value as a length-prefixed frame.
"""

import struct
import sys

from protocol_valuegen import values
from protocol_vectorlib import order_sensitive, same

from protocol import FrameTooLarge, MalformedFrame, umsgpack

_MAX_FRAME = 1 << 20  # big values (64 KiB strings) exceed the hub limit on purpose


def encode(seed, count, path):
    with open(path, "wb") as f:
        for v in values(seed, count):
            frame = umsgpack.packb(v)
            f.write(struct.pack(">I", len(frame)))
            f.write(frame)
    print(f"RESULT encoded={count}")


def decode(seed, count, path):
    with open(path, "rb") as f:
        blob = f.read()
    pos = 0
    mismatches = 0
    byte_checked = 0
    for i, v in enumerate(values(seed, count)):
        n = struct.unpack_from(">I", blob, pos)[0]
        frame = blob[pos + 4 : pos + 4 + n]
        pos += 4 + n
        try:
            got = umsgpack.unpackb(frame, max_size=_MAX_FRAME)
            ok = same(got, v)
            if ok and not order_sensitive(v):
                byte_checked += 1
                ok = umsgpack.packb(got) == frame
        except Exception as exc:
            got = exc
            ok = False
        if not ok:
            mismatches += 1
            if mismatches <= 5:
                print(f"MISMATCH {i} {v!r} -> {got!r}")
    assert pos == len(blob), "frames left over"
    print(f"RESULT checked={count} mismatches={mismatches} byte_checked={byte_checked}")


def read_frames(path):
    with open(path, "rb") as f:
        blob = f.read()
    pos = 0
    while pos < len(blob):
        n = struct.unpack_from(">I", blob, pos)[0]
        yield blob[pos + 4 : pos + 4 + n]
        pos += 4 + n


def verdict(in_path, out_path):
    count = 0
    with open(out_path, "wb") as out:
        for frame in read_frames(in_path):
            count += 1
            try:
                value = umsgpack.unpackb(frame)  # default limits: 64 KiB, depth 16
            except FrameTooLarge:
                out.write(b"\x03")
            except MalformedFrame:
                out.write(b"\x02")
            except Exception as exc:  # a crash of any other kind is a bug the test reports
                out.write(b"\x04")
                print(f"CRASH {count - 1} {exc!r}")
            else:
                again = umsgpack.packb(value)
                out.write(b"\x01" + struct.pack(">I", len(again)) + again)
    print(f"RESULT verdicts={count}")


mode = sys.argv[1]
if mode == "verdict":
    verdict(sys.argv[2], sys.argv[3])
elif mode == "encode":
    encode(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
else:
    decode(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
