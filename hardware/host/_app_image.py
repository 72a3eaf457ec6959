"""ESP-IDF application image format (esp_image_format.h): build one, check one, read its version.

The host bootloader refuses a partition whose image does not check, as the ESP-IDF
bootloader does (magic 0xE9, segment headers, XOR checksum, appended SHA-256), and
`esptool image-info` accepts the images built here (tests prove it). Runs on MicroPython and
CPython.
"""

import hashlib
import struct

MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
APP_DESC_MAGIC = 0xABCD5432
CHIP_ID_ESP32S3 = 9
HEADER = "<BBBBIB3sHBHH4sB"  # esp_image_header_t, 24 bytes
HEADER_BYTES = 24
SEGMENT = "<II"  # esp_image_segment_header_t: load address, length
SEGMENT_BYTES = 8
APP_DESC_BYTES = 256
MAX_SEGMENTS = 16
DROM_ADDRESS = 0x3C000020  # first segment: flash-mapped data, app description first
_CHUNK = 1024  # bytes read at a time while checking (RAM cost: 1 KiB)


def _field(text, size):
    raw = text.encode() if isinstance(text, str) else text
    return raw[: size - 1] + b"\x00" * (size - min(len(raw), size - 1))


def app_desc(version, project="printfarm-hub"):
    """esp_app_desc_t (256 bytes) carrying the version string."""
    head = struct.pack("<IIII", APP_DESC_MAGIC, 0, 0, 0)
    body = (
        _field(version, 32)
        + _field(project, 32)
        + _field("00:00:00", 16)
        + _field("Jan  1 2026", 16)
        + _field("v5.5.1", 32)
        + b"\x00" * 32
    )
    return head + body + b"\x00" * (APP_DESC_BYTES - len(head) - len(body))


def build(version, payload=b""):
    """A complete image: one data segment (app description + payload), checksum, SHA-256."""
    data = app_desc(version) + payload
    data += b"\x00" * (-len(data) % 4)  # segment lengths are word multiples
    header = struct.pack(
        HEADER,
        MAGIC,
        1,
        2,
        0x4F,
        DROM_ADDRESS,
        0xEE,
        b"\x00\x00\x00",
        CHIP_ID_ESP32S3,
        0,
        0,
        0xFFFF,
        b"\x00" * 4,
        1,
    )
    body = header + struct.pack(SEGMENT, DROM_ADDRESS, len(data)) + data
    checksum = CHECKSUM_SEED
    for b in data:
        checksum ^= b
    body += b"\x00" * (15 - len(body) % 16) + bytes([checksum])
    return body + hashlib.sha256(body).digest()


def check(read, limit):
    """Walk an image through read(offset, n) -> bytes; return (length, version) or raise ValueError."""
    head = read(0, HEADER_BYTES)
    fields = struct.unpack(HEADER, head)
    if fields[0] != MAGIC:
        raise ValueError("no image (magic 0x%02x)" % fields[0])
    count = fields[1]
    if not 0 < count <= MAX_SEGMENTS:
        raise ValueError("bad segment count %d" % count)
    digest = hashlib.sha256(head)
    checksum = CHECKSUM_SEED
    pos = HEADER_BYTES
    version = None
    for _ in range(count):
        seg = read(pos, SEGMENT_BYTES)
        digest.update(seg)
        length = struct.unpack(SEGMENT, seg)[1]
        pos += SEGMENT_BYTES
        if length % 4 or pos + length > limit:
            raise ValueError("bad segment length %d" % length)
        if version is None and length >= APP_DESC_BYTES:
            desc = read(pos, 48)
            if struct.unpack("<I", desc[:4])[0] == APP_DESC_MAGIC:
                version = bytes(desc[16:48]).split(b"\x00")[0].decode()
        end = pos + length
        while pos < end:
            chunk = read(pos, min(_CHUNK, end - pos))
            digest.update(chunk)
            for b in chunk:
                checksum ^= b
            pos += len(chunk)
    tail_len = 16 - pos % 16  # padding then the checksum byte, ending on a 16-byte boundary
    tail = read(pos, tail_len)
    digest.update(tail)
    if tail[-1] != checksum:
        raise ValueError("checksum mismatch")
    pos += tail_len
    if fields[-1]:  # hash_appended
        if read(pos, 32) != digest.digest():
            raise ValueError("SHA-256 mismatch")
        pos += 32
    if pos > limit:
        raise ValueError("image larger than its partition")
    return pos, version
