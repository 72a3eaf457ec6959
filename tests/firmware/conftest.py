"""Fixtures for the hub-core suites: run firmware in the real MicroPython binary, test PKI."""

import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
MICROPYTHON = REPO / ".venv" / "bin" / "micropython"
MPY_SCRIPTS = Path(__file__).resolve().parent / "mpy"
# The heap every hub-core suite runs with (the smallest that passes is in docs/benchmarks.md).
HEAP = os.environ.get("PRINTFARM_TEST_HEAP", "512K")


def mpy_env(extra=None):
    """Environment for a micropython child: firmware/, hardware/host/ and the repo on its path."""
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join(
        [
            ".frozen",
            str(REPO / "firmware"),
            str(REPO / "hardware" / "host"),
            str(REPO),
            str(MPY_SCRIPTS),
        ]
    )
    if extra:
        env.update(extra)
    return env


def mpy_cmd(script, args=(), heap=HEAP):
    """argv for `micropython -X heapsize=HEAP script args…`."""
    return [str(MICROPYTHON), "-X", "heapsize=" + heap, str(script), *map(str, args)]


def json_lines(text):
    """The JSON objects printed one per line (other lines ignored)."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows


def run_mpy(script, args=(), heap=HEAP, cwd=None, env=None, timeout=60):
    """Run a MicroPython script to completion; returns (returncode, json rows, stdout, stderr)."""
    proc = subprocess.run(
        mpy_cmd(script, args, heap),
        cwd=cwd,
        env=mpy_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, json_lines(proc.stdout), proc.stdout, proc.stderr


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class TestPKI:
    """A throwaway CA plus a server certificate for localhost / 127.0.0.1."""

    __test__ = False  # not a test class

    def __init__(self, directory: Path, cn="PrintFarm Test Cloud CA"):
        self.directory = directory
        now = datetime.datetime.now(datetime.UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name(cn))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_path = directory / "ca.pem"
        self.ca_path.write_bytes(self.ca_pem)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("localhost"))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.cert_path = directory / "server.crt"
        self.key_path = directory / "server.key"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def server_context(self):
        """A TLS server context presenting the localhost certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """The test cloud's CA and server certificate."""
    return TestPKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory):
    """An unrelated CA: a hub trusting it must refuse the test cloud."""
    return TestPKI(tmp_path_factory.mktemp("pki-other"), cn="Some Other CA")


# -- a whole hub (firmware under micropython) against the test cloud ---------------------------
sys.path.insert(0, str(REPO))  # hub_sim and protocol, whatever the working directory

from hub_sim.hub_runner import HubProcess, provision  # noqa: E402
from tests.firmware.cloud_server import TestCloud  # noqa: E402

HUB_SECRET = "factory-secret-7f3a9c"
ACCESS_CODE = "ACCESS-9931-XYZ"


def printer_map(pid, **extra):
    """A configure_printer.printer map for the fake driver."""
    p = {
        "printer_id": pid,
        "connection_type": "bambu",
        "serial": "01S00C" + pid.upper(),
        "ip": "127.0.0.1",
        "access_code": ACCESS_CODE,
        "model": "P1S",
        "name": "Printer " + pid,
    }
    p.update(extra)
    return p


@pytest.fixture
async def cloud(pki):
    """The test cloud over real TLS; .url is what the hub is provisioned with."""
    c = TestCloud(heartbeat_s=30)
    c.url = await c.start(pki.server_context())
    c.ca_pem = pki.ca_pem.decode()
    yield c
    await c.stop()


@pytest.fixture
async def make_hub(tmp_path, pki):
    """make_hub(cloud, hub_id, secret=..., printers=[...]) -> started HubProcess (fake printers)."""
    hubs = []

    async def make(
        cloud, hub_id="hub-1", secret=HUB_SECRET, printers=(), register=True, script=None, **nvs
    ):
        if register:
            cloud.add_hub(hub_id, HUB_SECRET)
        state = tmp_path / hub_id
        values = {
            "hub_id": hub_id,
            "secret": secret,
            "cloud_url": cloud.url,
            "ca": pki.ca_pem.decode(),
            "printers": list(printers),
            "bo_min_ms": 100,
            "bo_max_ms": 1600,
        }
        values.update(nvs)
        provision(state, values)
        proc = HubProcess(
            state,
            heap=HEAP,
            extra_paths=[MPY_SCRIPTS],
            script=script or MPY_SCRIPTS / "fake_hub.py",
        )
        await proc.start()
        hubs.append(proc)
        return proc

    yield make
    for h in hubs:
        await h.stop()
        # Shown by pytest only when the test failed: the hub's console tail.
        print("---- console of", h.state_dir.name, "----")
        print("\n".join(h.lines[-60:]))


def fake_calls(hub):
    """The fake driver's call journal of a hub (survives its reboots)."""
    path = hub.state_dir / "fake_calls.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
