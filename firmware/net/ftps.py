"""Implicit-FTPS client (TLS from the first byte, PASV, PROT P) streaming uploads to printers."""

import binascii
import hashlib

from net import tls

try:
    from micropython import const
except ImportError:  # CPython (tooling only)

    def const(x):
        return x


CTRL_BUF = const(512)  # RAM: 512 B control-channel line buffer (replies are short)
UPLOAD_BUF = const(8192)  # RAM: 8 KB, only when the caller passes no transfer buffer
TIMEOUT_MS = const(15000)
DATA_TIMEOUT_MS = const(60000)  # printers stall writes to the card for many seconds
CLEANUP_TIMEOUT_MS = const(3000)


class FTPError(Exception):
    """An FTP reply or link failure; `reply` is the FTP code (0 for link errors)."""

    def __init__(self, message, reply=0, code=None, session_reuse=False):
        super().__init__(message)
        self.message = message
        self.reply = reply
        self.code = code  # protocol error code when the reason is known (else upload_failed)
        self.session_reuse = session_reuse


class FTPSClient:
    """One control connection; `upload` opens one data connection at a time."""

    def __init__(self, host, port, ctx, server_hostname=None, timeout_ms=TIMEOUT_MS):
        self.host = host
        self.port = port
        self.ctx = ctx
        self.server_hostname = server_hostname or host
        self.timeout_ms = timeout_ms
        self.ctrl = None
        self._buf = bytearray(CTRL_BUF)
        self._have = 0  # bytes of self._buf holding unread control data

    async def connect(self, user, password):
        """Implicit TLS on the control port, log in, PBSZ 0, PROT P, TYPE I."""
        self.ctrl = await tls.open_stream(
            self.host, self.port, self.ctx, self.server_hostname, self.timeout_ms
        )
        code, text = await self._reply()
        if code != 220:
            raise FTPError("unexpected greeting: " + text, code)
        code, text = await self.cmd("USER " + user)
        if code == 331:
            code, text = await self.cmd("PASS " + password)
        if code != 230:
            raise FTPError("login refused (check the access code): " + str(code), code)
        await self.expect("PBSZ 0", 200)
        await self.expect("PROT P", 200)
        await self.expect("TYPE I", 200)

    async def cmd(self, line):
        """Send one command line and read its (possibly multi-line) reply."""
        await tls.write_all(self.ctrl, line.encode() + b"\r\n", self.timeout_ms)
        return await self._reply()

    async def expect(self, line, *codes):
        """cmd() that raises FTPError unless the reply code is one of `codes`."""
        code, text = await self.cmd(line)
        if code not in codes:
            verb = line.split(" ", 1)[0]
            raise FTPError(verb + " failed: " + text, code)
        return code, text

    async def size(self, name):
        """SIZE of a remote file in bytes (None when the server does not know it)."""
        code, text = await self.cmd("SIZE " + name)
        if code != 213:
            return None
        try:
            return int(text[4:].strip())
        except ValueError:
            return None

    async def delete(self, name):
        """DELE a remote file; True when the server confirmed."""
        code, _ = await self.cmd("DELE " + name)
        return code == 250

    async def upload(self, name, reader, size, progress=None, buf=None):
        """STOR `size` bytes read from `reader.readinto(mv)`; returns the MD5 hex digest.

        Data flows reader -> buf -> TLS socket with no other copy; each write returns only
        once the socket took the bytes, so a slow printer slows the reader (backpressure).
        The upload is verified with SIZE afterwards (printers may answer 426 after a good one).
        """
        if size <= 0:
            # Stock MicroPython cannot drive a TLS handshake without payload (a zero-length
            # write is a no-op), and an empty print file is a mistake anyway.
            raise FTPError("refusing to upload an empty file", 0, "bad_command")
        mv = memoryview(buf if buf is not None else bytearray(UPLOAD_BUF))
        md5 = hashlib.md5()
        data = await self._open_data()
        sent = 0
        started = False
        try:
            code, text = await self.cmd("STOR " + name)
            if code not in (125, 150):
                raise _stor_error(code, text)
            started = True
            # Data-channel TLS starts only after the 150 reply (vsftpd-based printers).
            session = tls.session_of(self.ctrl)
            data = await tls.start_tls(data, self.ctx, self.server_hostname, session)
            while sent < size:
                want = min(len(mv), size - sent)
                n = await reader.readinto(mv[:want])
                if not n:
                    raise FTPError("source ended after %d of %d bytes" % (sent, size), 0)
                chunk = mv[:n]
                md5.update(chunk)
                try:
                    await tls.write_all(data, chunk, DATA_TIMEOUT_MS)
                except OSError as e:
                    await tls.close(data)
                    raise await self._data_error(e, sent)
                sent += n
                if progress is not None:
                    progress(sent)
        except BaseException as e:
            await tls.close(data)
            if started:
                await self._abandon(name, getattr(e, "reply", 0) == 0)
            raise
        # Close without waiting for close_notify (printers never answer it), then the reply.
        await tls.close(data)
        code, text = await self._reply(DATA_TIMEOUT_MS)
        if code == 226 or code == 426:
            got = await self.size(name)
            if got is not None and got != size:
                raise FTPError("printer holds %d of %d bytes" % (got, size), code)
            if code == 426 and got is None:
                raise FTPError("transfer aborted by printer: " + text, code)
        else:
            raise _stor_error(code, text)
        return str(binascii.hexlify(md5.digest()), "ascii")

    async def quit(self):
        """QUIT politely (best effort) and close."""
        if self.ctrl is not None:
            try:
                await tls.write_all(self.ctrl, b"QUIT\r\n", CLEANUP_TIMEOUT_MS)
            except Exception:
                pass
        await self.close()

    async def close(self):
        """Close the control connection."""
        ctrl, self.ctrl = self.ctrl, None
        await tls.close(ctrl)

    # internals

    async def _open_data(self):
        code, text = await self.expect("PASV", 227)
        try:
            nums = text[text.index("(") + 1 : text.index(")")].split(",")
            port = int(nums[4]) * 256 + int(nums[5])
        except (ValueError, IndexError):
            raise FTPError("bad PASV reply: " + text, code)
        # Printers may announce 0.0.0.0 or another interface: always use the control host.
        return await tls.open_stream(self.host, port, None, None, self.timeout_ms)

    async def _data_error(self, e, sent):
        # The data link broke: the control channel usually says why (522 reuse, 552 full).
        try:
            code, text = await self._reply(CLEANUP_TIMEOUT_MS)
        except Exception:
            code, text = 0, ""
        if code and (
            code in (452, 522, 552) or _storage_failure(code, text) or "reuse" in text.lower()
        ):
            return _stor_error(code, text)
        if sent == 0 and not tls.SESSION_REUSE:
            return FTPError(
                "data channel closed at TLS start (printer may require TLS session reuse): "
                + str(e),
                code,
                session_reuse=True,
            )
        why = text or str(e)
        return FTPError("data channel failed after %d bytes: %s" % (sent, why), code)

    async def _abandon(self, name, want_reply=True):
        # Best effort after a failed or cancelled upload: take the transfer's reply (426/451;
        # some servers send none), then remove the partial file so fragments do not pile up.
        if want_reply:
            try:
                await self._reply(CLEANUP_TIMEOUT_MS)
            except Exception:
                pass
        try:
            await tls.write_all(self.ctrl, b"DELE " + name.encode() + b"\r\n", CLEANUP_TIMEOUT_MS)
            for _ in range(3):  # skip a late transfer reply arriving before DELE's own
                code, _ = await self._reply(CLEANUP_TIMEOUT_MS)
                if code in (250, 450, 550):
                    break
        except Exception:
            pass

    async def _line(self, timeout_ms):
        while True:
            i = self._buf.find(b"\n", 0, self._have)
            if i >= 0:
                line = bytes(self._buf[:i]).rstrip(b"\r")
                rest = self._have - i - 1
                self._buf[:rest] = self._buf[i + 1 : self._have]
                self._have = rest
                return _text(line)
            if self._have == len(self._buf):
                self._have = 0  # an over-long line: drop it rather than grow
            mv = memoryview(self._buf)[self._have :]
            n = await tls.read_into(self.ctrl, mv, timeout_ms)
            if not n:
                raise FTPError("control connection closed", 0)
            self._have += n

    async def _reply(self, timeout_ms=None):
        t = timeout_ms or self.timeout_ms
        line = await self._line(t)
        if len(line) < 3 or not line[:3].isdigit():
            raise FTPError("malformed reply: " + line[:80], 0)
        code = int(line[:3])
        if len(line) > 3 and line[3] == "-":
            end = line[:3] + " "
            while True:
                more = await self._line(t)
                if more.startswith(end):
                    line = more
                    break
        return code, line


def _storage_failure(code, text):
    # vsftpd answers a failed write to the card (full, in practice) with this 451.
    return code == 451 and "writing to local file" in text.lower()


def _stor_error(code, text):
    if code in (452, 552) or _storage_failure(code, text):
        return FTPError("printer storage full: " + text, code, "card_full")
    if code == 522 or "reuse" in text.lower():
        return FTPError(text, code, session_reuse=True)
    return FTPError("STOR refused: " + text, code)


def _text(b):
    try:
        return b.decode()
    except UnicodeError:
        return str(b)
