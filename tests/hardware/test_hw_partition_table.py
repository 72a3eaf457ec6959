"""The hub's partition table follows ESP-IDF's rules and fits 16 MiB; the checker refuses bad tables."""

import pathlib

import pytest

BOARD = pathlib.Path(__file__).resolve().parents[2] / "hardware" / "board" / "PRINTFARM_HUB_S3"

MIB = 1024 * 1024
TABLE = BOARD / "partitions-16MiB-ota.csv"

# ESP-IDF's documented "Factory app, two OTA definitions" table, with offsets left empty so
# the checker must place them the way ESP-IDF does.
IDF_TWO_OTA_AUTO = """
nvs,      data, nvs,     ,        0x4000,
otadata,  data, ota,     ,        0x2000,
phy_init, data, phy,     ,        0x1000,
factory,  app,  factory, ,        1M,
ota_0,    app,  ota_0,   ,        1M,
ota_1,    app,  ota_1,   ,        1M,
"""


def parts_by_name(ptable, text, flash=16 * MIB):
    parts = ptable.parse_csv(text)
    ptable.verify(parts, flash)
    return {p.name: p for p in parts}


def test_hub_table_parses_and_fits_16mib(ptable):
    parts = parts_by_name(ptable, TABLE.read_text())
    assert max(p.end for p in parts.values()) <= 16 * MIB
    ota = [p for p in parts.values() if p.type == ptable.APP]
    assert sorted(p.subtype for p in ota) == [0x10, 0x11]
    assert ota[0].size == ota[1].size >= 3 * MIB
    assert parts["otadata"].size == 0x2000
    # Larger than MicroPython's stock NVS (0x6000 at most in ports/esp32/partitions-*.csv).
    assert parts["nvs"].size > 0x6000
    # MicroPython's flashbdev mounts the data partition labelled "vfs".
    assert parts["vfs"].type == ptable.DATA and parts["vfs"].size >= 8 * MIB


def test_hub_table_does_not_fit_8mib(ptable):
    with pytest.raises(ptable.PartitionError, match="past the end"):
        parts_by_name(ptable, TABLE.read_text(), flash=8 * MIB)


def test_empty_offsets_are_filled_like_esp_idf(ptable):
    parts = parts_by_name(ptable, IDF_TWO_OTA_AUTO)
    assert [
        hex(parts[n].offset) for n in ("nvs", "otadata", "phy_init", "factory", "ota_0", "ota_1")
    ] == ["0x9000", "0xd000", "0xf000", "0x10000", "0x110000", "0x210000"]


def test_binary_round_trip_and_md5(ptable):
    parts = ptable.parse_csv(TABLE.read_text())
    blob = ptable.to_binary(parts)
    assert len(blob) == 0xC00
    assert blob[:2] == b"\xaa\x50"
    again = ptable.from_binary(blob)
    assert [(p.name, p.type, p.subtype, p.offset, p.size) for p in again] == [
        (p.name, p.type, p.subtype, p.offset, p.size) for p in parts
    ]
    corrupted = bytearray(blob)
    corrupted[8] ^= 0x01  # flip a bit of the first entry's size
    with pytest.raises(ptable.PartitionError, match="MD5"):
        ptable.from_binary(bytes(corrupted))


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "nvs, data, nvs, 0x9000, 0x6000\nfactory, app, factory, 0x18000, 1M",
            "not aligned to 0x10000",
        ),
        ("nvs, data, nvs, 0x9800, 0x6000", "not aligned to 0x1000"),
        ("nvs, data, nvs, 0x9000, 0x6000\nphy, data, phy, 0xe000, 0x1000", "overlaps"),
        ("nvs, data, nvs, 0x9000, 0x6000\nnvs, data, phy, 0xf000, 0x1000", "unique"),
        ("a_name_of_seventeen, data, nvs, 0x9000, 0x6000", "longer than 16"),
        ("nvs, data, nvs, 0x9000, 0x6000\notadata, data, ota, 0xf000, 0x1000", "exactly 0x2000"),
        ("od1, data, ota, 0x9000, 0x2000\nod2, data, ota, 0xb000, 0x2000", "only one otadata"),
        ("nvs, data, nvs, 0x9000, 0x2000", "at least 0x3000"),
        ("nvs, data, nvs, 0x9000, 0x6000\nbig, app, factory, 0x10000, 17M", "past the end"),
        ("nvs, data, nvs, 0x9000, 0x6000, bogus", "unknown flag"),
        ("nvs, data, nvs_typo, 0x9000, 0x6000", "not valid"),
        ("app0, app, , 0x10000, 1M", "needs a subtype"),
        ("nvs, data, nvs, 0x9000, 0x6000\nota_0, app, ota_0, 0x10000, 1M", "need an otadata"),
        ("nvs, data, nvs, 0x7000, 0x6000", "overlaps"),
        ("nvs, data, nvs, 0x9000, 0x6800", "not a multiple"),
        ("factory, app, factory, 0x10000, 1M, readonly", "cannot be readonly"),
    ],
)
def test_bad_tables_are_refused(ptable, text, message):
    with pytest.raises(ptable.PartitionError, match=message):
        parts_by_name(ptable, text)


def test_command_line(ptable, tmp_path, capsys):
    out = tmp_path / "table.bin"
    assert ptable.main([str(TABLE), "--flash-size", "16MB", "--binary", str(out)]) == 0
    assert out.stat().st_size == 0xC00
    assert "vfs" in capsys.readouterr().out
    assert ptable.main([str(TABLE), "--flash-size", "4MB"]) == 2
