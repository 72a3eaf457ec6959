"""Local-folder storage: streaming atomic puts, limits, ranged reads, signed URLs over real HTTP."""

import hashlib
import os

import aiohttp
import pytest
from aiohttp import web

from cloud.storage import (
    InvalidKey,
    LocalFolderStorage,
    ObjectNotFound,
    ObjectTooLarge,
    SignatureInvalid,
    UrlSigner,
    check_key,
    open_storage,
    print_file_key,
)
from cloud.storage.serving import RangeNotSatisfiable, add_signed_download_route, parse_range

SECRET = b"k" * 32


async def stream(data: bytes, chunk: int = 7000):
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


@pytest.fixture
async def storage(tmp_path):
    store = LocalFolderStorage(tmp_path / "store")
    yield store
    await store.close()


def leftovers(store: LocalFolderStorage) -> list[str]:
    return [str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file()]


async def test_put_streams_hashes_and_reads_back(storage):
    data = os.urandom(1_300_000)
    key = print_file_key("tenant-a", "file-1")
    stored = await storage.put(key, stream(data), max_bytes=2_000_000)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.md5 == hashlib.md5(data).hexdigest()
    assert key == "tenant-a/print-files/file-1.3mf"
    assert await storage.exists(key)
    assert await storage.size(key) == len(data)
    assert await storage.read_bytes(key) == data
    ranged = b"".join([c async for c in storage.open(key, 1000, 250_000, chunk_size=4096)])
    assert ranged == data[1000:250_000]
    assert leftovers(storage) == [key]


async def test_over_limit_stores_nothing(storage):
    with pytest.raises(ObjectTooLarge):
        await storage.put("t/print-files/x.3mf", stream(b"x" * 5000), max_bytes=4999)
    assert leftovers(storage) == []


async def test_dropped_stream_stores_nothing_and_keeps_old_object(storage):
    key = "t/print-files/y.3mf"
    await storage.put_bytes(key, b"old contents")

    async def broken():
        yield b"partial data"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.put(key, broken(), max_bytes=10_000)
    assert await storage.read_bytes(key) == b"old contents"
    assert leftovers(storage) == [key]


async def test_delete_and_missing(storage):
    key = "t/thumbnails/z.png"
    await storage.put_bytes(key, b"png")
    assert await storage.delete(key) is True
    assert await storage.delete(key) is False
    assert not await storage.exists(key)
    with pytest.raises(ObjectNotFound):
        await storage.size(key)
    with pytest.raises(ObjectNotFound):
        await storage.read_bytes(key)


@pytest.mark.parametrize(
    "key", ["", "/abs", "a/../b", "a//b", "..", "a/./b", "a/.hidden", "a\\b", "a/b c", "a/\x00"]
)
async def test_unsafe_keys_are_refused(storage, key):
    with pytest.raises(InvalidKey):
        check_key(key)
    with pytest.raises(InvalidKey):
        await storage.put_bytes(key, b"x")


def test_open_storage_urls(tmp_path):
    store = open_storage((tmp_path / "s").as_uri())
    assert isinstance(store, LocalFolderStorage) and store.root == (tmp_path / "s").resolve()
    with pytest.raises(NotImplementedError):
        open_storage("s3://bucket/prefix")
    with pytest.raises(ValueError):
        open_storage("ftp://x/y")


def test_signatures_bind_method_key_and_expiry():
    signer = UrlSigner(SECRET)
    url = signer.sign("t/print-files/a.3mf", ttl_ms=60_000, now=1_000)
    assert url.expires_at == 61_000
    sig = url.path.rsplit("signature=", 1)[1]
    signer.verify("GET", "t/print-files/a.3mf", "61000", sig, now=2_000)
    signer.verify("HEAD", "t/print-files/a.3mf", "61000", sig, now=2_000)
    bad = [
        ("GET", "t/print-files/b.3mf", "61000", sig, 2_000),  # other key
        ("GET", "t/print-files/a.3mf", "61001", sig, 2_000),  # extended expiry
        ("PUT", "t/print-files/a.3mf", "61000", sig, 2_000),  # other method
        ("GET", "t/print-files/a.3mf", "61000", sig, 61_000),  # expired
        ("GET", "t/print-files/a.3mf", "61000", "0" * 64, 2_000),
        ("GET", "t/print-files/a.3mf", "soon", sig, 2_000),
        ("GET", "t/print-files/a.3mf", None, sig, 2_000),
        ("GET", "../etc/passwd", "61000", sig, 2_000),
    ]
    for method, key, expires, signature, now in bad:
        with pytest.raises(SignatureInvalid):
            signer.verify(method, key, expires, signature, now=now)
    with pytest.raises(SignatureInvalid):
        UrlSigner(b"x" * 32).verify("GET", "t/print-files/a.3mf", "61000", sig, now=2_000)
    with pytest.raises(ValueError):
        UrlSigner(b"short")


def test_parse_range():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 10)
    assert parse_range("bytes=90-", 100) == (90, 100)
    assert parse_range("bytes=-10", 100) == (90, 100)
    assert parse_range("bytes=-500", 100) == (0, 100)
    assert parse_range("bytes=50-5000", 100) == (50, 100)
    assert parse_range("bytes=9-3", 100) is None
    assert parse_range("bytes=0-1,5-6", 100) is None
    assert parse_range("items=0-1", 100) is None
    for header in ("bytes=100-", "bytes=-0", "bytes=200-300"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 100)


@pytest.fixture
async def served(storage):
    signer = UrlSigner(SECRET)
    app = web.Application()
    add_signed_download_route(app, storage, signer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession() as session:
        yield storage, signer, f"http://127.0.0.1:{port}", session
    await runner.cleanup()


async def test_signed_download_full_ranged_and_resumed(served):
    storage, signer, base, session = served
    data = os.urandom(700_000)
    key = print_file_key("tenant-a", "f")
    await storage.put(key, stream(data), max_bytes=10**7)
    url = signer.sign(key).absolute(base)

    async with session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(data))
        assert response.headers["Accept-Ranges"] == "bytes"
        assert await response.read() == data

    async with session.head(url) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(data))

    # A hub that lost its connection after 300,000 bytes resumes from there.
    async with session.get(url, headers={"Range": "bytes=300000-"}) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 300000-{len(data) - 1}/{len(data)}"
        assert response.headers["Content-Length"] == str(len(data) - 300_000)
        assert data[:300_000] + await response.read() == data

    async with session.get(url, headers={"Range": "bytes=10-19"}) as response:
        assert response.status == 206 and await response.read() == data[10:20]

    async with session.get(url, headers={"Range": f"bytes={len(data)}-"}) as response:
        assert response.status == 416
        assert response.headers["Content-Range"] == f"bytes */{len(data)}"


async def test_signed_download_refuses_bad_signatures(served):
    storage, signer, base, session = served
    key = print_file_key("tenant-a", "g")
    await storage.put_bytes(key, b"secret file")
    good = signer.sign(key)
    other = print_file_key("tenant-b", "g")
    await storage.put_bytes(other, b"other tenant")
    attempts = [
        good.path.replace("tenant-a", "tenant-b"),  # reuse a signature for another tenant's key
        good.path.split("?")[0],
        good.path.replace("expires=", "expires=9"),
        signer.sign(key, ttl_ms=1, now=1).path,  # expired long ago
    ]
    for path in attempts:
        async with session.get(base + path) as response:
            assert response.status == 403, path
            body = await response.json()
            assert body["error"]["code"] == "invalid_signature"
    missing = signer.sign(print_file_key("tenant-a", "nope"))
    async with session.get(missing.absolute(base)) as response:
        assert response.status == 404


def test_stale_spool_files_are_swept_at_start(tmp_path):
    import os
    import time

    spool = tmp_path / "s" / ".spool"
    spool.mkdir(parents=True)
    old, fresh = spool / "old.part", spool / "fresh.part"
    old.write_bytes(b"left by a crash")
    fresh.write_bytes(b"an upload in progress in another process")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    store = LocalFolderStorage(tmp_path / "s")
    assert store.removed_stale_spools == 1
    assert not old.exists() and fresh.exists()


async def test_reader_keeps_its_version_while_the_key_is_replaced(storage):
    key = "t/camera-snapshots/cam.jpg"
    await storage.put_bytes(key, b"A" * 300_000)
    async with await storage.reader(key) as opened:
        await storage.put_bytes(key, b"B" * 10)  # the hub uploads a new snapshot meanwhile
        data = b"".join([c async for c in opened.chunks(chunk_size=65536)])
        assert opened.size == 300_000 and data == b"A" * 300_000
        assert b"".join([c async for c in opened.chunks(299_990, 400_000)]) == b"A" * 10
    assert await storage.read_bytes(key) == b"B" * 10
    with pytest.raises(ObjectNotFound):
        await storage.reader("t/camera-snapshots/none.jpg")
