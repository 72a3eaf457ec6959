"""Unmodified third-party clients against the simulated printer: bambulabs-api, ftplib, curl."""

from __future__ import annotations

import asyncio
import ftplib
import io
import random
import socket
import ssl
import subprocess
import time

import pytest
from bambulabs_api import GcodeState, Printer
from bambulabs_api.camera_client import PrinterCamera
from bambulabs_api.ftp_client import PrinterFTPClient
from bambulabs_api.mqtt_client import PrinterMQTTClient

from hub_sim.bambu import SimulatedBambuPrinter
from hub_sim.threemf import write_3mf
from tests.hub_sim.mqtt_client import ACCESS_CODE, GUARD_S

SERIAL_P1S = "01P00A391800002"


async def start_on_default_ports(tmp_path, **kwargs):
    """A printer on 8883/990/6000 of a random 127.x.y.z, so clients need no port settings.

    Without the privilege to bind port 990 it falls back to OS-chosen ports (see `make_client`).
    """
    for _ in range(20):
        alias = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        printer = SimulatedBambuPrinter(
            SERIAL_P1S,
            ACCESS_CODE,
            host=alias,
            mqtt_port=8883,
            ftps_port=990,
            camera_port=6000,
            workdir=tmp_path / alias,
            **kwargs,
        )
        try:
            await printer.start()
        except PermissionError:
            break
        except OSError:
            continue
        return printer
    printer = SimulatedBambuPrinter(
        SERIAL_P1S,
        ACCESS_CODE,
        mqtt_port=0,
        ftps_port=0,
        camera_port=0,
        workdir=tmp_path / "ephemeral",
        **kwargs,
    )
    await printer.start()
    return printer


def make_client(printer) -> Printer:
    """bambulabs-api's Printer; its own sub-clients get the ports only if they are not the
    printer defaults (their constructors take a port)."""
    client = Printer(printer.advertise_ip, ACCESS_CODE, printer.serial)
    if (printer.mqtt_port, printer.ftps_port, printer.camera_port) != (8883, 990, 6000):
        ip = printer.advertise_ip
        client.mqtt_client = PrinterMQTTClient(
            ip, ACCESS_CODE, printer.serial, port=printer.mqtt_port
        )
        client.ftp_client = PrinterFTPClient(ip, ACCESS_CODE, port=printer.ftps_port)
        client.camera_client = PrinterCamera(ip, ACCESS_CODE, port=printer.camera_port)
    return client


def wait_until(predicate, what):
    """Poll a synchronous client (bambulabs-api is threaded) until `predicate` holds."""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_bambulabs_api_uploads_starts_and_sees_finish(tmp_path):
    printer = await start_on_default_ports(tmp_path, model="P1S", speed=2000, report_interval=0.2)
    info = write_3mf(tmp_path / "benchy.gcode.3mf", print_time_s=1800, layers=40)
    try:

        def drive():
            client = make_client(printer)
            client.connect()
            try:
                wait_until(client.mqtt_client_ready, "first report")
                wait_until(lambda: client.get_state() == GcodeState.IDLE, "IDLE")
                assert client.mqtt_client.firmware_version() == printer.model.ota_version
                assert client.get_bed_temperature() > 0
                assert client.nozzle_type().value == "stainless_steel"
                assert len(client.ams_hub()[0].filament_trays) == 4
                with info.path.open("rb") as f:
                    reply = client.upload_file(f, "benchy.gcode.3mf")
                assert reply.startswith("226")
                assert client.start_print("benchy.gcode.3mf", 1)
                wait_until(lambda: client.get_state() == GcodeState.FINISH, "FINISH")
                assert client.get_percentage() == 100
                assert client.current_layer_num() == client.total_layer_num() == 40
                wait_until(lambda: client.camera_client.last_frame is not None, "camera frame")
                return bytes(client.camera_client.last_frame)
            finally:
                client.disconnect()

        frame = await asyncio.to_thread(drive)
        assert frame[:4] == b"\xff\xd8\xff\xe0" and frame[-2:] == b"\xff\xd9"
        assert (printer.sd_path / "benchy.gcode.3mf").read_bytes() == info.path.read_bytes()
    finally:
        await printer.stop()


class ImplicitFTPS(ftplib.FTP_TLS):
    """The usual implicit-FTPS subclass (as in ha-bambulab / bambulabs-api)."""

    def __init__(self, *args, reuse_session=True, unwrap_after_upload=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._sock = None
        self.reuse_session = reuse_session
        self.unwrap_after_upload = unwrap_after_upload

    @property
    def sock(self):
        """The control socket (wrapped in TLS as soon as it is set: implicit FTPS)."""
        return self._sock

    @sock.setter
    def sock(self, value):
        if value is not None and not isinstance(value, ssl.SSLSocket):
            value = self.context.wrap_socket(value)
        self._sock = value

    def storbinary(self, cmd, fp, blocksize=32768, callback=None, rest=None):
        """Upload without TLS unwrap (printers do not answer close_notify; HA and
        bambulabs-api skip it the same way)."""
        if not self.unwrap_after_upload:
            self.voidcmd("TYPE I")
            with self.transfercmd(cmd, rest) as conn:
                while buf := fp.read(blocksize):
                    conn.sendall(buf)
            return self.voidresp()
        return super().storbinary(cmd, fp, blocksize, callback, rest)

    def ntransfercmd(self, cmd, rest=None):
        """Wrap the data socket after the 1xx reply, resuming the control session."""
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            session = self.sock.session if self.reuse_session else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


def ftps_login(port, *, reuse_session=True, password=ACCESS_CODE, timeout=GUARD_S, unwrap=False):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ftp = ImplicitFTPS(
        context=ctx, reuse_session=reuse_session, unwrap_after_upload=unwrap, timeout=timeout
    )
    ftp.connect("127.0.0.1", port)
    ftp.login("bblp", password)
    ftp.prot_p()
    return ftp


@pytest.fixture
async def x1c(tmp_path):
    """An X1C: vsftpd with TLS session reuse required."""
    async with SimulatedBambuPrinter(
        "00M09C452703629",
        ACCESS_CODE,
        model="X1C",
        mqtt_port=0,
        ftps_port=0,
        camera_port=None,
        workdir=tmp_path / "x1c",
    ) as p:
        yield p


async def test_ftplib_upload_list_size_download_delete(x1c):
    payload = random.Random(1).randbytes(300_000)

    def session():
        ftp = ftps_login(x1c.ftps_port)
        assert ftp.getwelcome() == "220 (vsFTPd 3.0.3)"
        assert ftp.storbinary("STOR job.3mf", io.BytesIO(payload)).startswith("226")
        lines = []
        ftp.retrlines("LIST", lines.append)
        assert ftp.size("job.3mf") == len(payload)
        got = io.BytesIO()
        ftp.retrbinary("RETR job.3mf", got.write)
        names = ftp.nlst()
        ftp.mkd("/model")
        ftp.cwd("/cache")
        assert ftp.pwd() == "/cache"
        ftp.delete("/job.3mf")
        with pytest.raises(ftplib.error_perm, match="550"):
            ftp.size("/job.3mf")
        ftp.quit()
        return lines, got.getvalue(), names

    lines, downloaded, names = await asyncio.to_thread(session)
    assert downloaded == payload
    job_line = next(line for line in lines if line.endswith(" job.3mf"))
    assert job_line.startswith("-rw-r--r--    1 1000     1000")
    assert str(len(payload)) in job_line.split()
    assert {"cache", "timelapse", "image", "logger", "job.3mf"} <= set(names)
    assert (x1c.sd_path / "model").is_dir()


async def test_client_without_session_reuse_is_refused_while_required(x1c):
    def attempt():
        ftp = ftps_login(x1c.ftps_port, reuse_session=False)
        try:
            ftp.storbinary("STOR nr.3mf", io.BytesIO(b"x" * 50_000))
        except (ssl.SSLError, OSError, ftplib.Error) as exc:
            return exc
        finally:
            ftp.close()
        return None

    assert x1c.ftps_session_reuse  # X1 default
    error = await asyncio.to_thread(attempt)
    assert error is not None
    assert not (x1c.sd_path / "nr.3mf").exists()
    x1c.set_ftps_session_reuse(False)
    assert await asyncio.to_thread(attempt) is None
    assert (x1c.sd_path / "nr.3mf").stat().st_size == 50_000


async def test_control_reply_522_when_data_session_not_resumed(x1c):
    """A client reading the control channel sees vsftpd's 522."""

    def attempt():
        ftp = ftps_login(x1c.ftps_port, reuse_session=False)
        try:
            ftp.voidcmd("TYPE A")
            conn = ftp.transfercmd("LIST")
            # Wait for the printer's verdict: it closes the data channel once its side of the
            # handshake shows no resumed session (closing first would race it into a 426).
            conn.settimeout(10)
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass
            conn.close()
            return ftp.getresp()
        except ftplib.Error as exc:
            return str(exc)
        finally:
            ftp.close()

    assert (await asyncio.to_thread(attempt)).startswith("522")


async def test_wrong_ftps_password_is_refused(x1c):
    def attempt():
        with pytest.raises(ftplib.error_perm, match="530 Login incorrect"):
            ftps_login(x1c.ftps_port, password="nope")

    await asyncio.to_thread(attempt)


def run_curl(*args):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=60)


async def test_curl_implicit_ftps_upload_and_list(x1c, tmp_path):
    src = tmp_path / "curl.3mf"
    src.write_bytes(b"c" * 123_456)
    url = f"ftps://127.0.0.1:{x1c.ftps_port}/"
    auth = f"bblp:{ACCESS_CODE}"
    # Like a real printer, the certificate names the serial and carries no IP: verifying
    # the name fails even with the right CA, so clients skip verification (-k).
    verified = await asyncio.to_thread(run_curl, "--cacert", str(x1c.ca_file), "-u", auth, url)
    assert verified.returncode == 60, verified.stderr
    up = await asyncio.to_thread(run_curl, "-k", "-u", auth, "-T", str(src), url)
    assert up.returncode == 0, up.stderr
    listing = await asyncio.to_thread(run_curl, "-k", "-u", auth, url)
    assert listing.returncode == 0, listing.stderr
    assert any(line.endswith(" curl.3mf") for line in listing.stdout.splitlines())
    assert (x1c.sd_path / "curl.3mf").read_bytes() == src.read_bytes()
    wrong = await asyncio.to_thread(run_curl, "-k", "-u", "bblp:wrong", url)
    assert wrong.returncode == 67  # curl: login denied


async def test_data_tls_handshake_before_the_command_gets_no_answer(x1c):
    """Printers start data-channel TLS after the 150 reply; an early handshake just waits."""

    def attempt():
        ftp = ftps_login(x1c.ftps_port)
        try:
            _, port = ftplib.parse227(ftp.sendcmd("PASV"))
            raw = socket.create_connection(("127.0.0.1", port), timeout=GUARD_S)
            raw.settimeout(1.0)  # failure guard: a printer never answers this handshake
            try:
                ftp.context.wrap_socket(raw, server_hostname="printer", session=ftp.sock.session)
            except TimeoutError:
                return "no answer"
            except (OSError, ssl.SSLError) as exc:
                return repr(exc)
            finally:
                raw.close()
            return "handshake completed"
        finally:
            ftp.close()

    assert await asyncio.to_thread(attempt) == "no answer"


async def test_stdlib_unwrap_after_upload_waits_like_on_a_printer(x1c):
    """stdlib storbinary sends close_notify and waits for the answer a printer never gives."""

    def upload(timeout):
        ftp = ftps_login(x1c.ftps_port, unwrap=True, timeout=timeout)
        try:
            return ftp.storbinary("STOR u.3mf", io.BytesIO(b"u" * 10_000))
        except TimeoutError:
            return "waited"
        finally:
            ftp.close()

    assert await asyncio.to_thread(upload, 1.0) == "waited"  # 1 s: failure guard only
    assert (x1c.sd_path / "u.3mf").stat().st_size == 10_000  # the data itself arrived
    x1c.ftps_reply_close_notify = True  # a lenient server answers, and stdlib then works
    assert (await asyncio.to_thread(upload, GUARD_S)).startswith("226")
