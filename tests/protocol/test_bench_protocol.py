"""`printfarm bench protocol` (tools/bench/protocol.py): runs end to end and records its section."""

import re

import pytest

from protocol.messages import STATUS_KEYS
from tools import cli
from tools.bench import protocol as bench

pytestmark = pytest.mark.micropython


def test_cli_runs_the_benchmark_and_writes_its_section(tmp_path, capsys):
    docs = tmp_path / "benchmarks.md"
    argv = ["bench", "protocol", "--iterations", "3", "--rounds", "1", "--docs", str(docs)]
    assert cli.main([*argv, "--write-docs"]) == 0
    out = capsys.readouterr().out
    assert "micropython-" in out and "C `msgpack`" in out
    text = docs.read_text()
    assert text.startswith("# Benchmarks") and "2 CPU" in text
    assert text.count("<!-- bench:protocol:start -->") == 1
    rates = re.findall(r"\| ([\d,]+) \| ([\d.,]+) \| ([\d,]+) \| ([\d.,]+) \|", text)
    assert len(rates) == 4  # C, pure CPython, MicroPython, JSON
    for row in rates:
        assert all(float(v.replace(",", "")) > 0 for v in row)
    sizes = dict(
        re.findall(r"\| (msgpack \(hub frame\)|JSON, compact separators) \| (\d+) \|", text)
    )
    assert int(sizes["msgpack (hub frame)"]) < int(sizes["JSON, compact separators"])


def test_rewriting_keeps_other_sections(tmp_path):
    docs = tmp_path / "benchmarks.md"
    bench.write_section(docs, "fanout", "## fanout\n\nold fanout\n")
    bench.write_section(docs, "protocol", "## protocol\n\nfirst\n")
    bench.write_section(docs, "api", "## api\n\napi figures\n")
    bench.write_section(docs, "protocol", "## protocol\n\nsecond\n")
    text = docs.read_text()
    assert "first" not in text and text.count("## protocol") == 1 and "second" in text
    assert "old fanout" in text and "api figures" in text
    assert text.index("fanout") < text.index("second") < text.index("api figures")


def test_the_benchmarked_message_is_a_valid_full_status():
    msg = bench.printer_status()
    assert bench.validate(msg, bench.HUB_TO_CLOUD) is msg
    assert set(msg["status"]) == set(STATUS_KEYS) and len(STATUS_KEYS) == 20
