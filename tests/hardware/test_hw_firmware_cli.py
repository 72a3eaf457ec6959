"""`printfarm firmware`: keys, bundle and signature that a hub (real micropython) accepts."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRINTFARM = pathlib.Path(sys.executable).parent / "printfarm"

pytestmark = pytest.mark.micropython


def cli(*args):
    proc = subprocess.run(
        [str(PRINTFARM), "firmware", *map(str, args)], capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stdout


def test_table_command():
    code, out = cli("table")
    assert code == 0 and "ends at 0x1000000 of 0x1000000" in out


def test_bundle_sign_and_install_on_a_hub(tmp_path):
    keys = tmp_path / "keys"
    code, out = cli("keygen", "--out", keys)
    assert code == 0 and (keys / "release-ed25519.key").stat().st_mode & 0o777 == 0o600
    public = (keys / "release-ed25519.pub").read_bytes()
    assert len(public) == 32
    (keys / "release_key.py").write_text(out.strip().split("  #")[0] + "\n")

    bundle = tmp_path / "app.pfa"
    assert cli("bundle", "--out", bundle)[0] == 0
    code, out = cli(
        "sign",
        bundle,
        "--kind",
        "app",
        "--version",
        "9.0.0",
        "--key",
        keys / "release-ed25519.key",
        "--url",
        "http://example.invalid/app.pfa",
    )
    offer = json.loads(out)
    assert offer["size"] == bundle.stat().st_size and offer["kind"] == "app"

    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    (hub_dir / "app.pfa").write_bytes(bundle.read_bytes())
    # The hub verifies the CLI's signature and installs the real application into slot a.
    code_mp = (
        "import asyncio, binascii, json, loader\n"
        "from device import app_update\n"
        "from device.release import UpdateRefused\n"
        f"offer = json.loads({json.dumps(offer)!r})\n"
        "offer['signature'] = binascii.unhexlify(offer['signature'])\n"
        "async def fetch(url, write):\n"
        "    with open('app.pfa', 'rb') as f:\n"
        "        while True:\n"
        "            chunk = f.read(1500)\n"
        "            if not chunk:\n"
        "                break\n"
        "            await write(chunk)\n"
        "bad = dict(offer, version='9.0.1')\n"
        "try:\n"
        "    asyncio.run(app_update.apply_offer(bad, fetch))\n"
        "except UpdateRefused as e:\n"
        "    print('REFUSED', e.code)\n"
        "print('RESULT', asyncio.run(app_update.apply_offer(offer, fetch)))\n"
        "print('STATE', loader.state()['slot'], loader.state()['trial'], loader.slot_version('a'))\n"
    )
    env = {
        "MICROPYPATH": ":".join(
            [
                ".frozen",
                str(keys),
                str(ROOT / "firmware"),
                str(ROOT / "hardware" / "host"),
                str(ROOT),
            ]
        ),
        "PRINTFARM_HUB_DIR": str(hub_dir),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "micropython"), "-c", code_mp],
        env=env,
        cwd=hub_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "REFUSED bad_command" in proc.stdout, proc.stdout + proc.stderr
    assert (
        "RESULT {'version': '9.0.0', 'slot': 'a'}" in proc.stdout or "'slot': 'a'" in proc.stdout
    ), proc.stdout
    assert "STATE a True 9.0.0" in proc.stdout
    slot = hub_dir / "apps" / "a"
    for name in ("hub/app.py", "net/http.py", "transfer.py", "protocol/__init__.py"):
        assert (slot / name).read_bytes() == (
            (ROOT / "firmware" / name) if not name.startswith("protocol") else ROOT / name
        ).read_bytes()
    assert not (slot / "loader.py").exists() and not (slot / "device").exists()
