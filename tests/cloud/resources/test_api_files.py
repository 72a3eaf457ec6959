"""/api/v1/files over real HTTP: streamed uploads, metadata, signed Range downloads, cleanup."""

import asyncio
import hashlib

import aiohttp
import pytest

from cloud.keys import STORAGE
from cloud.services import files as files_service
from tests.cloud.resources.threemf_fixtures import tiny_png, write_bambu_3mf


def stored(server) -> list[str]:
    root = server.app[STORAGE].root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def upload_multipart(account, path, name=None, **fields):
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, str(value))
    form.add_field(
        "file",
        path.read_bytes(),
        filename=name or path.name,
        content_type="application/octet-stream",
    )
    return await account.api.post("/api/v1/files", data=form)


async def test_upload_download_and_delete(live_server, tmp_path):
    owner = await live_server.register()
    path = tmp_path / "hook.gcode.3mf"
    md5s = write_bambu_3mf(path, gcode_padding=300_000)
    product = await owner.api.post("/api/v1/products", json={"name": "Hook"})
    r = await upload_multipart(owner, path, product_id=product.json["id"], number_of_units=4)
    assert r.status == 201, r.json
    record = r.json
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["file_size_bytes"] == path.stat().st_size
    assert record["print_time_seconds"] == 5025 and record["filament_weight_grams"] == 23.45
    assert record["printer_model_id"] == "C12" and record["nozzle_diameter"] == 0.4
    assert record["plates"][0]["gcode_md5"] == md5s[0] and record["number_of_units"] == 4
    assert record["product_id"] == product.json["id"] and "file_key" not in record

    # The signed URL needs no token, serves Range requests, and expires.
    link = await owner.api.get(f"/api/v1/files/{record['id']}/download")
    assert link.status == 200 and link.json["sha256"] == record["sha256"]
    data = path.read_bytes()
    anonymous = live_server.client()
    full = await anonymous.get(link.json["path"])
    assert full.status == 200 and full.body == data
    assert full.headers["Content-Length"] == str(len(data))
    part = await anonymous.get(link.json["path"], headers={"Range": "bytes=1000-"})
    assert part.status == 206 and data[:1000] + part.body == data
    tampered = link.json["path"].replace("signature=", "signature=0")
    assert (await anonymous.get(tampered)).status == 403

    thumb = await owner.api.get(f"/api/v1/files/{record['id']}/thumbnail")
    assert (await anonymous.get(thumb.json["path"])).body == tiny_png()

    listed = await owner.api.get("/api/v1/files", params={"q": "hook", "sort": "name"})
    assert listed.status == 200 and listed.json["total"] == 1
    assert listed.json["items"][0]["plate_count"] == 1

    other = await live_server.register()
    for method, suffix in (
        ("GET", ""),
        ("GET", "/download"),
        ("GET", "/thumbnail"),
        ("PATCH", ""),
        ("DELETE", ""),
    ):
        r = await other.api.request(
            method,
            f"/api/v1/files/{record['id']}{suffix}",
            json={"name": "x.3mf"} if method == "PATCH" else None,
        )
        assert r.status == 404, (method, suffix)
    viewer = await live_server.member_of(owner, "viewer")
    assert (await upload_multipart(viewer, path, name="v.3mf")).status == 403
    assert (await viewer.api.delete(f"/api/v1/files/{record['id']}")).status == 403

    assert len(stored(live_server)) == 2
    assert (await owner.api.delete(f"/api/v1/files/{record['id']}")).status == 204
    assert stored(live_server) == []
    assert (await anonymous.get(link.json["path"])).status == 404


async def test_raw_body_upload_and_bad_uploads_leave_nothing(sqlite_server, tmp_path):
    owner = await sqlite_server.register()
    path = tmp_path / "plate.3mf"
    write_bambu_3mf(path)
    r = await owner.api.post(
        "/api/v1/files",
        data=path.read_bytes(),
        params={"name": "raw.gcode.3mf"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status == 201, r.json
    assert r.json["name"] == "raw.gcode.3mf"
    before = stored(sqlite_server)

    cases = [
        (b"definitely not a zip", "x.3mf", 422, "not_3mf"),
        (b"", "empty.3mf", 422, "validation_error"),
        (path.read_bytes(), "plate.stl", 422, "validation_error"),
        (path.read_bytes(), "raw.gcode.3mf", 409, "conflict"),
    ]
    for content, name, status, code in cases:
        r = await owner.api.post(
            "/api/v1/files",
            data=content,
            params={"name": name},
            headers={"Content-Type": "application/octet-stream"},
        )
        assert (r.status, r.error_code) == (status, code), (name, r.json)
        assert r.json["error"]["field"] in ("file", "name")
    truncated = tmp_path / "cut.3mf"
    truncated.write_bytes(path.read_bytes()[:-200])
    r = await upload_multipart(owner, truncated)
    assert r.status == 422 and r.error_code in ("not_3mf", "corrupt_3mf")
    r = await owner.api.post("/api/v1/files", data=b"x", headers={"Content-Type": "text/plain"})
    assert r.status == 415
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("name", "nofile.3mf")
    r = await owner.api.post("/api/v1/files", data=form)
    assert (r.status, r.json["error"]["field"]) == (422, "file")
    # Found by schemathesis: broken multipart framing is a 400, not a 500.
    garbage = b"--b0undary\r\n-2.25e+235--b0undary--\r\n"
    r = await owner.api.post(
        "/api/v1/files",
        data=garbage,
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert (r.status, r.error_code) == (400, "bad_request"), r.json
    assert stored(sqlite_server) == before


async def test_upload_size_limit_and_dropped_connection(sqlite_server, tmp_path, monkeypatch):
    server = sqlite_server
    path = tmp_path / "big.3mf"
    write_bambu_3mf(path, gcode_padding=2_000_000)
    owner = await server.register()
    # Files over the limit are refused with 413 and nothing is stored.
    monkeypatch.setattr(files_service, "DEFAULT_MAX_UPLOAD_BYTES", 10_000)
    r = await owner.api.post(
        "/api/v1/files",
        data=path.read_bytes(),
        params={"name": "big.3mf"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert (r.status, r.error_code) == (413, "payload_too_large"), r.json
    assert stored(server) == []
    monkeypatch.undo()

    # A client that drops mid-upload leaves nothing either.
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /api/v1/files?name=drop.3mf HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {owner.access_token}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {path.stat().st_size}\r\n\r\n"
    )
    writer.write(head.encode() + path.read_bytes()[:300_000])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    spool = server.app[STORAGE].root / ".spool"
    for _ in range(400):  # the server notices the drop asynchronously (a failure guard only)
        if not any(spool.iterdir()):
            break
        await asyncio.sleep(0.05)
    assert stored(server) == []
    assert (await owner.api.get("/api/v1/files")).json["total"] == 0
    # The server is still healthy and accepts the complete upload afterwards.
    r = await upload_multipart(owner, path, name="drop.3mf")
    assert r.status == 201, r.json


async def test_uploads_are_rate_limited_per_tenant(server_factory, tmp_path):
    from cloud.config import RateLimit
    from tests.cloud.conftest import TEST_RATE_LIMITS

    limits = {**TEST_RATE_LIMITS, "upload": RateLimit(2, 3_600_000)}
    path = tmp_path / "p.3mf"
    write_bambu_3mf(path)
    async with server_factory(rate_limits=limits) as server:
        owner = await server.register()
        colleague = await server.member_of(owner, "operator")
        for name, account in (("a.3mf", owner), ("b.3mf", colleague)):
            assert (await upload_multipart(account, path, name=name)).status == 201
        # The third upload of the tenant within the hour, whoever sends it, is refused.
        r = await upload_multipart(colleague, path, name="c.3mf")
        assert (r.status, r.error_code) == (429, "rate_limited"), r.json
        assert int(r.headers["Retry-After"]) > 0
        other = await server.register()  # another tenant has its own budget
        assert (await upload_multipart(other, path, name="c.3mf")).status == 201
        assert (await owner.api.get("/api/v1/files")).json["total"] == 2


@pytest.mark.slow
async def test_large_upload_is_streamed_not_held_in_memory(sqlite_server, tmp_path):
    """A ~40 MB 3MF goes through upload, storage and metadata extraction while Python's heap
    (client and server share this process) grows by a small fraction of the file."""
    import tracemalloc

    from hub_sim.threemf import write_3mf

    info = write_3mf(tmp_path / "big.gcode.3mf", gcode_size=100 * 1024 * 1024, seed=7)
    assert info.size > 30 * 1024 * 1024
    owner = await sqlite_server.register()

    async def from_disk():
        with open(info.path, "rb") as handle:
            while chunk := handle.read(256 * 1024):
                yield chunk

    tracemalloc.start()
    try:
        r = await owner.api.post(
            "/api/v1/files",
            data=from_disk(),
            params={"name": "big.gcode.3mf"},
            headers={"Content-Type": "application/octet-stream"},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status == 201, r.json
    assert r.json["file_size_bytes"] == info.size
    assert r.json["md5"] == info.md5
    print(f"upload of {info.size} bytes: Python heap peak {peak} bytes")
    assert peak < info.size // 4, f"peak {peak} bytes for a {info.size}-byte upload"


async def test_concurrent_uploads_of_one_name_keep_one_file(live_server, tmp_path):
    path = tmp_path / "same.3mf"
    write_bambu_3mf(path, gcode_padding=200_000)
    owner = await live_server.register()
    results = await asyncio.gather(
        *(upload_multipart(owner, path, name="same.3mf") for _ in range(4))
    )
    statuses = sorted(r.status for r in results)
    assert statuses == [201, 409, 409, 409], [r.json for r in results]
    winner = next(r.json for r in results if r.status == 201)
    assert stored(live_server) == sorted(
        [
            f"{owner.tenant_id}/print-files/{winner['id']}.3mf",
            f"{owner.tenant_id}/thumbnails/{winner['id']}.png",
        ]
    )
    spool = live_server.app[STORAGE].root / ".spool"
    assert list(spool.iterdir()) == []
