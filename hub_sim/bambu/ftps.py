"""The printer's implicit FTPS server (port 990): pyftpdlib made to answer like the printer's vsftpd."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import stat
import struct
import threading
import time

from OpenSSL import SSL
from OpenSSL._util import lib as _openssl_lib
from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.exceptions import _RetryError
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import ThrottledDTPHandler, TLS_FTPHandler
from pyftpdlib.handlers.ftps.ssl import SSLConnectionMixin
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer

logger = logging.getLogger(__name__)

BANNER = "(vsFTPd 3.0.3)"  # X1/X1E transcript (bambulabs_api#175); unverified for P1/A1
# Commands the printer's server does not offer (bambu-protocol.md §2.1: PASV only, no MLSD, no
# REST/APPE resume).
_UNSUPPORTED = ("PORT", "EPRT", "MLSD", "MLST", "REST", "APPE", "STOU", "SITE", "SITE CHMOD")
_POLL_S = 0.05  # how often the FTPS thread checks for stop requests

# pyftpdlib reply -> vsftpd 3.0.3 reply (texts from vsftpd's ftpcodes/postlogin.c as seen in the
# printer transcripts). Keyed by (code, regex on pyftpdlib's text); None = any command.
_VSFTPD_TEXT = [
    ("331", r"", "331 Please specify the password."),
    ("530", r"Authentication failed", "530 Login incorrect."),
    ("530", r"Log in with USER", "530 Please login with USER and PASS."),
    ("200", r"PBSZ", "200 PBSZ set to 0."),
    ("200", r"Protection set to Private", "200 PROT now Private."),
    ("200", r"Protection set to Clear", "200 PROT now Clear."),
    ("200", r"Type set to: Binary", "200 Switching to Binary mode."),
    ("200", r"Type set to: ASCII", "200 Switching to ASCII mode."),
    ("250", r"File removed", "250 Delete operation successful."),
    ("250", r"is the current directory", "250 Directory successfully changed."),
    ("500", r"not understood", "500 Unknown command."),
    ("421", r"Control connection timed out", "421 Timeout."),
]
_FAIL_550 = {
    "SIZE": "550 Could not get file size.",
    "DELE": "550 Delete operation failed.",
    "RETR": "550 Failed to open file.",
    "CWD": "550 Failed to change directory.",
    "MKD": "550 Create directory operation failed.",
    "RMD": "550 Remove directory operation failed.",
    "STOR": "553 Could not create file.",
    "LIST": "550 Failed to open directory.",
    "NLST": "550 Failed to open directory.",
}


def _vsftpd_reply(resp: str, cmd: str, arg: str) -> str:
    """Rewrite a pyftpdlib reply into what the printer's vsftpd says for the same event."""
    code, text = resp[:3], resp[4:]
    if code in ("125", "150"):
        if cmd in ("LIST", "NLST"):
            return "150 Here comes the directory listing."
        if cmd == "RETR":
            return f"150 Opening BINARY mode data connection for {arg}."
        return "150 Ok to send data."
    if code == "226" and cmd in ("LIST", "NLST"):
        return "226 Directory send OK."
    if code == "227":
        return resp.replace("Entering passive mode", "Entering Passive Mode")
    if code == "257" and cmd in ("MKD", "XMKD"):
        return re.sub(r" directory created\.$", " created", resp)
    if code == "257":
        return resp.rstrip(".")
    if code == "550" and cmd in _FAIL_550:
        return _FAIL_550[cmd]
    for want, pattern, out in _VSFTPD_TEXT:
        if code == want and re.search(pattern, text):
            return out
    return resp


class _PrinterAuthorizer(DummyAuthorizer):
    """User bblp, password = the printer's current access code, home = the SD card."""

    def __init__(self, printer):
        super().__init__()
        self.printer = printer
        self.add_user("bblp", "", str(printer.sd_path), perm="elradfmw")

    def validate_authentication(self, username, password, handler):
        """Raise AuthenticationFailed unless bblp + access code."""
        if username != "bblp" or password != self.printer.access_code:
            raise AuthenticationFailed("Authentication failed.")


class _VsftpdFS(AbstractedFS):
    """LIST lines in vsftpd's `ls -l` layout (bambulabs-api takes the last token as the name)."""

    def format_list(self, basedir, listing, ignore_err=True):
        """Yield one vsftpd-style line per entry."""
        now = time.time()
        for name in listing:
            try:
                st = self.lstat(os.path.join(basedir, name))
            except OSError:
                if ignore_err:
                    continue
                raise
            mtime = time.gmtime(st.st_mtime)
            recent = abs(now - st.st_mtime) < 180 * 24 * 3600
            date = time.strftime("%b %d %H:%M" if recent else "%b %d  %Y", mtime)
            perms = stat.filemode(st.st_mode)
            links = 2 if stat.S_ISDIR(st.st_mode) else 1
            line = f"{perms} {links:4d} {'1000':<8} {'1000':<8} {st.st_size:8d} {date} {name}\r\n"
            yield line.encode("utf-8")


class _PrinterDTPHandler(SSLConnectionMixin, ThrottledDTPHandler):
    """Data channel: TLS, the session-reuse check, rate cap, capacity and mid-transfer cuts."""

    def __init__(self, sock, cmd_channel):
        printer = cmd_channel.printer
        rate = printer.faults.link_bytes_per_s or 0
        # ThrottledDTPHandler reads these (class attributes there) in its __init__.
        self.read_limit = rate
        self.write_limit = rate
        self._cut_after: int | None = None
        self._cut_checked = False
        self._free = printer.sdcard.free_bytes()
        self._refused = False
        self._close_notify_seen = False
        super().__init__(sock, cmd_channel)
        # Printers start data TLS only after the 150 reply to the transfer command (OBN
        # 06.03-ftps.md): until then the connection is left alone, so a client that handshakes
        # straight after connecting waits, as it would on a printer.
        self._tls_pending = bool(self.cmd_channel._prot) and self.connected
        if self._tls_pending:
            self.del_channel()

    def _start_tls_for_transfer(self) -> None:
        if self._tls_pending:
            self._tls_pending = False
            if self._fileno not in self.ioloop.socket_map:
                self.add_channel(events=self.ioloop.READ)
            self.secure_connection(self.cmd_channel.ssl_context)

    def enable_receiving(self, type, cmd):
        """STOR: the 150 is out; TLS on the data channel starts now."""
        self._start_tls_for_transfer()
        super().enable_receiving(type, cmd)

    def push(self, data):
        """Outgoing data (LIST, NLST): start TLS first."""
        self._start_tls_for_transfer()
        super().push(data)

    def push_with_producer(self, producer):
        """Outgoing file (RETR): start TLS first."""
        self._start_tls_for_transfer()
        super().push_with_producer(producer)

    def use_sendfile(self):
        """sendfile bypasses TLS and the rate cap."""
        return False

    def handle_ssl_established(self):
        """vsftpd require_ssl_reuse: refuse a data channel that did not resume the session."""
        printer = self.cmd_channel.printer
        if printer.ftps_session_reuse and not _openssl_lib.SSL_session_reused(self.socket._ssl):
            self._refused = True
            self._abort("522 SSL connection failed: session reuse required")
            if self.receive and self.file_obj is not None:
                # Nothing was accepted: do not leave an empty file behind.
                try:
                    os.remove(self.file_obj.name)
                except OSError:
                    pass

    def handle_failed_ssl_handshake(self):
        """Handshake failure on the data channel: vsftpd answers 522."""
        self._abort("522 SSL connection failed.")

    def handle_read_event(self):
        """TLS bookkeeping first (as the mixin does), then our `handle_read`."""
        if not self._ssl_requested:
            self.handle_read()
            return
        with self._handle_ssl_want_rw():
            self._ssl_want_read = False
            if self._ssl_accepting:
                self._do_ssl_handshake()
            elif self._ssl_closing:
                self._do_ssl_shutdown()
            else:
                self.handle_read()

    def recv(self, buffer_size):
        """Upload data; a client's TLS close_notify is not answered (see `_after_close_notify`)."""
        if self._close_notify_seen:
            return self._after_close_notify()
        if self._ssl_requested and self.receive and not self._ssl_accepting:
            try:
                chunk = self.socket.recv(buffer_size)
                if self.read_limit:
                    self._throttle_bandwidth(len(chunk), self.read_limit)
                return chunk
            except SSL.ZeroReturnError:
                if self.cmd_channel.printer.ftps_reply_close_notify:
                    self._error = False
                    super().handle_close()
                    return b""
                # The printer neither answers close_notify nor closes: it waits for the TCP
                # close. A client that unwraps (stdlib storbinary) therefore hangs, as reported
                # for real printers (bambulabs-api ftp_client.py, ha-bambulab).
                self._close_notify_seen = True
                raise _RetryError from None
            except SSL.WantReadError:
                self._ssl_want_read = True
                raise _RetryError from None
            except SSL.WantWriteError:
                self._ssl_want_write = True
                raise _RetryError from None
            except SSL.SysCallError:
                # TCP closed without close_notify (bambulabs-api, HA): the upload is complete.
                self._error = True
                super().handle_close()
                return b""
        return super().recv(buffer_size)

    def _after_close_notify(self) -> bytes:
        raw = self.socket._socket  # the TCP socket under the TLS connection
        try:
            data = raw.recv(4096)
        except BlockingIOError:
            raise _RetryError from None
        except OSError:
            data = b""
        if not data:
            self._error = True  # close without a TLS shutdown
            super().handle_close()
        return b""

    def handle_read(self):
        """Receive, enforcing the card's capacity and the cut fault."""
        if self._refused or self._closed:
            return
        try:
            chunk = self.recv(self.ac_in_buffer_size)
        except _RetryError:
            return
        except OSError:
            self.handle_error()
            return
        self.tot_bytes_received += len(chunk)
        if not chunk:
            self.transfer_finished = True
            return
        if self._free is not None and len(chunk) > self._free:
            # A full card: what fits is written, then vsftpd gives up on the transfer.
            self.file_obj.write(chunk[: self._free])
            self._free = 0
            self._abort("451 Failure writing to local file.")
            return
        if self._free is not None:
            self._free -= len(chunk)
        self.file_obj.write(chunk)
        cut = self._cut_point()
        if cut is not None and self.tot_bytes_received >= cut:
            self._abort("426 Failure reading network stream.")

    def send(self, data):
        """Send, honouring the cut fault on downloads."""
        cut = self._cut_point()
        if cut is not None:
            left = cut - self.tot_bytes_sent
            if left <= 0:
                self._abort("426 Failure writing network stream.")
                return 0
            data = data[:left]
        return super().send(data)

    def _cut_point(self) -> int | None:
        # The one-shot cut applies to the next file transfer, not to directory listings.
        if not self._cut_checked and self.cmd in ("STOR", "RETR"):
            self._cut_checked = True
            self._cut_after = self.cmd_channel.printer.faults.take_ftps_cut()
        return self._cut_after

    def _abort(self, reply: str) -> None:
        """Reset the data connection (no TLS close) and answer `reply` on the control channel."""
        if self._closed:
            return
        self._resp = (reply, logger.info)
        self._error = True  # skip the TLS shutdown: the link is cut, not closed
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.transfer_finished = False
        super().close()


class _PrinterFTPHandler(TLS_FTPHandler):
    """Control channel: TLS from the first byte, vsftpd replies, refusal fault."""

    printer = None  # set per printer in a subclass
    dtp_handler = _PrinterDTPHandler
    abstracted_fs = _VsftpdFS
    banner = BANNER
    auth_failed_timeout = 1  # vsftpd delay_failed_login default
    tls_control_required = True
    proto_cmds = {k: v for k, v in TLS_FTPHandler.proto_cmds.items() if k not in _UNSUPPORTED}

    def __init__(self, conn, server, ioloop=None):
        self._sim_cmd = ""
        self._sim_arg = ""
        super().__init__(conn, server, ioloop)

    def handle(self):
        """Implicit FTPS: handshake first, greet once it is done."""
        self.secure_connection(self.ssl_context)

    def handle_ssl_established(self):
        """TLS is up on the control channel: greet, or refuse when the fault is on."""
        if self.printer.faults.ftps_refuse:
            self.respond("421 There are too many connected users, please try later.")
            self.close_when_done()
            return
        super().handle()

    def process_command(self, cmd, *args, **kwargs):
        """Remember the command so replies can be worded as vsftpd words them."""
        self._sim_cmd = cmd
        self._sim_arg = args[0] if args else ""
        super().process_command(cmd, *args, **kwargs)

    def ftp_STOR(self, file, mode="w"):
        """Without an SD card the printer cannot create the file (bambulabs_api#149)."""
        if not self.printer.sdcard.inserted:
            self.respond("553 Could not create file.")
            return None
        return super().ftp_STOR(file, mode)

    def ftp_RETR(self, file):
        """Without an SD card nothing can be read."""
        if not self.printer.sdcard.inserted:
            self.respond("550 Failed to open file.")
            return None
        return super().ftp_RETR(file)

    def ftp_SIZE(self, path):
        """SIZE answers in any TYPE (HA pybambu asks right after login, in ASCII)."""
        saved, self._current_type = self._current_type, "i"
        try:
            super().ftp_SIZE(path)
        finally:
            self._current_type = saved

    def respond(self, resp, logfun=logger.debug):
        """Send a reply in vsftpd's words."""
        arg = os.path.basename(str(self._sim_arg)) if self._sim_arg else ""
        super().respond(_vsftpd_reply(resp, self._sim_cmd, arg), logfun=logfun)

    def log(self, msg, logfun=logger.debug):
        """pyftpdlib logs at INFO per command; keep the bench quiet."""
        logfun(msg)

    def logline(self, msg, logfun=logger.debug):
        """See `log`."""
        logfun(msg)


def _openssl_context(printer) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_options(SSL.OP_NO_SSLv2 | SSL.OP_NO_SSLv3 | SSL.OP_NO_COMPRESSION)
    ctx.use_certificate_chain_file(str(printer.certs.cert_file))
    ctx.use_privatekey_file(str(printer.certs.key_file))
    # A session id context enables the server-side session cache data channels resume from.
    ctx.set_session_id(f"bambu-sim-{printer.serial}".encode()[:32])
    ctx.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
    return ctx


class PrinterFtps:
    """Runs the FTPS server in its own thread (pyftpdlib is not asyncio)."""

    def __init__(self, printer, host: str, port: int):
        self.printer = printer
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._server: FTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    async def start(self) -> None:
        """Bind (port 0 = any) and serve."""
        printer = self.printer
        handler = type(
            "BambuFTPHandler",
            (_PrinterFTPHandler,),
            {
                "printer": printer,
                "authorizer": _PrinterAuthorizer(printer),
                "ssl_context": _openssl_context(printer),
                "masquerade_address": printer.advertise_ip
                if self.host in ("", "0.0.0.0")
                else None,
            },
        )
        self._server = FTPServer((self.host, self.requested_port), handler, ioloop=IOLoop())
        self.port = self._server.socket.getsockname()[1]
        self.requested_port = self.port
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"ftps-{printer.serial}", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        server = self._server
        try:
            while not self._stop.is_set():
                try:
                    server.ioloop.loop(_POLL_S, blocking=False)
                except Exception:  # one broken session must not stop the server thread
                    logger.exception("%s: FTPS loop error", self.printer.serial)
        finally:
            server.close_all()

    async def stop(self) -> None:
        """Close the listener and every FTPS connection."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)
        self._thread = None
        self._server = None
