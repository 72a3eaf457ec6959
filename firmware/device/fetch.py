"""fetch(url, write): stream an update's body through net.http.Download into `await write(chunk)`.

The adapter between the firmware's HTTP(S) client (Range resume after drops, one redirect,
certificate verification with the cloud's CA bundle) and the update writers in ota.py and
app_update.py, which only need the bytes in order.
"""

from micropython import const
from net.http import Download

CHUNK = const(2048)  # one read buffer (RAM cost: 2 KiB while an update downloads)


def make_fetch(ctx_for=None):
    """A fetch(url, write) that uses ctx_for(url) as the TLS context (None for http://)."""

    async def fetch(url, write):
        download = Download(url, ctx_for(url) if ctx_for else None)
        buf = bytearray(CHUNK)
        mv = memoryview(buf)
        try:
            await download.open()
            while True:
                n = await download.readinto(mv)
                if not n:
                    break
                await write(mv[:n])
        finally:
            await download.close()

    return fetch
