"""A small implicit-FTPS server (pyftpdlib + pyOpenSSL) with faults, for the upload tests."""

import logging
import threading
from pathlib import Path

from OpenSSL import SSL
from OpenSSL._util import lib as _ssl_lib
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer

logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
logging.getLogger("pyftpdlib").addHandler(logging.NullHandler())  # no auto log config


class _Faults:
    card_full = False  # STOR answers 552
    drop_after = None  # the printer drops the data link after this many bytes
    final_426 = False  # answer 426 after a complete upload (Bambu quirk)
    require_session_reuse = False  # data TLS must resume the control session (vsftpd)


class _DroppingFile:
    # Wraps the stored file: raising mid-write makes pyftpdlib abort the data connection.
    def __init__(self, f, faults):
        self._f = f
        self._faults = faults
        self.written = 0
        self.name = f.name
        self.closed = False

    def write(self, data):
        limit = self._faults.drop_after
        if limit is not None and self.written + len(data) > limit:
            raise OSError("simulated printer failure")
        self.written += len(data)
        return self._f.write(data)

    def close(self):
        self.closed = True
        self._f.close()

    def __getattr__(self, name):
        return getattr(self._f, name)


class ImplicitFTPS:
    """Implicit FTPS on 127.0.0.1:<port> (ephemeral), user bblp, files stored in `root`."""

    def __init__(self, root: Path, cert: Path, key: Path, password="12345678"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.faults = _Faults()
        faults = self.faults
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.use_certificate_chain_file(str(cert))
        ctx.use_privatekey_file(str(key))
        ctx.set_session_id(b"printfarm-ftps")
        ctx.set_session_cache_mode(SSL.SESS_CACHE_SERVER)

        class FS(AbstractedFS):
            def open(self, filename, mode):
                f = super().open(filename, mode)
                return _DroppingFile(f, faults) if "w" in mode else f

        class DTP(TLS_DTPHandler):
            def handle_ssl_established(self):
                reused = _ssl_lib.SSL_session_reused(self.socket._ssl)
                if faults.require_session_reuse and not reused:
                    self.cmd_channel.respond("522 SSL connection failed: session reuse required")
                    self.close()

        class Handler(TLS_FTPHandler):
            ssl_context = ctx
            dtp_handler = DTP
            abstracted_fs = FS
            banner = "(vsFTPd 3.0.3)"
            passive_ports = None

            def handle(self):
                # Implicit TLS: handshake first, the 220 banner only after it.
                self.secure_connection(self.ssl_context)

            def handle_ssl_established(self):
                TLS_FTPHandler.handle(self)

            def ftp_STOR(self, file, mode="w"):
                if faults.card_full:
                    self.respond("552 Requested file action aborted. Exceeded storage allocation.")
                    return None
                return super().ftp_STOR(file, mode)

            def respond(self, resp, *args, **kwargs):
                if faults.final_426 and resp.startswith("226"):
                    resp = "426 Failure reading network stream."
                return super().respond(resp, *args, **kwargs)

        auth = DummyAuthorizer()
        auth.add_user("bblp", password, str(self.root), perm="elradfmwMT")
        Handler.authorizer = auth
        self.server = FTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.address[1]
        self._thread = None
        self._stopping = threading.Event()

    def _serve(self):
        while not self._stopping.is_set():
            self.server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        self.server.close_all()

    def start(self):
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close every connection."""
        self._stopping.set()
        if self._thread:
            self._thread.join(5)
