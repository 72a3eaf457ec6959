"""A file origin for download tests: Content-Length/Range, chunked, redirects, drops, TLS."""

import random
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Origin:
    """Serves files of `root` on 127.0.0.1:<ephemeral> (HTTPS when cert/key are given).

    Paths: /file/N (length + Range), /chunked/N (chunked, Range honoured), /redirect/N (302 to
    /file/N), /loop/N (302 to /redirect/N: two hops), /norange/N (ignores Range), anything else
    404. `drop_at` (bytes) cuts the next body after that many bytes; `drops` how many times.
    """

    def __init__(self, root: Path, cert=None, key=None):
        self.root = Path(root)
        self.drop_at = None
        self.drops = 0
        self.delay_s = 0.0  # pause after each piece sent (a slow download)
        self.requests = []  # (path, Range header) in arrival order
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                origin.requests.append((self.path, self.headers.get("Range")))
                kind, _, name = self.path.lstrip("/").partition("/")
                if kind == "redirect":
                    return self._redirect("/file/" + name)
                if kind == "loop":
                    return self._redirect("/redirect/" + name)
                path = origin.root / name
                if kind not in ("file", "chunked", "norange") or not path.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                data = path.read_bytes()
                start = 0
                rng = self.headers.get("Range")
                if rng and kind != "norange":
                    start = int(rng.split("=", 1)[1].split("-", 1)[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = memoryview(data)[start:]
                if kind == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                limit = None
                if origin.drops and origin.drop_at is not None:
                    origin.drops -= 1
                    limit = origin.drop_at
                self._send_body(body, kind == "chunked", limit)
                return None

            def _redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send_body(self, body, chunked, limit):
                rnd = random.Random(len(body))
                off = 0
                try:
                    while off < len(body):
                        n = rnd.randint(1, 70000) if chunked else 65536
                        piece = body[off : off + n]
                        if limit is not None and off + len(piece) > limit:
                            piece = piece[: max(0, limit - off)]
                            self._write(piece, chunked)
                            self.wfile.flush()
                            self.connection.shutdown(2)  # drop mid-body
                            return
                        self._write(piece, chunked)
                        off += len(piece)
                        if origin.delay_s:
                            time.sleep(origin.delay_s)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _write(self, piece, chunked):
                if not piece:
                    return
                if chunked:
                    self.wfile.write(b"%x;ext=1\r\n" % len(piece))
                    self.wfile.write(piece)
                    self.wfile.write(b"\r\n")
                else:
                    self.wfile.write(piece)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(cert), str(key))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self._thread = None

    def url(self, kind, name):
        """URL of `name` served the `kind` way."""
        return f"{self.scheme}://127.0.0.1:{self.port}/{kind}/{name}"

    def start(self):
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
