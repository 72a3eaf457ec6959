"""Host esp32.Partition: the hub's partition table backed by files, with ESP-IDF's OTA rules.

What is emulated (ESP-IDF v5 with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y):
- the table is hardware/board/PRINTFARM_HUB_S3/partitions-16MiB-ota.csv, each partition one
  file under $PRINTFARM_HUB_DIR/flash/ (missing bytes read as erased flash, 0xFF);
- NOR flash: erase in 4 KiB sectors; a write without erase can only clear bits;
- otadata: two sectors, each an esp_ota_select_entry_t (sequence, state, CRC); set_boot()
  checks the image and writes a new sequence with state NEW into the inactive sector;
- the bootloader (runs once per process, at first import): boots the valid entry with the
  highest sequence; NEW becomes PENDING_VERIFY; an entry still PENDING_VERIFY at the next boot
  becomes ABORTED and the previous app boots (the rollback); a slot whose image does not check
  is skipped; with no valid entry it boots the first app that checks;
- mark_app_valid_cancel_rollback() turns the running entry's PENDING_VERIFY into VALID.
On first use the empty flash gets a "factory flashed" image in ota_0 whose version is
$PRINTFARM_FIRMWARE_VERSION (default 0.0.0+host), as `esptool write_flash` leaves a new hub.
"""

import binascii
import os
import struct

import _app_image
import _hubdir

SECTOR = 4096
ERASED = 0xFF
SUBTYPE_ANY = 0xFF
OTA_SUBTYPE_MIN = 0x10
OTA_ENTRY = "<I20sII"  # esp_ota_select_entry_t: ota_seq, seq_label, ota_state, crc
OTA_ENTRY_BYTES = 32
SEQ_EMPTY = 0xFFFFFFFF

# esp_ota_img_states_t
IMG_NEW = 0x0
IMG_PENDING_VERIFY = 0x1
IMG_VALID = 0x2
IMG_INVALID = 0x3
IMG_ABORTED = 0x4
IMG_UNDEFINED = 0xFFFFFFFF

_TYPES = {"app": 0x00, "data": 0x01}
_SUBTYPES = {
    "factory": 0x00,
    "test": 0x20,
    "ota": 0x00,
    "phy": 0x01,
    "nvs": 0x02,
    "coredump": 0x03,
    "nvs_keys": 0x04,
    "efuse": 0x05,
    "undefined": 0x06,
    "fat": 0x81,
    "spiffs": 0x82,
    "littlefs": 0x83,
}
for _n in range(16):
    _SUBTYPES["ota_%d" % _n] = OTA_SUBTYPE_MIN + _n
_ERASED_SECTOR = b"\xff" * SECTOR  # comparison template (RAM cost: 4 KiB)


def _table_path():
    override = os.getenv("PRINTFARM_PARTITION_TABLE")
    if override:
        return override
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    return here + "/../board/PRINTFARM_HUB_S3/partitions-16MiB-ota.csv"


def _load_table():
    rows = []
    with open(_table_path()) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, ptype, subtype, offset, size = [x.strip() for x in line.split(",")[:5]]
            sub = _SUBTYPES[subtype] if subtype in _SUBTYPES else int(subtype, 0)
            rows.append((name, _TYPES.get(ptype, 0x01), sub, int(offset, 0), int(size, 0)))
    return rows


_TABLE = _load_table()


def _row(label):
    for row in _TABLE:
        if row[0] == label:
            return row
    return None


def _ota_apps():
    return [r for r in _TABLE if r[1] == 0x00 and OTA_SUBTYPE_MIN <= r[2] < OTA_SUBTYPE_MIN + 16]


# --- raw flash -------------------------------------------------------------------------


def _read(label, offset, n):
    size = _row(label)[4]
    if offset < 0 or n < 0 or offset + n > size:
        raise OSError(22)  # ESP_ERR_INVALID_SIZE: outside the partition
    try:
        with open(_hubdir.flash_path(label), "rb") as f:
            f.seek(offset)
            data = f.read(n)
    except OSError:
        data = b""
    return data + b"\xff" * (n - len(data))


def _store(label, offset, data):
    name = _hubdir.flash_path(label)
    try:
        length = os.stat(name)[6]
    except OSError:
        with open(name, "wb"):
            pass
        length = 0
    with open(name, "r+b") as f:
        if length < offset:
            f.seek(length)
            gap = offset - length
            while gap:
                step = min(gap, SECTOR)
                f.write(_ERASED_SECTOR[:step])
                gap -= step
        f.seek(offset)
        f.write(data)


def _erase(label, offset, n):
    if offset % SECTOR or n % SECTOR:
        raise OSError(22)  # ESP_ERR_INVALID_ARG: erase is by whole sectors
    if offset + n > _row(label)[4]:
        raise OSError(22)
    pos = offset
    while pos < offset + n:
        _store(label, pos, _ERASED_SECTOR)
        pos += SECTOR


def _program(label, offset, data):
    """Write without erase: NOR flash can only turn 1 bits into 0 bits."""
    old = _read(label, offset, len(data))
    if old == _ERASED_SECTOR[: len(data)]:
        _store(label, offset, data)
    else:
        _store(label, offset, bytes([a & b for a, b in zip(old, data)]))


# --- otadata ---------------------------------------------------------------------------


def _crc(seq):
    return binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF


def _entries():
    out = []
    for sector in (0, 1):
        seq, label, state, crc = struct.unpack(
            OTA_ENTRY, _read("otadata", sector * SECTOR, OTA_ENTRY_BYTES)
        )
        out.append([seq, state, crc])
    return out


def _entry_valid(entry):
    seq, state, crc = entry
    return seq != SEQ_EMPTY and crc == _crc(seq) and state not in (IMG_INVALID, IMG_ABORTED)


def _active_index(entries):
    best = -1
    for i, entry in enumerate(entries):
        if _entry_valid(entry) and (best < 0 or entry[0] > entries[best][0]):
            best = i
    return best


def _write_entry(index, seq, state):
    _erase("otadata", index * SECTOR, SECTOR)
    raw = struct.pack(OTA_ENTRY, seq, b"\xff" * 20, state, _crc(seq))
    _program("otadata", index * SECTOR, raw)


def _set_state(index, state):
    seq = _entries()[index][0]
    _write_entry(index, seq, state)


def _slot_of(seq):
    apps = _ota_apps()
    return apps[(seq - 1) % len(apps)][0]


def _image_ok(label):
    row = _row(label)
    try:
        _app_image.check(lambda off, n: _read(label, off, n), row[4])
        return True
    except (ValueError, OSError):
        return False


def image_version(label):
    """Version string in the app description of the image in a partition (None if no image)."""
    row = _row(label)
    try:
        return _app_image.check(lambda off, n: _read(label, off, n), row[4])[1]
    except (ValueError, OSError):
        return None


# --- the bootloader --------------------------------------------------------------------


def _factory_flash():
    first = _ota_apps()[0][0]
    try:
        os.stat(_hubdir.flash_path(first))
        return
    except OSError:
        pass
    version = os.getenv("PRINTFARM_FIRMWARE_VERSION") or "0.0.0+host"
    _store(first, 0, _app_image.build(version, b"host firmware image"))


def _boot():
    """Choose the app to run, applying the rollback rules; returns its label."""
    _factory_flash()
    entries = _entries()
    while True:
        index = _active_index(entries)
        if index < 0:
            break
        state = entries[index][1]
        if state == IMG_PENDING_VERIFY:
            # Booted once and never confirmed: the app failed its health check. Roll back.
            print("bootloader: %s was not confirmed, rolling back" % _slot_of(entries[index][0]))
            _set_state(index, IMG_ABORTED)
            entries = _entries()
            continue
        label = _slot_of(entries[index][0])
        if not _image_ok(label):
            print("bootloader: image in %s does not check, skipping it" % label)
            _set_state(index, IMG_ABORTED)
            entries = _entries()
            continue
        if state == IMG_NEW:
            _set_state(index, IMG_PENDING_VERIFY)
        return label
    for row in _ota_apps():  # no usable otadata entry: first app image that checks
        if _image_ok(row[0]):
            return row[0]
    raise OSError("bootloader: no bootable app image")


_running = _boot()


# --- esp32.Partition -------------------------------------------------------------------


class Partition:
    """esp32.Partition over the emulated flash (same methods, constants and errors)."""

    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=SECTOR):
        if id == Partition.RUNNING:
            label = _running
        elif id == Partition.BOOT:
            label = Partition._boot_label()
        elif isinstance(id, str):
            label = id
        else:
            raise ValueError()
        row = _row(label)
        if row is None:
            raise OSError(2)  # ENOENT: no partition with that label
        self._row = row
        self._block = block_size

    @staticmethod
    def _boot_label():
        index = _active_index(_entries())
        if index < 0:
            return _ota_apps()[0][0]
        return _slot_of(_entries()[index][0])

    @staticmethod
    def find(type=TYPE_APP, subtype=SUBTYPE_ANY, label=None, block_size=SECTOR):
        """Partitions matching type, subtype and label, in table order."""
        found = []
        for row in _TABLE:
            if row[1] != type:
                continue
            if subtype != SUBTYPE_ANY and row[2] != subtype:
                continue
            if label is not None and row[0] != label:
                continue
            found.append(Partition(row[0], block_size))
        return found

    def info(self):
        """(type, subtype, address, size, label, encrypted)."""
        name, ptype, subtype, offset, size = self._row
        return (ptype, subtype, offset, size, name, False)

    def readblocks(self, block_num, buf, offset=0):
        """Read len(buf) bytes from block_num * block_size + offset."""
        data = _read(self._row[0], block_num * self._block + offset, len(buf))
        buf[: len(data)] = data

    def writeblocks(self, block_num, buf, offset=None):
        """Erase then write (3 args), or write into already-erased flash (4 args)."""
        start = block_num * self._block
        label = self._row[0]
        if offset is None:
            if start + len(buf) > self._row[4]:
                raise OSError(22)
            # The port erases the sectors and writes back what lies outside the range.
            _store(label, start, bytes(buf))
        else:
            _program(label, start + offset, bytes(buf))

    def ioctl(self, op, arg):
        """Block-device ioctl: 4 block count, 5 block size, 6 erase one block."""
        if op in (1, 2, 3):
            return 0
        if op == 4:
            return self._row[4] // self._block
        if op == 5:
            return self._block
        if op == 6:
            if self._block != SECTOR:
                return -22
            _erase(self._row[0], arg * SECTOR, SECTOR)
            return 0
        return None

    def set_boot(self):
        """Boot this app next (esp_ota_set_boot_partition): refuses an image that does not check."""
        name, ptype = self._row[0], self._row[1]
        if ptype != 0x00:
            raise OSError(22)
        if not _image_ok(name):
            raise OSError(0x1503)  # ESP_ERR_OTA_VALIDATE_FAILED
        apps = [r[0] for r in _ota_apps()]
        slot = apps.index(name)
        entries = _entries()
        active = _active_index(entries)
        if active < 0:
            seq, target = slot + 1, 0
        else:
            seq = entries[active][0] + 1
            while (seq - 1) % len(apps) != slot:
                seq += 1
            target = 1 - active
        _write_entry(target, seq, IMG_NEW)

    def get_next_update(self):
        """The OTA partition after this one (esp_ota_get_next_update_partition)."""
        apps = [r[0] for r in _ota_apps()]
        if self._row[0] not in apps:
            return Partition(apps[0])
        return Partition(apps[(apps.index(self._row[0]) + 1) % len(apps)])

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        """Confirm the running app: its PENDING_VERIFY entry becomes VALID."""
        entries = _entries()
        index = _active_index(entries)
        if index >= 0 and _slot_of(entries[index][0]) == _running:
            if entries[index][1] == IMG_PENDING_VERIFY:
                _set_state(index, IMG_VALID)

    def __repr__(self):
        name, ptype, subtype, offset, size = self._row
        return "<Partition type=%u, subtype=%u, address=%u, size=%u, label=%s, encrypted=0>" % (
            ptype,
            subtype,
            offset,
            size,
            name,
        )
