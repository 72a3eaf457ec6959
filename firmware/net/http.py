"""Streaming HTTP(S)/1.1 GET for signed file URLs: chunked, one redirect, Range resume."""

import asyncio

from net import tls
from net.url import split_url

try:
    from micropython import const
except ImportError:  # CPython (tooling only)

    def const(x):
        return x


HEAD_BUF = const(
    2048
)  # RAM: 2 KB for the status line, headers (signed Location URLs) and chunk lines
MAX_HEADER_LINE = const(2048)
MAX_HEADERS = const(64)
TIMEOUT_MS = const(20000)
MAX_RESUMES = const(5)  # consecutive resume attempts after drops before giving up
RESUME_BACKOFF_MS = const(500)


class HTTPError(Exception):
    """The download failed; `status` is the HTTP status when there was one (else 0)."""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.message = message
        self.status = status


def parse_url(url):
    """Split an http(s) URL into (scheme, host, port, path)."""
    try:
        return split_url(url, ("http", "https"))
    except ValueError as e:
        raise HTTPError(str(e))


class Download:
    """A GET whose body is pulled with `readinto(mv)`; survives drops by resuming with Range.

    Holds one socket and a HEAD_BUF; body bytes go straight from the socket into the caller's
    buffer. `size` is the total length when the server told it (None otherwise).
    """

    def __init__(self, url, ctx=None, size=None, timeout_ms=TIMEOUT_MS, max_resumes=MAX_RESUMES):
        self.url = url
        self.ctx = ctx
        self.timeout_ms = timeout_ms
        self.max_resumes = max_resumes
        self.size = size  # expected total; a server disagreeing is an error
        self.offset = 0  # body bytes handed to the caller so far
        self.resumes = 0  # total successful resumes (diagnostics)
        self._stream = None
        self._head = bytearray(HEAD_BUF)
        self._hs = 0  # unread bytes in _head are [_hs:_he]
        self._he = 0
        self._chunked = False
        self._left = None  # bytes left in this response (or chunk, when chunked)
        self._eof = False
        self._aborted = False

    def abort(self):
        """Stop the download now (from another task): a pending read fails at once."""
        self._aborted = True
        s = self._stream
        if s is not None:
            s.s.close()  # wakes a reader parked on this socket with EBADF

    async def open(self):
        """Send the GET (following at most one redirect) and read the response headers."""
        try:
            await self._request(0)
        except OSError as e:
            await self._close_stream()
            raise HTTPError("download link: " + str(e), 0)

    async def readinto(self, mv):
        """Read up to len(mv) body bytes into mv; returns 0 at the end of the body."""
        if self._eof or not len(mv):
            return 0
        failures = 0
        while True:
            if self._aborted:
                raise HTTPError("download aborted", 0)
            try:
                if self._stream is None:
                    raise tls.ConnectError("not connected")
                n = await self._read_body(mv)
                if n == 0 and self.size is not None and self.offset < self.size and not self._eof:
                    raise tls.ConnectError("connection closed early")  # a complete body is final
                if n == 0 and self._chunked and not self._eof:
                    raise tls.ConnectError("connection closed inside chunked body")
                self.offset += n
                return n
            except OSError as e:  # link trouble: resume; protocol errors (HTTPError) are final
                if self._aborted:
                    raise HTTPError("download aborted", 0)
                failures += 1
                if failures > self.max_resumes or (self.size is None and not self._chunked):
                    raise HTTPError("download interrupted at byte %d: %s" % (self.offset, e), 0)
                await self._close_stream()
                await asyncio.sleep_ms(RESUME_BACKOFF_MS * failures)
                try:
                    await self._request(self.offset)
                    self.resumes += 1
                except OSError as e2:
                    if failures >= self.max_resumes:
                        raise HTTPError("resume failed at byte %d: %s" % (self.offset, e2), 0)

    async def close(self):
        """Close the socket (also safe when never opened)."""
        await self._close_stream()

    # internals

    async def _close_stream(self):
        s, self._stream = self._stream, None
        await tls.close(s)

    async def _request(self, start):
        url = self.url
        for hop in range(2):  # the URL, then at most one redirect
            scheme, host, port, path = parse_url(url)
            ctx = None
            if scheme == "https":
                if self.ctx is None:
                    raise HTTPError("https URL but no TLS context (CA bundle) configured")
                ctx = self.ctx
            self._hs = self._he = 0
            self._stream = await tls.open_stream(host, port, ctx, host, self.timeout_ms)
            hosthdr = host if port in (80, 443) else host + ":" + str(port)
            req = "GET " + path + " HTTP/1.1\r\nHost: " + hosthdr
            req += "\r\nUser-Agent: printfarm-hub\r\nAccept-Encoding: identity\r\nConnection: close"
            if start:
                req += "\r\nRange: bytes=" + str(start) + "-"
            await tls.write_all(self._stream, (req + "\r\n\r\n").encode(), self.timeout_ms)
            status, headers = await self._read_head()
            if status in (301, 302, 303, 307, 308):
                loc = headers.get("location")
                await self._close_stream()
                if not loc or hop:
                    raise HTTPError(
                        "too many redirects" if hop else "redirect without Location", status
                    )
                if loc.startswith("/"):
                    loc = scheme + "://" + hosthdr + loc
                url = loc
                continue
            self._setup_body(status, headers, start)
            return
        raise HTTPError("too many redirects", 0)  # unreachable; keeps the loop honest

    def _setup_body(self, status, headers, start):
        te = headers.get("transfer-encoding", "").lower()
        self._chunked = "chunked" in te
        length = headers.get("content-length")
        length = int(length) if length is not None and not self._chunked else None
        if start:
            if status != 206:
                raise HTTPError(
                    "server cannot resume (status %d to a Range request)" % status, status
                )
            cr = headers.get("content-range", "")
            # "bytes 100-199/200"
            try:
                first = int(cr.split(" ", 1)[1].split("-", 1)[0])
            except (IndexError, ValueError):
                first = -1
            if first != start:
                raise HTTPError("server resumed at the wrong offset: " + cr, status)
        elif status != 200:
            raise HTTPError("download refused: HTTP %d" % status, status)
        elif length is not None:
            if self.size is not None and self.size != length:
                raise HTTPError(
                    "server announces %d bytes, expected %d" % (length, self.size), status
                )
            self.size = length
        self._left = None if self._chunked else length
        self._eof = False

    async def _fill(self):
        # More bytes into _head (compacting first); returns how many arrived (0 = EOF).
        if self._hs:
            n = self._he - self._hs
            self._head[:n] = self._head[self._hs : self._he]
            self._hs, self._he = 0, n
        if self._he == len(self._head):
            raise HTTPError("header line too long", 0)
        mv = memoryview(self._head)[self._he :]
        n = await tls.read_into(self._stream, mv, self.timeout_ms)
        self._he += n
        return n

    async def _line(self):
        while True:
            i = self._head.find(b"\n", self._hs, self._he)
            if i >= 0:
                line = bytes(self._head[self._hs : i]).rstrip(b"\r")
                self._hs = i + 1
                return line
            if self._he - self._hs >= MAX_HEADER_LINE:
                raise HTTPError("header line too long", 0)
            if not await self._fill():
                raise tls.ConnectError("connection closed in headers")

    async def _read_head(self):
        line = await self._line()
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HTTPError("not an HTTP response", 0)
        try:
            status = int(parts[1])
        except ValueError:
            raise HTTPError("bad status line", 0)
        headers = {}
        for _ in range(MAX_HEADERS):
            line = await self._line()
            if not line:
                return status, headers
            i = line.find(b":")
            if i > 0:
                headers[str(line[:i].strip(), "ascii").lower()] = str(
                    line[i + 1 :].strip(), "ascii"
                )
        raise HTTPError("too many headers", status)

    async def _read_body(self, mv):
        if self._chunked:
            if self._left == 0 or self._left is None:
                if self._left == 0:
                    await self._line()  # CRLF after the previous chunk's data
                sz = await self._line()
                try:
                    self._left = int(sz.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise HTTPError("bad chunk size line", 0)
                if self._left == 0:
                    while await self._line():  # trailers end with an empty line
                        pass
                    self._eof = True
                    return 0
        want = len(mv)
        if self._left is not None:
            if self._left == 0:
                self._eof = True
                return 0
            want = min(want, self._left)
        pending = self._he - self._hs
        if pending:
            n = min(want, pending)
            mv[:n] = self._head[self._hs : self._hs + n]
            self._hs += n
        else:
            n = await tls.read_into(self._stream, mv[:want], self.timeout_ms)
            if not n:
                if self._left is None:
                    self._eof = True  # body delimited by close
                return 0
        if self._left is not None:
            self._left -= n
        return n
