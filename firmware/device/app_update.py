"""Application A/B update: download a signed bundle, unpack it into the idle slot, hand it to the loader.

The offer's signature is checked before the download; the bundle is streamed to a file
while hashed (one small buffer), and only when size and SHA-256 match is it unpacked into the
slot the loader is not running. The slot's VERSION file is written last, then
loader.install() puts it on trial from the next boot; the application's health check calls
loader.mark_good(), otherwise the loader falls back (see loader.py).
"""

import binascii
import hashlib
import os

import loader
from micropython import const

from device.app_bundle import BundleError, unpack
from device.release import UpdateRefused, check_offer

MAX_BUNDLE = const(2 * 1024 * 1024)  # largest application bundle accepted (filesystem space)


def _rmtree(path):
    try:
        entries = list(os.ilistdir(path))
    except OSError:
        return
    for entry in entries:
        child = path + "/" + entry[0]
        if entry[1] == 0x4000:  # directory
            _rmtree(child)
        else:
            os.remove(child)
    os.rmdir(path)


def _ensure_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass


async def apply_offer(offer, fetch, public_key=None):
    """Install an ota_update of kind app into the idle slot; returns {"version", "slot"}.

    fetch(url, write) streams the body into `await write(chunk)`. Raises UpdateRefused on
    a bad offer or signature, a failed download, a size or SHA-256 mismatch or a bad bundle;
    the running slot and the loader's state are then untouched.
    """
    sha = check_offer(offer, "app", MAX_BUNDLE, public_key)
    slot = loader.inactive_slot()
    _ensure_dir(loader.APPS_DIR)
    staging = loader.APPS_DIR + "/" + slot + ".download"
    digest = hashlib.sha256()
    total = [0]
    try:
        with open(staging, "wb") as out:

            async def write(chunk):
                total[0] += len(chunk)
                if total[0] > offer["size"]:
                    raise UpdateRefused("download_failed", "bundle longer than announced")
                digest.update(chunk)
                out.write(chunk)

            try:
                await fetch(offer["url"], write)
            except UpdateRefused:
                raise
            except Exception as e:
                raise UpdateRefused("download_failed", "download: %r" % (e,))
        got = binascii.hexlify(digest.digest()).decode()
        if total[0] != offer["size"]:
            raise UpdateRefused("download_failed", "got %d of %d bytes" % (total[0], offer["size"]))
        if got != sha:
            raise UpdateRefused("download_failed", "sha256 mismatch: got %s" % got)
        target = loader.slot_dir(slot)
        _rmtree(target)
        _ensure_dir(target)
        try:
            unpack(staging, target)
        except BundleError as e:
            _rmtree(target)
            raise UpdateRefused("bad_command", "bundle: %s" % e)
        with open(target + "/" + loader.VERSION_FILE, "w") as f:
            f.write(offer["version"])
    finally:
        try:
            os.remove(staging)
        except OSError:
            pass
    loader.install(slot, offer["version"])
    return {"version": offer["version"], "slot": slot}
