"""`printfarm firmware keygen|sign|bundle|table`: release keys, signed update offers, app bundles.

The build of the firmware image itself needs ESP-IDF (hardware/README.md). These commands do
the rest of a release on any machine: make the Ed25519 release key pair, pack the
application into a bundle for A/B updates, sign an image or bundle the way
firmware/device/release.py verifies it, and check the partition table.
"""

import hashlib
import importlib.util
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
TABLE = ROOT / "hardware" / "board" / "PRINTFARM_HUB_S3" / "partitions-16MiB-ota.csv"
# What an application bundle carries (what slots may replace); device/, loader.py, main.py and
# release_key.py stay in the frozen firmware image only.
APP_TREES = [(FIRMWARE, ["hub", "net", "drivers", "transfer.py"]), (ROOT, ["protocol"])]
DOMAIN = b"printfarm-update\x00"


def signed_message(kind: str, version: str, size: int, sha256_hex: str) -> bytes:
    """The bytes the release key signs (same layout as firmware/device/release.py)."""
    return (
        DOMAIN
        + kind.encode()
        + b"\x00"
        + version.encode()
        + b"\x00"
        + str(size).encode()
        + b"\x00"
        + bytes.fromhex(sha256_hex)
    )


def _load(path: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def register(subparsers) -> None:
    """Add the `firmware` group."""
    parser = subparsers.add_parser("firmware", help="release keys, signed updates, app bundles")
    sub = parser.add_subparsers(dest="firmware_command", metavar="ACTION")
    sub.required = True

    keygen = sub.add_parser(
        "keygen", help="new Ed25519 release key pair (private PEM + raw public)"
    )
    keygen.add_argument("--out", default=".", help="folder for release-ed25519.{key,pub}")
    keygen.set_defaults(func=_keygen)

    sign = sub.add_parser(
        "sign", help="sign an image or bundle; prints the ota_update fields as JSON"
    )
    sign.add_argument("file")
    sign.add_argument("--kind", choices=["firmware", "app"], required=True)
    sign.add_argument("--version", required=True)
    sign.add_argument("--key", required=True, help="release-ed25519.key (PEM)")
    sign.add_argument("--url", default="", help="download URL to put in the offer")
    sign.set_defaults(func=_sign)

    bundle = sub.add_parser(
        "bundle", help="pack the application (hub, net, drivers, protocol) for A/B updates"
    )
    bundle.add_argument("--out", required=True)
    bundle.set_defaults(func=_bundle)

    table = sub.add_parser("table", help="check the partition table by ESP-IDF's rules")
    table.add_argument("csv", nargs="?", default=str(TABLE))
    table.add_argument("--flash-size", default="16MB")
    table.set_defaults(func=_table)


def _keygen(args) -> int:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(out / "release-ed25519.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    (out / "release-ed25519.pub").write_bytes(public)
    print(f"PUBLIC_KEY = {public!r}  # firmware/release_key.py of release builds")
    return 0


def _sign(args) -> int:
    from cryptography.hazmat.primitives import serialization

    data = pathlib.Path(args.file).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    key = serialization.load_pem_private_key(pathlib.Path(args.key).read_bytes(), password=None)
    signature = key.sign(signed_message(args.kind, args.version, len(data), sha))
    offer = {
        "kind": args.kind,
        "version": args.version,
        "url": args.url,
        "size": len(data),
        "sha256": sha,
        "signature": signature.hex(),
    }
    print(json.dumps(offer))
    return 0


def application_files():
    """[(path inside the bundle, bytes)] of the application, sorted."""
    files = []
    for base, names in APP_TREES:
        for name in names:
            path = base / name
            found = [path] if path.is_file() else sorted(path.rglob("*.py"))
            for file in found:
                if "__pycache__" not in file.parts:
                    files.append((file.relative_to(base).as_posix(), file.read_bytes()))
    return sorted(files)


def _bundle(args) -> int:
    bundle = _load(FIRMWARE / "device" / "app_bundle.py", "app_bundle")
    files = application_files()
    data = bundle.pack(files)
    pathlib.Path(args.out).write_bytes(data)
    print(f"{args.out}: {len(files)} files, {len(data)} bytes")
    return 0


def _table(args) -> int:
    checker = _load(ROOT / "hardware" / "tools" / "partition_table.py", "partition_table")
    return checker.main([args.csv, "--flash-size", args.flash_size])


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: printfarm firmware ...")
