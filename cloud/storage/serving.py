"""Serve stored objects over HTTP with Content-Length and single byte ranges (resumable downloads)."""

import re

from aiohttp import web

from cloud.keys import CONFIG, STORAGE, URL_SIGNER
from cloud.storage import open_storage
from cloud.storage.base import InvalidKey, ObjectNotFound, Storage
from cloud.storage.signing import SIGNED_PATH_PREFIX, SignatureInvalid, UrlSigner

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

CONTENT_TYPES = {
    ".3mf": "application/vnd.ms-package.3dmanufacturing-3dmodel+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".csv": "text/csv; charset=utf-8",
}


class RangeNotSatisfiable(Exception):
    """The requested range starts beyond the end of the object."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end_exclusive) for a single `bytes=` range, None to send the whole object.

    Malformed or multi-range headers are ignored (RFC 9110 allows serving the full body);
    a range that starts at or past the end raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable()
        return max(0, size - length), size
    start = int(first)
    end = size if last == "" else int(last) + 1
    if last != "" and end <= start:
        return None  # invalid (last < first): ignore the header
    if start >= size:
        raise RangeNotSatisfiable()
    return start, min(end, size)


def content_type_of(key: str) -> str:
    """Content type chosen by the key's extension."""
    for suffix, content_type in CONTENT_TYPES.items():
        if key.endswith(suffix):
            return content_type
    return "application/octet-stream"


def _error(status: int, code: str, message: str, headers=None) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


async def serve_object(
    request: web.Request, storage: Storage, key: str, *, download_name: str | None = None
) -> web.StreamResponse:
    """Answer GET/HEAD for one object: 200 whole, 206 partial, 416 unsatisfiable, 404 absent."""
    try:
        opened = await storage.reader(key)
    except (ObjectNotFound, InvalidKey):
        return _error(404, "not_found", "no such object")
    async with opened:
        return await _serve_opened(request, opened, key, download_name)


async def _serve_opened(request, opened, key, download_name) -> web.StreamResponse:
    size = opened.size
    headers = {"Accept-Ranges": "bytes", "Content-Type": content_type_of(key)}
    if download_name:
        safe = re.sub(r"[^A-Za-z0-9._ -]", "_", download_name)
        headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    try:
        byte_range = parse_range(request.headers.get("Range"), size)
    except RangeNotSatisfiable:
        return _error(
            416,
            "range_not_satisfiable",
            "range outside the object",
            headers={"Content-Range": f"bytes */{size}"},
        )
    status, start, end = 200, 0, size
    if byte_range is not None:
        status, (start, end) = 206, byte_range
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start
    await response.prepare(request)
    if request.method != "HEAD":
        async for chunk in opened.chunks(start, end):
            await response.write(chunk)
    await response.write_eof()
    return response


def signed_download_handler(storage: Storage, signer: UrlSigner):
    """aiohttp handler for `/storage/{key:.+}`: checks the signature, then serves the object."""

    async def handle(request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        try:
            signer.verify(
                request.method,
                key,
                request.query.get("expires"),
                request.query.get("signature"),
            )
        except SignatureInvalid as exc:
            return _error(403, "invalid_signature", str(exc))
        return await serve_object(request, storage, key)

    return handle


def add_signed_download_route(app: web.Application, storage: Storage, signer: UrlSigner) -> None:
    """Mount GET and HEAD `/storage/{key}` on a bare app (the cloud declares it in cloud.api.downloads)."""
    app.router.add_get(
        SIGNED_PATH_PREFIX + "{key:.+}", signed_download_handler(storage, signer), allow_head=True
    )


def setup(app: web.Application) -> None:
    """Open the configured storage and URL signer once and close the storage at shutdown.
    Idempotent: every module that needs storage calls it. The download route is declared in
    cloud.api.downloads."""
    if STORAGE in app:
        return
    config = app[CONFIG]
    app[STORAGE] = open_storage(config.storage_url)
    app[URL_SIGNER] = UrlSigner(config.secret("url_signing_key"))

    async def close(app: web.Application) -> None:
        await app[STORAGE].close()

    app.on_cleanup.append(close)
