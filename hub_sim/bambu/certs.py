"""Certificates for a simulated printer: a device CA and a leaf with CN=<serial>, like Bambu's."""

from __future__ import annotations

import datetime
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# RSA 2048 keeps start-up fast (real leaves are RSA, some 4096); the key exchange is ECDHE-RSA
# either way, which is what matters to clients.
_KEY_BITS = 2048


@dataclass
class PrinterCertificates:
    """PEM files on disk: `ca_file` for clients that verify, `cert_file`/`key_file` for servers."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


# One device CA per process and one leaf per serial: a farm of simulated printers (or a test
# suite) pays for RSA key generation once, not per start.
_lock = threading.Lock()
_ca: tuple[rsa.RSAPrivateKey, x509.Certificate] | None = None
_leaves: dict[str, tuple[bytes, bytes]] = {}


def _device_ca() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    global _ca
    if _ca is None:
        now = datetime.datetime.now(datetime.UTC)
        key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
        name = _name("PrintFarm Sim Device CA", "PrintFarm hub_sim")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _ca = (key, cert)
    return _ca


def _leaf(serial: str) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) for CN=serial, no SAN (as printers have), signed by the device CA."""
    if serial not in _leaves:
        ca_key, ca_cert = _device_ca()
        now = datetime.datetime.now(datetime.UTC)
        key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(serial, "BBL Technologies Co., Ltd"))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        _leaves[serial] = (
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
        )
    return _leaves[serial]


def generate_certificates(directory, serial: str) -> PrinterCertificates:
    """Write the device CA and the printer's leaf (CN=serial) as PEM files into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _lock:
        _, ca_cert = _device_ca()
        cert_pem, key_pem = _leaf(serial)
    paths = PrinterCertificates(
        ca_file=directory / "ca.pem",
        cert_file=directory / "printer.pem",
        key_file=directory / "printer.key",
    )
    paths.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert_file.write_bytes(cert_pem)
    paths.key_file.write_bytes(key_pem)
    paths.key_file.chmod(0o600)
    return paths


def server_ssl_context(certs: PrinterCertificates) -> ssl.SSLContext:
    """Server context for MQTT and the camera: TLS 1.2, as the ESP32-based P1/A1 speak it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certs.cert_file, certs.key_file)
    return ctx
