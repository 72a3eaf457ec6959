"""TCP/TLS connection helpers shared by the hub's network clients (MQTT, FTPS, HTTP)."""

import asyncio
import binascii
import socket
import ssl
from asyncio import core as _core
from asyncio.stream import Stream

try:
    from errno import EINPROGRESS
except ImportError:  # pragma: no cover - every port has errno, keep the intent explicit
    EINPROGRESS = 115

# TLS session resumption needs SSLSession support in the ssl module (MicroPython PR #12780,
# not merged upstream). A custom hub build adds it; stock builds report False here.
SESSION_REUSE = hasattr(ssl, "SSLSession")


class ConnectError(OSError):
    """A TCP connect, TLS handshake or read deadline failed; str() says which."""


def der_certificates(data):
    """Split a PEM bundle (or one DER certificate) into DER blobs: mbedtls here parses only DER."""
    if not data.startswith(b"-----BEGIN"):
        return [data]
    out = []
    start = 0
    while True:
        b = data.find(b"-----BEGIN CERTIFICATE-----", start)
        if b < 0:
            return out
        b = data.find(b"\n", b) + 1
        e = data.find(b"-----END CERTIFICATE-----", b)
        if b <= 0 or e < 0:
            raise ValueError("truncated PEM certificate")
        out.append(binascii.a2b_base64(data[b:e].replace(b"\r", b"").replace(b"\n", b"")))
        start = e + 25


def client_context(ca_data=None, verify=True):
    """Build a TLS client context: verified against `ca_data` (PEM bundle or DER) or unverified.

    Bambu printers present self-signed per-device certificates (CN=serial); the driver passes
    the printer CA when it has one and verify=False otherwise (what every LAN client does).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify and ca_data:
        ctx.verify_mode = ssl.CERT_REQUIRED
        for der in der_certificates(ca_data):
            ctx.load_verify_locations(cadata=der)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _connect_socket(host, port):
    # getaddrinfo blocks for a name lookup; printers and the cloud are given as IPs on the LAN.
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    s = socket.socket(ai[0], ai[1], ai[2])
    s.setblocking(False)
    try:
        s.connect(ai[-1])
    except OSError as er:
        if er.errno != EINPROGRESS:
            s.close()
            raise
    return s


# Plain generators awaited as coroutines (MicroPython's asyncio allows it): they park on the
# I/O queue without allocating a Stream buffer and retry when a non-blocking call says "again".
def _wait_writable(s):
    yield _core._io_queue.queue_write(s)


def _readinto(s, mv):
    # Read first, park only on "again": a TLS client must send its hello before anything
    # becomes readable, and mbedtls may hold decrypted bytes the poller cannot see.
    while True:
        try:
            n = s.readinto(mv)
        except ValueError as e:  # mbedtls reports certificate failures as ValueError
            raise ConnectError("TLS: " + str(e).strip())
        if n is not None:  # None: nothing yet or TLS record incomplete
            return n
        yield _core._io_queue.queue_read(s)


def _write(s, mv):
    off = 0
    n = len(mv)
    while off < n:
        yield _core._io_queue.queue_write(s)
        try:
            r = s.write(mv[off:])
        except ValueError as e:
            raise ConnectError("TLS: " + str(e).strip())
        if r is not None:
            off += r
    return n


async def _writable(stream, timeout_ms, what):
    # Writability completes the non-blocking connect; a peer that never answers hits the deadline.
    try:
        await asyncio.wait_for_ms(_wait_writable(stream.s), timeout_ms)
    except asyncio.TimeoutError:
        raise ConnectError(what + " timed out")


async def open_stream(host, port, ctx=None, server_hostname=None, timeout_ms=15000):
    """Open a TCP connection (TLS when `ctx` is given); returns an asyncio Stream.

    The TLS handshake runs non-blocking within the first read or write, so on the unix port it
    never stalls the loop longer than one crypto step (on the ESP32 a step can take ~1 s).
    """
    s = _connect_socket(host, port)
    stream = Stream(s)
    try:
        await _writable(stream, timeout_ms, "connect")
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if hasattr(s, "getsockopt") else 0
        if err:
            raise ConnectError("connect failed errno " + str(err))
        if ctx is not None:
            stream = await start_tls(stream, ctx, server_hostname or host)
    except BaseException:
        stream.s.close()
        raise
    return stream


async def start_tls(stream, ctx, server_hostname, session=None):
    """Wrap an open plain Stream in TLS (FTPS data channel after its 150 reply).

    `session` resumes a previous TLS session; only valid when SESSION_REUSE is True.
    """
    if session is not None:
        ts = ctx.wrap_socket(
            stream.s,
            server_hostname=server_hostname,
            do_handshake_on_connect=False,
            session=session,
        )
    else:
        ts = ctx.wrap_socket(
            stream.s, server_hostname=server_hostname, do_handshake_on_connect=False
        )
    ts.setblocking(False)
    # The handshake runs non-blocking inside the first read or write (mbedtls drives it there);
    # its failures surface from that call as ConnectError.
    return Stream(ts)


def session_of(stream):
    """The TLS session of an open stream, for resumption (None when the runtime has none)."""
    if not SESSION_REUSE:
        return None
    return getattr(stream.s, "session", None)


async def read_into(stream, mv, timeout_ms):
    """Read up to len(mv) bytes into memoryview `mv`; 0 means EOF; raises ConnectError on timeout.

    Safe to time out: cancellation only lands while parked before the read, so no byte is lost.
    """
    if stream is None:  # closed by another task (stop, watchdog) while this one was reading
        raise ConnectError("connection closed")
    try:
        return await asyncio.wait_for_ms(_readinto(stream.s, mv), timeout_ms)
    except asyncio.TimeoutError:
        raise ConnectError("read timed out")


async def read_exact(stream, mv, timeout_ms):
    """Fill all of memoryview `mv` or raise ConnectError (EOF or timeout)."""
    got = 0
    n = len(mv)
    while got < n:
        r = await read_into(stream, mv[got:], timeout_ms)
        if not r:
            raise ConnectError("connection closed")
        got += r
    return n


async def write_all(stream, data, timeout_ms=30000):
    """Write all of `data` (bytes or memoryview) straight to the socket, without copying.

    Returns once the kernel (or mbedtls) took every byte, so the caller may reuse its buffer:
    this is the backpressure point of every upload.
    """
    if stream is None:
        raise ConnectError("connection closed")
    mv = data if isinstance(data, memoryview) else memoryview(data)
    try:
        await asyncio.wait_for_ms(_write(stream.s, mv), timeout_ms)
    except asyncio.TimeoutError:
        raise ConnectError("write timed out")


async def close(stream):
    """Close a stream, ignoring errors from a peer that already went away."""
    if stream is None:
        return
    try:
        await stream.wait_closed()
    except Exception:
        pass
    try:
        stream.s.close()
    except Exception:
        pass
