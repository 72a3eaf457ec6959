"""The Storage interface every backend implements, its errors and the bucket key layout."""

import abc
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

# The spec's R2 bucket layout: everything a tenant owns sits under its id.
PRINT_FILES_PREFIX = "print-files"
THUMBNAILS_PREFIX = "thumbnails"
EXPORTS_PREFIX = "exports"
CAMERA_SNAPSHOTS_PREFIX = "camera-snapshots"

# One key segment: no separators, no dot-only names, nothing a shell or a URL would mangle.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_KEY_LENGTH = 1024


class StorageError(Exception):
    """A storage operation failed (base of the errors below)."""


class ObjectNotFound(StorageError):
    """No object is stored under that key."""


class ObjectTooLarge(StorageError):
    """The stream went past the size limit; nothing was stored."""

    def __init__(self, limit: int):
        super().__init__(f"object is larger than the {limit}-byte limit")
        self.limit = limit


class InvalidKey(StorageError, ValueError):
    """The key is not a valid relative object key (empty, '..', absolute, odd characters)."""


@dataclass(frozen=True)
class StoredObject:
    """What a completed put wrote: its key, byte count, SHA-256 and MD5 (lower-case hex).

    MD5 is not for security: it is what hubs and printers compare a transferred file with."""

    key: str
    size: int
    sha256: str
    md5: str = ""


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key of '/'-separated segments, else InvalidKey."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"invalid storage key {key!r}")
    for segment in key.split("/"):
        if not _SEGMENT.match(segment) or segment.strip(".") == "":
            raise InvalidKey(f"invalid storage key {key!r}")
    return key


def tenant_key(tenant_id: str, prefix: str, name: str) -> str:
    """`{tenant_id}/{prefix}/{name}`: the spec's per-tenant layout."""
    return check_key(f"{tenant_id}/{prefix}/{name}")


def print_file_key(tenant_id: str, file_id: str) -> str:
    """Key of a print file: `{tenant_id}/print-files/{file_id}.3mf`."""
    return tenant_key(tenant_id, PRINT_FILES_PREFIX, f"{file_id}.3mf")


def thumbnail_key(tenant_id: str, file_id: str) -> str:
    """Key of a print file's thumbnail: `{tenant_id}/thumbnails/{file_id}.png`."""
    return tenant_key(tenant_id, THUMBNAILS_PREFIX, f"{file_id}.png")


def camera_snapshot_key(tenant_id: str, camera_id: str) -> str:
    """Key of a camera's latest snapshot: `{tenant_id}/camera-snapshots/{camera_id}.jpg`."""
    return tenant_key(tenant_id, CAMERA_SNAPSHOTS_PREFIX, f"{camera_id}.jpg")


class Spool(abc.ABC):
    """An upload received into the storage's temporary area, not yet visible under any key."""

    size: int
    sha256: str
    md5: str

    @property
    @abc.abstractmethod
    def path(self):
        """Local filesystem path of the spooled bytes (for parsing before commit)."""

    @abc.abstractmethod
    async def discard(self) -> None:
        """Remove the spooled bytes (idempotent)."""


class ObjectReader(abc.ABC):
    """One opened version of an object: `size` and the bytes read always belong together, even
    if the key is replaced meanwhile (a camera snapshot every few seconds)."""

    size: int

    @abc.abstractmethod
    def chunks(
        self, start: int = 0, end: int | None = None, chunk_size: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        """Stream bytes [start, end) of this version (end None = to the end)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the handle."""

    async def __aenter__(self) -> "ObjectReader":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


class Storage(abc.ABC):
    """Object storage: streaming put with a size limit and SHA-256, ranged reads, delete."""

    @abc.abstractmethod
    async def spool(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Spool:
        """Receive a stream into the temporary area, hashing it; ObjectTooLarge past max_bytes."""

    @abc.abstractmethod
    async def commit(self, spool: Spool, key: str) -> StoredObject:
        """Make a spooled upload visible under `key` atomically (replacing any old object)."""

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> StoredObject:
        """Store a stream under `key` atomically: readers see the old object or the whole new one."""
        check_key(key)
        spooled = await self.spool(chunks, max_bytes=max_bytes)
        try:
            return await self.commit(spooled, key)
        finally:
            await spooled.discard()

    async def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Store a small in-memory object (thumbnails, snapshots)."""

        async def one_chunk():
            yield data

        return await self.put(key, one_chunk(), max_bytes=len(data))

    @abc.abstractmethod
    async def reader(self, key: str) -> ObjectReader:
        """Open the object's current version for reading; ObjectNotFound if absent."""

    async def open(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        """Stream bytes [start, end) of the object (end None = to the end); ObjectNotFound."""
        async with await self.reader(key) as opened:
            async for chunk in opened.chunks(start, end, chunk_size):
                yield chunk

    async def read_bytes(self, key: str) -> bytes:
        """The whole object in memory: only for small objects (thumbnails, snapshots)."""
        parts = [chunk async for chunk in self.open(key)]
        return b"".join(parts)

    @abc.abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove the object; True if it existed."""

    @abc.abstractmethod
    async def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""

    @abc.abstractmethod
    async def size(self, key: str) -> int:
        """Byte size of the object; ObjectNotFound if absent."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release resources (thread pools, connections)."""
