"""Streams a signed-URL download into a printer upload through one fixed transfer buffer."""

import asyncio

from drivers.base import CANCELLED, DOWNLOAD_FAILED, MD5_MISMATCH, DriverError
from net.http import Download, HTTPError

try:
    from micropython import const
except ImportError:  # CPython (tooling only)

    def const(x):
        return x


# The one transfer buffer: HTTP reads land here, the FTPS upload sends from here. Allocated
# when this module is imported (at boot, before MQTT traffic fragments the heap) and reused:
# memory does not depend on the file size.
BUF_SIZE = const(16384)  # RAM: 16 KB
PROGRESS_INTERVAL_MS = const(1000)  # progress_cb at most once a second (plus the final one)

_buf = bytearray(BUF_SIZE)
# One transfer at a time per hub: later calls wait here in arrival order (the queue).
_turn = asyncio.Lock()


def transfer_buffer():
    """The hub's single transfer buffer."""
    return _buf


def busy():
    """True while a transfer holds the buffer (others are queued)."""
    return _turn.locked()


class _Source:
    # The reader handed to the driver: HTTP body bytes, with cancel checks between chunks and
    # a body that must be exactly `size` bytes (a chunked body announces no length up front).

    def __init__(self, download, cancel_event, size):
        self.download = download
        self.cancel_event = cancel_event
        self.size = size
        self.got = 0
        self._probe = bytearray(1)

    async def readinto(self, mv):
        if self.cancel_event is not None and self.cancel_event.is_set():
            raise DriverError(CANCELLED, "transfer cancelled")
        n = await self._read(mv)
        if not n and self.got < self.size:
            raise DriverError(
                DOWNLOAD_FAILED, "download ended at %d of %d bytes" % (self.got, self.size)
            )
        self.got += n
        # Before the driver sends the last bytes, make sure the body really ends here: a
        # longer file would otherwise reach the printer silently truncated.
        if n and self.got == self.size and await self._read(memoryview(self._probe)):
            raise DriverError(DOWNLOAD_FAILED, "download is larger than %d bytes" % self.size)
        return n

    async def _read(self, mv):
        try:
            return await self.download.readinto(mv)
        except (HTTPError, OSError) as e:
            if self.cancel_event is not None and self.cancel_event.is_set():
                raise DriverError(CANCELLED, "transfer cancelled")
            raise DriverError(DOWNLOAD_FAILED, getattr(e, "message", None) or str(e))


class _Progress:
    def __init__(self, cb, total):
        self.cb = cb
        self.total = total
        self.last = None

    def __call__(self, sent):
        if self.cb is None:
            return
        now = asyncio.ticks()
        if self.last is not None and asyncio.ticks_diff(now, self.last) < PROGRESS_INTERVAL_MS:
            return
        self.last = now
        try:
            self.cb(sent, self.total)
        except Exception as e:  # a reporting bug must not abort the upload
            print("transfer: progress callback failed:", repr(e))


async def _watch_cancel(event, download):
    # Cancel by aborting the download: its socket closes, the pending read fails at once and
    # the upload unwinds through its normal error path (partial file deleted). Task.cancel()
    # is avoided: MicroPython's wait_for can deliver a racing cancel twice.
    await event.wait()
    download.abort()


async def stream_to_printer(
    url, driver, name, size, progress_cb=None, cancel_event=None, md5=None, ctx=None
):
    """GET `url` and upload it to `driver` as `name`; returns the MD5 hex of the bytes sent.

    `progress_cb(bytes_sent, bytes_total)` runs at most once a second and once at the end.
    Setting `cancel_event` aborts at once. Failures raise DriverError: download_failed,
    upload_failed, card_full, md5_mismatch (against `md5` when given), cancelled,
    session_reuse_unsupported, printer_offline. `ctx` is the TLS context for https URLs.
    """
    async with _turn:
        if cancel_event is not None and cancel_event.is_set():
            raise DriverError(CANCELLED, "transfer cancelled before it started")
        buf = transfer_buffer()
        download = Download(url, ctx, size)
        watcher = None
        if cancel_event is not None:
            watcher = asyncio.create_task(_watch_cancel(cancel_event, download))
        try:
            try:
                await download.open()
            except (HTTPError, OSError) as e:
                if cancel_event is not None and cancel_event.is_set():
                    raise DriverError(CANCELLED, "transfer cancelled")
                raise DriverError(DOWNLOAD_FAILED, getattr(e, "message", None) or str(e))
            progress = _Progress(progress_cb, size)
            digest = await driver.send_file(
                name, _Source(download, cancel_event, size), size, progress, buf
            )
            if md5 and digest.lower() != md5.strip().lower():
                raise DriverError(
                    MD5_MISMATCH, "file MD5 " + digest + " differs from expected " + md5
                )
            if progress_cb is not None:
                progress_cb(size, size)
            return digest
        finally:
            if watcher is not None:
                watcher.cancel()
            await download.close()
