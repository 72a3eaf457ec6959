"""Run in micropython with -X heapsize=64K: hostile length claims fail fast, no MemoryError.

Prints one line per check ("OK name" / "FAIL name: why") and "DONE"; protocol_mp.py parses it.
"""

import gc

import micropython

from protocol import MalformedFrame, codec, umsgpack

CLAIMS = (
    ("str32 2^32-1", b"\xdb\xff\xff\xff\xff" + b"a"),
    ("bin32 2^32-1", b"\xc6\xff\xff\xff\xff" + b"\x00"),
    ("array32 2^32-1", b"\xdd\xff\xff\xff\xff" + b"\xc0"),
    ("map32 2^32-1", b"\xdf\xff\xff\xff\xff" + b"\xa1a\x01"),
    ("array16 65535", b"\xdc\xff\xff\xc0"),
    ("map16 65535", b"\xde\xff\xff\xa1a\x01"),
    ("nested array32", b"\x81\xa1a" + b"\xdd\xff\xff\xff\xff\xc0"),
    ("array32 of bin32", b"\xdd\x00\x00\x00\x02" + b"\xc6\xff\xff\xff\xff"),
    ("deep 500", b"\x91" * 500 + b"\xc0"),
)


def check(name, fn):
    try:
        fn()
    except MemoryError:
        print("FAIL " + name + ": MemoryError")
    except Exception as exc:  # any other surprise is a failure too
        print("FAIL " + name + ": " + repr(exc))
    else:
        print("OK " + name)


def heap_is_small():
    # Proves the 64K heap is in force: 200 KB cannot be allocated.
    try:
        bytearray(200000)
    except MemoryError:
        return
    raise AssertionError("heap limit not in force")


def claim(data):
    def run():
        try:
            codec.unpackb(data)
        except MalformedFrame:
            return
        raise AssertionError("accepted")

    return run


def real_message():
    msg = {"type": "event_ack", "seq": 7}
    assert codec.unpackb(codec.packb(msg)) == msg


def stack_at_innermost_key(frame):
    # The innermost str of the frame is decoded last; record the C stack in use at that moment.
    seen = []
    original = umsgpack._decode_str

    def spy(raw):
        seen.append(micropython.stack_use())
        return original(raw)

    umsgpack._decode_str = spy
    try:
        codec.unpackb(frame)
    finally:
        umsgpack._decode_str = original
    return max(seen)


def bounded_stack():
    # Nesting must not cost C stack (an ESP32 task has ~16 KB): depth 16 vs depth 1.
    shallow = stack_at_innermost_key(b"\x81\xa1x\xc0")
    deep = stack_at_innermost_key(b"\x91" * 15 + b"\x81\xa1x\xc0")
    assert deep - shallow < 512, deep - shallow


gc.collect()
check("heap is 64K", heap_is_small)
check("depth costs no C stack", bounded_stack)
for name, data in CLAIMS:
    check(name, claim(data))
check("valid message still decodes", real_message)
print("DONE")
