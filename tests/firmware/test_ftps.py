"""net.ftps through BambuDriver.send_file in real MicroPython against an implicit-FTPS server."""

import hashlib
from pathlib import Path

import pytest

from tests.firmware import mpy_runner
from tests.firmware.ftps_fixture import ImplicitFTPS
from tests.firmware.tls_certs import TestCA

pytestmark = pytest.mark.micropython

SCRIPT = Path(__file__).parent / "mpy" / "ftps_check.py"
SERIAL = "01P00A000000001"
PATTERN = bytes((i * 31 + 7) & 0xFF for i in range(256))


def pattern(size):
    """The bytes the MicroPython PatternReader produces."""
    return (PATTERN * (size // 256 + 1))[:size]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = TestCA(d)
    cert, key = ca.issue("printer", SERIAL)
    return ca, cert, key


@pytest.fixture
def server(tmp_path, pki):
    ca, cert, key = pki
    s = ImplicitFTPS(tmp_path / "sdcard", cert, key).start()
    yield s
    s.stop()


def upload(server, pki, name, size, *extra):
    ca, *_ = pki
    rc, rows, out, err = mpy_runner.run(
        SCRIPT, ["127.0.0.1", server.port, ca.ca_pem, name, size, *extra], timeout=120
    )
    assert rc == 0 and rows, out + err
    return rows[0]


def test_upload_md5_matches_printer_side(server, pki):
    size = 1024 * 1024 + 123  # not a multiple of any buffer size
    row = upload(server, pki, "job.gcode.3mf", size)
    assert row["ok"], row
    stored = (server.root / "job.gcode.3mf").read_bytes()
    assert len(stored) == size
    expected = hashlib.md5(pattern(size)).hexdigest()
    assert hashlib.md5(stored).hexdigest() == expected == row["md5"]
    assert row["last"] == size


def test_empty_file_is_refused_before_connecting(server, pki):
    row = upload(server, pki, "empty.3mf", 0)
    assert not row["ok"] and row["code"] == "bad_command", row
    assert not (server.root / "empty.3mf").exists()


def test_card_full_is_reported(server, pki):
    server.faults.card_full = True
    row = upload(server, pki, "big.3mf", 200_000)
    assert not row["ok"] and row["code"] == "card_full", row


def test_benign_426_after_complete_upload_is_accepted(server, pki):
    server.faults.final_426 = True
    row = upload(server, pki, "q.3mf", 100_000)
    assert row["ok"], row
    assert (server.root / "q.3mf").stat().st_size == 100_000


def test_printer_drops_mid_upload_partial_removed(server, pki):
    server.faults.drop_after = 300_000
    row = upload(server, pki, "cut.3mf", 1_000_000)
    assert not row["ok"] and row["code"] == "upload_failed", row
    assert 0 < row["progress"] < 1_000_000
    assert not (server.root / "cut.3mf").exists()  # the hub deleted the fragment


def test_wrong_access_code_is_refused(tmp_path, pki):
    ca, cert, key = pki
    s = ImplicitFTPS(tmp_path / "sd", cert, key, password="other999").start()
    try:
        row = upload(s, pki, "x.3mf", 10)
        assert not row["ok"] and row["code"] == "printer_refused", row
        assert "access code" in row["message"]
    finally:
        s.stop()


def test_session_reuse_required_fails_clearly_without_runtime_support(server, pki):
    # Stock MicroPython cannot resume TLS sessions: a printer demanding reuse (X1/P2S) must
    # fail with session_reuse_unsupported whether or not the hub was told in advance.
    server.faults.require_session_reuse = True
    told = upload(server, pki, "r.3mf", 50_000, "reuse")
    untold = upload(server, pki, "r2.3mf", 50_000)
    assert not told["ok"] and told["code"] == "session_reuse_unsupported", told
    assert not untold["ok"] and untold["code"] == "session_reuse_unsupported", untold
    assert not (server.root / "r2.3mf").exists()
