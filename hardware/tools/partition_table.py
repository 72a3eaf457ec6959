"""Parse and check an ESP-IDF partition table CSV by ESP-IDF v5.x's rules; emit its binary form.

Written from ESP-IDF's partition-table documentation and the behaviour of its
gen_esp32part.py (ESP-IDF cannot be installed here, so the build's own check cannot run):
CSV syntax (K/M suffixes, keywords, empty offsets filled in with each type's alignment),
app partitions on 64 KiB boundaries, everything else on 4 KiB boundaries, no overlaps,
nothing before the end of the table's own 4 KiB sector, unique names of at most 16 bytes,
one otadata partition of exactly 0x2000 bytes, NVS at least 0x3000 bytes, at most 95 entries
(0xC00 bytes with the MD5 row), and the whole table inside the flash.

Usage: python hardware/tools/partition_table.py TABLE.csv [--flash-size 16MB] [--binary OUT]
"""

import argparse
import hashlib
import struct
import sys

TABLE_OFFSET = 0x8000  # CONFIG_PARTITION_TABLE_OFFSET default
TABLE_SECTOR = 0x1000  # the table occupies one whole flash sector
MAX_TABLE_BYTES = 0xC00  # entries + MD5 row; the rest of the sector is for a signature
ENTRY_BYTES = 32
ENTRY_FORMAT = "<2sBBLL16sL"
ENTRY_MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb" + b"\xff" * 14
MAX_NAME_BYTES = 16
OTADATA_SIZE = 0x2000
NVS_MIN_SIZE = 0x3000
SECTOR = 0x1000

APP, DATA, BOOTLOADER, PARTITION_TABLE = 0x00, 0x01, 0x02, 0x03
TYPES = {"app": APP, "data": DATA, "bootloader": BOOTLOADER, "partition_table": PARTITION_TABLE}
SUBTYPES = {
    APP: {"factory": 0x00, "test": 0x20, **{"ota_%d" % n: 0x10 + n for n in range(16)}},
    DATA: {
        "ota": 0x00,
        "phy": 0x01,
        "nvs": 0x02,
        "coredump": 0x03,
        "nvs_keys": 0x04,
        "efuse": 0x05,
        "undefined": 0x06,
        "esphttpd": 0x80,
        "fat": 0x81,
        "spiffs": 0x82,
        "littlefs": 0x83,
    },
    BOOTLOADER: {"primary": 0x00, "ota": 0x01},
    PARTITION_TABLE: {"primary": 0x00, "ota": 0x01},
}
ALIGNMENT = {APP: 0x10000}  # every other type: SECTOR
FLAGS = {"encrypted": 0, "readonly": 1}
OTA_APP_SUBTYPES = range(0x10, 0x20)


class PartitionError(ValueError):
    """A partition table that ESP-IDF would refuse (message names the line or partition)."""


class Partition:
    """One row of the table."""

    def __init__(self, name, ptype, subtype, offset, size, flags=(), line=0):
        self.name = name
        self.type = ptype
        self.subtype = subtype
        self.offset = offset
        self.size = size
        self.flags = set(flags)
        self.line = line

    @property
    def end(self):
        """First byte after the partition."""
        return self.offset + self.size

    def __repr__(self):
        return "Partition(%r, 0x%02x, 0x%02x, 0x%x, 0x%x)" % (
            self.name,
            self.type,
            self.subtype,
            self.offset,
            self.size,
        )


def parse_int(text, keywords=None):
    """Parse 0x.., decimal, K/M suffixed sizes, or one of the given keywords."""
    value = text.strip()
    if keywords and value.lower() in keywords:
        return keywords[value.lower()]
    multiplier = 1
    if value[-1:].lower() == "k":
        multiplier, value = 1024, value[:-1]
    elif value[-1:].lower() == "m":
        multiplier, value = 1024 * 1024, value[:-1]
    try:
        return int(value, 0) * multiplier
    except ValueError:
        known = ", ".join(sorted(keywords)) if keywords else "a number"
        raise PartitionError("'%s' is not valid here (expected %s)" % (text, known)) from None


def alignment(ptype):
    """Offset alignment that ESP-IDF requires for a partition type."""
    return ALIGNMENT.get(ptype, SECTOR)


def parse_csv(text, table_offset=TABLE_OFFSET):
    """Parse CSV text into partitions, filling in empty offsets as ESP-IDF does."""
    rows = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in (line + ",,,,,").split(",")]
        try:
            rows.append(_parse_row(fields, number))
        except PartitionError as err:
            raise PartitionError("line %d: %s" % (number, err)) from None
    next_free = table_offset + TABLE_SECTOR
    for row in rows:
        if row.offset is None:
            align = alignment(row.type)
            row.offset = (next_free + align - 1) // align * align
        elif row.offset < next_free:
            raise PartitionError(
                "line %d: offset 0x%x overlaps what ends at 0x%x"
                % (row.line, row.offset, next_free)
            )
        if row.size < 0:  # a negative size means "up to this address"
            row.size = -row.size - row.offset
        next_free = row.offset + row.size
    return rows


def _parse_row(fields, number):
    name = fields[0]
    if not fields[1]:
        raise PartitionError("type is empty")
    ptype = parse_int(fields[1], TYPES)
    if not 0 <= ptype <= 0xFE:
        raise PartitionError("type 0x%x is out of range 0x00-0xfe" % ptype)
    if fields[2]:
        subtype = parse_int(fields[2], SUBTYPES.get(ptype, {}))
    elif ptype == APP:
        raise PartitionError("an app partition needs a subtype")
    else:
        subtype = SUBTYPES[DATA]["undefined"]
    if not 0 <= subtype <= 0xFE:
        raise PartitionError("subtype 0x%x is out of range" % subtype)
    offset = parse_int(fields[3]) if fields[3] else None
    if not fields[4]:
        raise PartitionError("size is empty")
    size = parse_int(fields[4])
    flags = [f for f in fields[5].split(":") if f]
    for flag in flags:
        if flag not in FLAGS:
            raise PartitionError("unknown flag '%s'" % flag)
    return Partition(name, ptype, subtype, offset, size, flags, number)


def verify(parts, flash_size, table_offset=TABLE_OFFSET):
    """Raise PartitionError for anything ESP-IDF would refuse or that would not fit the flash."""
    if not parts:
        raise PartitionError("the table is empty")
    if (len(parts) + 1) * ENTRY_BYTES > MAX_TABLE_BYTES:
        raise PartitionError("%d entries do not fit in 0x%x bytes" % (len(parts), MAX_TABLE_BYTES))
    for part in parts:
        _verify_one(part)
    names = [p.name for p in parts]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PartitionError("partition names must be unique: %s" % ", ".join(duplicates))
    previous = None
    for part in sorted(parts, key=lambda p: p.offset):
        if part.offset < table_offset + TABLE_SECTOR:
            raise PartitionError(
                "%s: offset 0x%x is inside the bootloader or the table (first free 0x%x)"
                % (part.name, part.offset, table_offset + TABLE_SECTOR)
            )
        if previous is not None and part.offset < previous.end:
            raise PartitionError(
                "%s at 0x%x overlaps %s (0x%x-0x%x)"
                % (part.name, part.offset, previous.name, previous.offset, previous.end - 1)
            )
        previous = part
    if previous.end > flash_size:
        raise PartitionError(
            "%s ends at 0x%x, past the end of a 0x%x-byte flash"
            % (previous.name, previous.end, flash_size)
        )
    otadata = [p for p in parts if p.type == DATA and p.subtype == SUBTYPES[DATA]["ota"]]
    if len(otadata) > 1:
        raise PartitionError("only one otadata (data/ota) partition is allowed")
    if otadata and otadata[0].size != OTADATA_SIZE:
        raise PartitionError("otadata must be exactly 0x%x bytes" % OTADATA_SIZE)
    ota_apps = [p for p in parts if p.type == APP and p.subtype in OTA_APP_SUBTYPES]
    if ota_apps and not otadata:
        raise PartitionError("OTA app partitions need an otadata partition to select the boot slot")
    subtypes = [p.subtype for p in ota_apps]
    if len(set(subtypes)) != len(subtypes):
        raise PartitionError("each ota_N subtype may appear only once")


def _verify_one(part):
    if len(part.name.encode()) > MAX_NAME_BYTES:
        raise PartitionError("%s: name longer than %d bytes" % (part.name, MAX_NAME_BYTES))
    if not part.name:
        raise PartitionError("line %d: empty name" % part.line)
    align = alignment(part.type)
    if part.offset % align:
        raise PartitionError(
            "%s: offset 0x%x is not aligned to 0x%x" % (part.name, part.offset, align)
        )
    if part.size <= 0:
        raise PartitionError("%s: size must be positive" % part.name)
    # Flash is erased in 4 KiB sectors; a partition that ends mid-sector shares it with the next.
    if part.size % SECTOR:
        raise PartitionError(
            "%s: size 0x%x is not a multiple of 0x%x" % (part.name, part.size, SECTOR)
        )
    if part.type == DATA and part.subtype == SUBTYPES[DATA]["nvs"] and part.size < NVS_MIN_SIZE:
        raise PartitionError("%s: NVS needs at least 0x%x bytes" % (part.name, NVS_MIN_SIZE))
    if "readonly" in part.flags and (
        part.type == APP or (part.type == DATA and part.subtype in (0x00, 0x03))
    ):
        raise PartitionError("%s: app, otadata and coredump cannot be readonly" % part.name)


def to_binary(parts):
    """The 0xC00-byte table image the bootloader reads (entries, MD5 row, 0xFF padding)."""
    body = b"".join(_entry(p) for p in parts)
    body += MD5_MAGIC + hashlib.md5(body).digest()
    if len(body) > MAX_TABLE_BYTES:
        raise PartitionError("binary table is %d bytes, over 0x%x" % (len(body), MAX_TABLE_BYTES))
    return body + b"\xff" * (MAX_TABLE_BYTES - len(body))


def _entry(part):
    flags = sum(1 << FLAGS[f] for f in part.flags)
    return struct.pack(
        ENTRY_FORMAT,
        ENTRY_MAGIC,
        part.type,
        part.subtype,
        part.offset,
        part.size,
        part.name.encode(),
        flags,
    )


def from_binary(blob):
    """Parse a binary table (checks magic bytes and the MD5 row)."""
    parts = []
    md5 = hashlib.md5()
    for start in range(0, len(blob), ENTRY_BYTES):
        row = blob[start : start + ENTRY_BYTES]
        if len(row) < ENTRY_BYTES:
            break
        if row == b"\xff" * ENTRY_BYTES:
            return parts
        if row[:2] == MD5_MAGIC[:2]:
            if row[16:] != md5.digest():
                raise PartitionError("MD5 of the table does not match")
            continue
        md5.update(row)
        magic, ptype, subtype, offset, size, name, flags = struct.unpack(ENTRY_FORMAT, row)
        if magic != ENTRY_MAGIC:
            raise PartitionError("bad entry magic at byte %d" % start)
        names = [n for n, bit in FLAGS.items() if flags & (1 << bit)]
        parts.append(Partition(name.rstrip(b"\x00").decode(), ptype, subtype, offset, size, names))
    raise PartitionError("no end-of-table marker")


def main(argv=None):
    """Check a table and print its layout; exit status 2 if ESP-IDF would refuse it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--flash-size", default="16MB", help="e.g. 4MB, 16MB")
    parser.add_argument("--binary", help="write the 0xC00-byte binary table here")
    args = parser.parse_args(argv)
    flash = parse_int(args.flash_size.upper().rstrip("B"))
    try:
        with open(args.csv) as f:
            parts = parse_csv(f.read())
        verify(parts, flash)
    except PartitionError as err:
        print("partition table refused: %s" % err, file=sys.stderr)
        return 2
    for p in parts:
        print(
            "%-10s type=0x%02x subtype=0x%02x 0x%07x-0x%07x %6d KiB"
            % (p.name, p.type, p.subtype, p.offset, p.end - 1, p.size // 1024)
        )
    used = max(p.end for p in parts)
    print("ends at 0x%x of 0x%x (%d KiB free)" % (used, flash, (flash - used) // 1024))
    if args.binary:
        with open(args.binary, "wb") as f:
            f.write(to_binary(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
