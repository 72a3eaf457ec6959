"""Object storage (the spec's R2): an interface, a local-folder backend, signed download URLs."""

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from cloud.storage.base import (
    InvalidKey,
    ObjectNotFound,
    ObjectReader,
    ObjectTooLarge,
    Spool,
    Storage,
    StorageError,
    StoredObject,
    camera_snapshot_key,
    check_key,
    print_file_key,
    tenant_key,
    thumbnail_key,
)
from cloud.storage.local import LocalFolderStorage
from cloud.storage.signing import SignatureInvalid, SignedUrl, UrlSigner

STORAGE_DIR_NAME = "storage"


def default_storage_url(data_folder: str | os.PathLike) -> str:
    """PRINTFARM_STORAGE_URL, else a `storage` folder inside the data folder."""
    env = os.environ.get("PRINTFARM_STORAGE_URL")
    if env:
        return env
    return (Path(data_folder).resolve() / STORAGE_DIR_NAME).as_uri()


def open_storage(url: str) -> Storage:
    """A Storage for `file:///path` (local folder). `s3://bucket/prefix` is reserved for S3."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"file storage URL must be file:///absolute/path, got {url!r}")
        return LocalFolderStorage(unquote(parsed.path))
    if parsed.scheme == "s3":
        # The interface is backend-neutral (spool locally, then a multipart upload on commit;
        # ranged GETs on open); the S3 backend itself is not written yet.
        raise NotImplementedError("s3:// storage is not implemented yet; use file:///path")
    raise ValueError(f"unsupported storage URL scheme {parsed.scheme!r} (use file:///path)")


__all__ = [
    "InvalidKey",
    "LocalFolderStorage",
    "ObjectNotFound",
    "ObjectReader",
    "ObjectTooLarge",
    "SignatureInvalid",
    "SignedUrl",
    "Spool",
    "Storage",
    "StorageError",
    "StoredObject",
    "UrlSigner",
    "camera_snapshot_key",
    "check_key",
    "default_storage_url",
    "open_storage",
    "print_file_key",
    "tenant_key",
    "thumbnail_key",
]
