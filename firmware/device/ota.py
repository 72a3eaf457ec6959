"""Firmware OTA through esp32.Partition: stream, verify hash and signature, set_boot, confirm later.

apply_offer() checks the offer's release signature before downloading anything, streams the
image into the next OTA partition through one 4 KiB buffer while hashing it, and only when
size and SHA-256 match calls set_boot(). The caller acks the command and reboots. After the
reboot the bootloader runs the new image in PENDING_VERIFY; device.health confirms it
(mark_app_valid_cancel_rollback) once the cloud link has been up and stable, or resets, and
the bootloader then rolls back to the previous image.
"""

import binascii
import hashlib

import esp32
from micropython import const

from device import nvstate
from device.release import UpdateRefused, check_offer

BLOCK = const(4096)  # flash sector; the one download buffer (RAM cost: 4 KiB)
REBOOT_DELAY_MS = const(2000)  # time for the ack to leave before the reset
NAMESPACE = "ota"


def running_label():
    """Label of the partition this firmware runs from (ota_0 / ota_1)."""
    return esp32.Partition(esp32.Partition.RUNNING).info()[4]


def _erase_start(part):
    # A half-written slot must never look like an image: wipe its header sector.
    try:
        part.ioctl(6, 0)
    except OSError:
        pass


class _SlotWriter:
    """Collects streamed bytes into whole sectors and writes them to a partition."""

    def __init__(self, part, size):
        self.part = part
        self.size = size
        self.buf = bytearray(BLOCK)
        self.fill = 0
        self.block = 0
        self.total = 0
        self.sha = hashlib.sha256()

    async def write(self, chunk):
        """Sink for fetch(): take the next piece of the body."""
        view = memoryview(chunk)
        self.total += len(view)
        if self.total > self.size:
            raise UpdateRefused(
                "download_failed", "image longer than announced %d bytes" % self.size
            )
        self.sha.update(view)
        while len(view):
            take = min(BLOCK - self.fill, len(view))
            self.buf[self.fill : self.fill + take] = view[:take]
            self.fill += take
            view = view[take:]
            if self.fill == BLOCK:
                self._flush()

    def _flush(self):
        for i in range(self.fill, BLOCK):
            self.buf[i] = 0xFF  # erased flash beyond the end of the image
        self.part.writeblocks(self.block, self.buf)
        self.block += 1
        self.fill = 0

    def finish(self):
        """Write the last partial sector; return the hex SHA-256 of everything written."""
        if self.fill:
            self._flush()
        return binascii.hexlify(self.sha.digest()).decode()


async def apply_offer(offer, fetch, public_key=None):
    """Install an ota_update (kind firmware) into the next slot; returns {"version", "slot"}.

    fetch(url, write) must stream the body of url into `await write(chunk)`. Raises
    UpdateRefused (with a command_ack error code) and leaves the boot slot unchanged on any
    failure: bad offer or signature, download error, size or SHA-256 mismatch, bad image.
    """
    target = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
    capacity = target.info()[3]
    sha = check_offer(offer, "firmware", capacity, public_key)
    writer = _SlotWriter(target, offer["size"])
    try:
        try:
            await fetch(offer["url"], writer.write)
        except UpdateRefused:
            raise
        except Exception as e:  # any transport error is a failed download
            raise UpdateRefused("download_failed", "download: %r" % (e,))
        got = writer.finish()
        if writer.total != offer["size"]:
            raise UpdateRefused(
                "download_failed", "got %d of %d bytes" % (writer.total, offer["size"])
            )
        if got != sha:
            raise UpdateRefused("download_failed", "sha256 mismatch: got %s" % got)
        try:
            target.set_boot()
        except OSError as e:
            raise UpdateRefused("download_failed", "image refused by set_boot: %r" % (e,))
    except UpdateRefused:
        _erase_start(target)
        raise
    label = target.info()[4]
    nvstate.set_str(NAMESPACE, "pending", label)
    nvstate.set_str(NAMESPACE, "pending_version", offer["version"])
    return {"version": offer["version"], "slot": label}


async def handle(msg, link):
    """The application's entry for ota_update (kind firmware or app): apply, then reboot.

    Returns the command_ack fields; on success the hub resets REBOOT_DELAY_MS later, after
    the cloud link has sent the ack (a redelivered command is answered from the hub's
    command log after the reboot).
    """
    from device import fetch, update_command

    sent = []

    async def keep(ack):
        sent.append(ack)

    get = fetch.make_fetch(getattr(link, "tls_for", None))
    reboot = await update_command.handle(msg, get, keep)
    ack = sent[0]
    if reboot:
        import asyncio

        asyncio.create_task(_reboot_later())
    fields = {"success": ack["success"]}
    for key in ("error", "result"):
        if key in ack:
            fields[key] = ack[key]
    return fields


async def _reboot_later():
    import asyncio

    import machine

    await asyncio.sleep_ms(REBOOT_DELAY_MS)
    machine.reset()


def pending_update():
    """(label, version) of a firmware update not yet confirmed, or None."""
    label = nvstate.get_str(NAMESPACE, "pending")
    if not label:
        return None
    return label, nvstate.get_str(NAMESPACE, "pending_version")


def settle_after_boot():
    """Called once at boot: 'trial' if running an unconfirmed update, 'rolled_back' or None."""
    pending = pending_update()
    if pending is None:
        return None
    if pending[0] == running_label():
        return "trial"
    # The bootloader did not (or no longer does) run the new slot: it was rolled back.
    nvstate.erase(NAMESPACE, "pending")
    nvstate.set_str(NAMESPACE, "rolled_back", pending[1] or "")
    return "rolled_back"


def confirm():
    """The running firmware passed its health check: cancel the rollback."""
    esp32.Partition.mark_app_valid_cancel_rollback()
    nvstate.erase(NAMESPACE, "pending")


def take_rollback_note():
    """Version that was rolled back since the last call (for reporting), or None."""
    version = nvstate.get_str(NAMESPACE, "rolled_back")
    if version is None:
        return None
    nvstate.erase(NAMESPACE, "rolled_back")
    return version
