"""Signed downloads: `/storage/{key}`, the one path browsers and hubs fetch stored files from."""

from cloud.api.operations import PUBLIC, OperationGroup, register
from cloud.keys import STORAGE, URL_SIGNER
from cloud.storage import serving
from cloud.storage.signing import SIGNED_PATH_PREFIX

ops = OperationGroup(tag="storage", description="Signed, expiring downloads of stored objects")

_BINARY = {
    "application/octet-stream": {"schema": {"type": "string", "contentEncoding": "binary"}},
}


@ops.get(
    SIGNED_PATH_PREFIX + "{key:.+}",
    role=PUBLIC,
    summary="Download a stored object through a signed URL (supports Range for resuming)",
    description="The URL's `expires` and `signature` query parameters (HMAC-SHA256 over method, "
    "key and expiry) authorise the request; no token is needed. `Range: bytes=N-` resumes.",
    response_content=_BINARY,
    errors=[403, 416],
)
async def download(call):
    """Verify the signature and stream the object (or the requested byte range)."""
    app = call.app
    return await serving.signed_download_handler(app[STORAGE], app[URL_SIGNER])(call.request)


def setup(app) -> None:
    """Declare the download route (HEAD is served by the same handler, undocumented)."""
    serving.setup(app)
    register(app, ops)
    app.router.add_route(
        "HEAD",
        SIGNED_PATH_PREFIX + "{key:.+}",
        serving.signed_download_handler(app[STORAGE], app[URL_SIGNER]),
    )
