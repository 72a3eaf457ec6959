"""TLS session resumption with a MicroPython built with hardware/patches (when such a binary is at hand).

Set PRINTFARM_PATCHED_MICROPYTHON to a unix-port binary built from the pinned release with the
patch applied; without it the test is skipped (the stock binary has no tls.SSLSession).
"""

import datetime
import os
import socket
import ssl
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.micropython

CLIENT = """
import socket, sys, tls
port = int(sys.argv[1])
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = tls.CERT_NONE
addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
def conn(**kw):
    s = socket.socket()
    s.connect(addr)
    c = ctx.wrap_socket(s, server_hostname="localhost", **kw)
    c.write(b"hi")
    reply = c.read(20)
    return c, reply
c1, r1 = conn()
print("FIRST", r1.decode(), c1.session is c1.session)
saved = bytes(c1.session)
c1.close()
c2, r2 = conn(session=c1.session)
print("SECOND", r2.decode())
c2.close()
c3, r3 = conn(session=tls.SSLSession(saved))
print("THIRD", r3.decode())
c3.close()
try:
    tls.SSLSession(b"not a session")
except OSError:
    print("GARBAGE refused")
"""


def certificate(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_patched_tls_resumes_sessions(tmp_path):
    binary = os.environ.get("PRINTFARM_PATCHED_MICROPYTHON")
    if not binary:
        pytest.skip("set PRINTFARM_PATCHED_MICROPYTHON to a unix build with the TLS session patch")
    certificate(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # what the printers' vsftpd speaks
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    reused = []

    def serve():
        for _ in range(3):
            conn, _ = server.accept()
            with ctx.wrap_socket(conn, server_side=True) as t:
                t.recv(10)
                reused.append(t.session_reused)
                t.sendall(b"reused=%d" % t.session_reused)
                try:
                    t.unwrap()  # OpenSSL keeps a session only if close_notify was sent
                except (OSError, ssl.SSLError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    proc = subprocess.run(
        [binary, str(script), str(server.getsockname()[1])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    thread.join(timeout=10)
    server.close()
    assert "FIRST reused=0 True" in proc.stdout, proc.stdout + proc.stderr
    assert "SECOND reused=1" in proc.stdout and "THIRD reused=1" in proc.stdout
    assert "GARBAGE refused" in proc.stdout
    assert reused == [False, True, True]
