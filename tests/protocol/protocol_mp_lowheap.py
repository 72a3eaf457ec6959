"""Run in micropython with -X heapsize=64K: hostile length claims fail fast, no MemoryError.

Prints one line per check ("OK name" / "FAIL name: why") and "DONE"; protocol_mp.py parses it.
"""

import gc

from protocol import MalformedFrame, codec

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


gc.collect()
check("heap is 64K", heap_is_small)
for name, data in CLAIMS:
    check(name, claim(data))
check("valid message still decodes", real_message)
print("DONE")
