"""Storage in a local folder: keys are relative paths; disk work runs on a small thread pool."""

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cloud.storage.base import (
    ObjectNotFound,
    ObjectReader,
    ObjectTooLarge,
    Spool,
    Storage,
    StoredObject,
    check_key,
)

# Spooled uploads live inside the root so the final rename never crosses filesystems (atomic);
# its name starts with a dot, which no valid key segment can, so it never collides with a key.
SPOOL_DIR_NAME = ".spool"
# Incoming chunks are gathered to this size before one write on the pool: fewer thread hops.
WRITE_BUFFER_BYTES = 512 * 1024
DISK_THREADS = 4
# Spool files older than this at start-up were left by a crashed process: no upload takes a day.
STALE_SPOOL_SECONDS = 24 * 3600


class LocalSpool(Spool):
    """A temporary file inside the storage root holding one received upload."""

    def __init__(self, storage: "LocalFolderStorage", path: Path, size: int, sha256: str, md5: str):
        self._storage = storage
        self._path = path
        self.size = size
        self.sha256 = sha256
        self.md5 = md5

    @property
    def path(self) -> Path:
        return self._path

    async def discard(self) -> None:
        await self._storage._run(_unlink_quietly, self._path)


class LocalReader(ObjectReader):
    """An open file of the local storage; reads run on the storage's thread pool."""

    def __init__(self, storage: "LocalFolderStorage", handle, size: int):
        self._storage = storage
        self._handle = handle
        self.size = size

    async def chunks(
        self, start: int = 0, end: int | None = None, chunk_size: int = 256 * 1024
    ) -> AsyncIterator[bytes]:
        run = self._storage._run
        await run(self._handle.seek, start)
        remaining = (self.size if end is None else min(end, self.size)) - start
        while remaining > 0:
            chunk = await run(self._handle.read, min(chunk_size, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk

    async def close(self) -> None:
        await asyncio.shield(self._storage._run(self._handle.close))


class LocalFolderStorage(Storage):
    """Objects as files under `root`; writes are temp file + fsync + rename, so always whole."""

    def __init__(self, root: str | os.PathLike, *, threads: int = DISK_THREADS):
        self.root = Path(root).resolve()
        self._spool_dir = self.root / SPOOL_DIR_NAME
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        self.removed_stale_spools = _sweep_stale(self._spool_dir, time.time() - STALE_SPOOL_SECONDS)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="storage")

    def __repr__(self) -> str:
        return f"LocalFolderStorage({str(self.root)!r})"

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def path_of(self, key: str) -> Path:
        """Filesystem path of a key (validated: never outside the root)."""
        return self.root.joinpath(*check_key(key).split("/"))

    async def spool(self, chunks: AsyncIterator[bytes], *, max_bytes: int) -> LocalSpool:
        path = self._spool_dir / f"{uuid.uuid4().hex}.part"
        handle = await self._run(open, path, "wb")
        digest = hashlib.sha256()
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        pending: list[bytes] = []
        pending_size = 0
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise ObjectTooLarge(max_bytes)
                digest.update(chunk)
                md5.update(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= WRITE_BUFFER_BYTES:
                    await self._run(handle.write, b"".join(pending))
                    pending, pending_size = [], 0
            if pending:
                await self._run(handle.write, b"".join(pending))
            await self._run(_flush_and_sync, handle)
        except BaseException:
            # A dropped connection, an over-size stream or a cancelled task leaves no file behind.
            await asyncio.shield(self._run(_close_and_unlink, handle, path))
            raise
        await self._run(handle.close)
        return LocalSpool(self, path, size, digest.hexdigest(), md5.hexdigest())

    async def commit(self, spool: Spool, key: str) -> StoredObject:
        if not isinstance(spool, LocalSpool) or spool._storage is not self:
            raise TypeError("spool belongs to another storage")
        target = self.path_of(key)
        await self._run(_rename_into_place, spool.path, target)
        return StoredObject(key=key, size=spool.size, sha256=spool.sha256, md5=spool.md5)

    async def reader(self, key: str) -> "LocalReader":
        path = self.path_of(key)
        try:
            handle = await self._run(open, path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        # The size of this open file: a later os.replace of the key does not change it.
        size = (await self._run(os.fstat, handle.fileno())).st_size
        return LocalReader(self, handle, size)

    async def delete(self, key: str) -> bool:
        return await self._run(_unlink_quietly, self.path_of(key))

    async def exists(self, key: str) -> bool:
        return await self._run(os.path.isfile, self.path_of(key))

    async def size(self, key: str) -> int:
        try:
            return await self._run(_file_size, self.path_of(key))
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    async def close(self) -> None:
        self._executor.shutdown(wait=True)


def _sweep_stale(folder: Path, older_than: float) -> int:
    """Delete spool files last written before `older_than` (epoch seconds); returns the count."""
    removed = 0
    for path in folder.glob("*.part"):
        try:
            if path.stat().st_mtime < older_than:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass  # another process swept it first
    return removed


def _file_size(path: Path) -> int:
    if not path.is_file():
        raise FileNotFoundError(path)
    return path.stat().st_size


def _flush_and_sync(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _close_and_unlink(handle, path: Path) -> None:
    handle.close()
    _unlink_quietly(path)


def _unlink_quietly(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def _rename_into_place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
