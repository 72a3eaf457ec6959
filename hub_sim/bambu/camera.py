"""P1/A1 camera: TLS JPEG stream on port 6000 (80-byte auth, 16-byte frame headers)."""

from __future__ import annotations

import asyncio
import io
import logging
import ssl
import struct
import time

log = logging.getLogger(__name__)

# Auth packet (OpenBambuAPI video.md): u32 0x40, u32 0x3000, u32 0, u32 0, 32-byte user, 32-byte code.
AUTH_LEN = 80
AUTH_MAGIC = (0x40, 0x3000)
FRAME_SIZE = (1280, 720)  # what P1/A1 send
AUTH_TIMEOUT_S = 10.0
_JPEG_QUALITY = 70


def parse_auth(packet: bytes) -> tuple[str, str] | None:
    """(username, access code) from an auth packet, or None when it is malformed."""
    if len(packet) != AUTH_LEN:
        return None
    size, kind, _, _ = struct.unpack_from("<IIII", packet)
    if (size, kind) != AUTH_MAGIC:
        return None
    user = packet[16:48].split(b"\0", 1)[0].decode("ascii", "replace")
    code = packet[48:80].split(b"\0", 1)[0].decode("ascii", "replace")
    return user, code


def frame_header(payload_len: int) -> bytes:
    """[u32 size][u32 itrack 0][u32 flags 1][u32 0]; clients read the size from 3 bytes."""
    return struct.pack("<IIII", payload_len, 0, 1, 0)


def render_frame(printer) -> bytes:
    """A JFIF JPEG showing the printer's name, state and progress."""
    from PIL import Image, ImageDraw

    s = printer.state
    img = Image.new("RGB", FRAME_SIZE, (24, 26, 30))
    draw = ImageDraw.Draw(img)
    width, height = FRAME_SIZE
    # The bed, and a part that grows with the print.
    draw.rectangle((340, 520, 940, 600), fill=(70, 70, 76))
    grown = int(200 * s["mc_percent"] / 100)
    if grown:
        draw.rectangle((560, 520 - grown, 720, 520), fill=(200, 120, 40))
    lines = [
        f"{printer.name}  ({printer.model.product_name}, {printer.serial})",
        f"state: {s['gcode_state']}   job: {s['subtask_name'] or '-'}",
        f"progress: {s['mc_percent']}%   layer {s['layer_num']}/{s['total_layer_num']}"
        f"   remaining {s['mc_remaining_time']} min",
        f"nozzle {s['nozzle_temper']:.1f}/{s['nozzle_target_temper']}  "
        f"bed {s['bed_temper']:.1f}/{s['bed_target_temper']}",
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    ]
    for i, text in enumerate(lines):
        draw.text((40, 40 + 36 * i), text, fill=(235, 235, 235))
    bar = int((width - 80) * s["mc_percent"] / 100)
    draw.rectangle((40, height - 60, width - 40, height - 40), outline=(180, 180, 180))
    if bar:
        draw.rectangle((40, height - 60, 40 + bar, height - 40), fill=(60, 180, 90))
    buf = io.BytesIO()
    # Plain JFIF (APP0, FF D8 FF E0): clients drop frames that start with EXIF (FF E1).
    img.save(buf, format="JPEG", quality=_JPEG_QUALITY)
    return buf.getvalue()


class PrinterCamera:
    """Serves the stream: one frame per `frame_interval` seconds to each authenticated client."""

    def __init__(self, printer, host: str, port: int, ssl_context: ssl.SSLContext):
        self.printer = printer
        self.host = host
        self.requested_port = port
        self.ssl_context = ssl_context
        self.frame_interval = 1.0
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._frame: tuple[float, bytes] | None = None
        self.frames_sent = 0

    async def start(self) -> None:
        """Bind and listen."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.requested_port, ssl=self.ssl_context, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.requested_port = self.port

    async def stop(self) -> None:
        """Close the listener and every stream."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
        self._server = None

    def _current_frame(self) -> bytes:
        # Render at most once per interval whatever the number of viewers.
        now = time.monotonic()
        if self._frame is None or now - self._frame[0] >= self.frame_interval / 2:
            self._frame = (now, render_frame(self.printer))
        return self._frame[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            packet = await asyncio.wait_for(reader.readexactly(AUTH_LEN), AUTH_TIMEOUT_S)
            creds = parse_auth(packet)
            if creds != ("bblp", self.printer.access_code):
                # Wrong code: the printer just closes; clients read 0 bytes.
                return
            while True:
                jpeg = await asyncio.to_thread(self._current_frame)
                # The header goes in its own TLS record: clients recognise it by a 16-byte read.
                writer.write(frame_header(len(jpeg)))
                await writer.drain()
                writer.write(jpeg)
                await writer.drain()
                self.frames_sent += 1
                await asyncio.sleep(self.frame_interval)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
