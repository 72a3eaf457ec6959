"""Print file uploads through the service: metadata recorded, failures leave nothing behind."""

import hashlib

import pytest

from cloud.errors import ApiError
from cloud.models import PrintFile, PrintJob, system_access
from cloud.models.file_details import PrintFileDetail, PrintFilePlate
from cloud.services import files, products
from cloud.storage import LocalFolderStorage, UrlSigner
from tests.cloud.resources.threemf_fixtures import tiny_png, write_bambu_3mf


async def run_db(fn, *args, **kwargs):
    return fn(*args, **kwargs)


async def chunks_of(path, size=50_000):
    data = path.read_bytes()
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.fixture
async def storage(tmp_path):
    store = LocalFolderStorage(tmp_path / "store")
    yield store
    await store.close()


def stored_objects(store) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def row_counts() -> tuple[int, int, int]:
    with system_access():
        return (
            PrintFile.select().count(),
            PrintFileDetail.select().count(),
            PrintFilePlate.select().count(),
        )


async def test_upload_records_metadata_and_downloads(tenants, storage, tmp_path):
    a, b = tenants
    path = tmp_path / "vase.gcode.3mf"
    md5s = write_bambu_3mf(path, plates=2)
    product = products.create_product(a, {"name": "Vase"})
    record = await files.upload_print_file(
        run_db,
        storage,
        a,
        chunks_of(path),
        name="vase.gcode.3mf",
        product_id=product["id"],
        uploaded_by=a.user_id,
    )
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["file_size_bytes"] == path.stat().st_size
    assert record["print_time_seconds"] == 2 * 5025 and record["printer_model_id"] == "C12"
    assert record["layer_count"] == 120 and record["curr_bed_type"] == "Textured PEI Plate"
    assert record["plate_count"] == 2 and [p["gcode_md5"] for p in record["plates"]] == md5s
    assert record["thumbnail_url"] == f"/api/v1/files/{record['id']}/thumbnail"
    assert "file_key" not in record and record["product_id"] == product["id"]
    key = f"{a.tenant_id}/print-files/{record['id']}.3mf"
    assert stored_objects(storage) == sorted([key, f"{a.tenant_id}/thumbnails/{record['id']}.png"])
    assert await storage.read_bytes(key) == path.read_bytes()

    signer = UrlSigner(b"s" * 32)
    link = files.download_url(a, signer, record["id"])
    assert link["url"].startswith(f"/storage/{a.tenant_id}/print-files/") and link["size"] > 0
    thumb = files.thumbnail_url(a, signer, record["id"])
    assert thumb["url"].startswith(f"/storage/{a.tenant_id}/thumbnails/{record['id']}.png?")
    assert await storage.read_bytes(f"{a.tenant_id}/thumbnails/{record['id']}.png") == tiny_png()
    with pytest.raises(ApiError) as info:
        files.download_url(b, signer, record["id"])
    assert info.value.status == 404

    listed = files.list_files(a, {"q": "vase"})
    assert listed["total"] == 1 and listed["items"][0]["sha256"] == record["sha256"]
    assert files.list_files(b, {})["total"] == 0
    renamed = files.update_file(a, record["id"], {"name": "vase-v2.3mf"})
    assert renamed["name"] == "vase-v2.3mf"
    with pytest.raises(ApiError) as info:
        files.update_file(a, record["id"], {"name": "../x.3mf"})
    assert info.value.field == "name"

    # A print job keeps the file; without it the rows and objects go.
    job = PrintJob.create_scoped(
        a,
        print_file_id=record["id"],
        file_name="v",
        color="Red",
        filament_type="PLA",
        material_type="PLA",
    )
    with pytest.raises(ApiError) as info:
        await files.delete_print_file(run_db, storage, a, record["id"])
    assert info.value.status == 409
    assert len(stored_objects(storage)) == 2 and row_counts() == (1, 1, 2)
    job.delete_instance()
    await files.delete_print_file(run_db, storage, a, record["id"])
    assert stored_objects(storage) == [] and row_counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "content,code",
    [
        (b"not a zip at all", "not_3mf"),
        (b"", "validation_error"),
    ],
)
async def test_bad_uploads_leave_nothing(tenants, storage, tmp_path, content, code):
    a, _ = tenants
    path = tmp_path / "bad.3mf"
    path.write_bytes(content)
    with pytest.raises(ApiError) as info:
        await files.upload_print_file(run_db, storage, a, chunks_of(path), name="bad.3mf")
    assert (info.value.status, info.value.code, info.value.field) == (422, code, "file")
    assert stored_objects(storage) == [] and row_counts() == (0, 0, 0)


async def test_corrupt_too_large_dropped_and_duplicate(tenants, storage, tmp_path):
    a, _ = tenants
    path = tmp_path / "x.3mf"
    write_bambu_3mf(path, bad_md5=True)
    with pytest.raises(ApiError) as info:
        await files.upload_print_file(run_db, storage, a, chunks_of(path), name="x.3mf")
    assert info.value.code == "corrupt_3mf"

    write_bambu_3mf(path, gcode_padding=200_000)
    with pytest.raises(ApiError) as info:
        await files.upload_print_file(
            run_db, storage, a, chunks_of(path), name="x.3mf", max_bytes=1000
        )
    assert info.value.status == 413

    async def dropped():
        yield path.read_bytes()[:5000]
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await files.upload_print_file(run_db, storage, a, dropped(), name="x.3mf")
    assert stored_objects(storage) == [] and row_counts() == (0, 0, 0)

    await files.upload_print_file(run_db, storage, a, chunks_of(path), name="x.3mf")
    with pytest.raises(ApiError) as info:
        await files.upload_print_file(run_db, storage, a, chunks_of(path), name="x.3mf")
    assert (info.value.status, info.value.field) == (409, "name")
    for name in ("x.stl", "a/b.3mf", ""):
        with pytest.raises(ApiError) as info:
            await files.upload_print_file(run_db, storage, a, chunks_of(path), name=name)
        assert info.value.field == "name"
    assert len(stored_objects(storage)) == 2 and row_counts() == (1, 1, 1)


async def test_print_source_for_hub_commands(tenants, storage, tmp_path):
    a, b = tenants
    path = tmp_path / "two.3mf"
    write_bambu_3mf(path, plates=2)
    record = await files.upload_print_file(run_db, storage, a, chunks_of(path), name="two.3mf")
    assert record["md5"] == hashlib.md5(path.read_bytes()).hexdigest()
    signer = UrlSigner(b"s" * 32)
    source = files.print_source(
        a, signer, record["id"], public_url="https://farm.example/", plate_index=2
    )
    assert source["file_url"].startswith("https://farm.example/storage/")
    assert (source["file_name"], source["file_size"], source["plate"]) == (
        "two.3mf",
        path.stat().st_size,
        2,
    )
    assert source["file_md5"] == record["md5"]
    with pytest.raises(ApiError) as info:
        files.print_source(a, signer, record["id"], public_url="https://x", plate_index=3)
    assert info.value.field == "plate"
    with pytest.raises(ApiError) as info:
        files.print_source(b, signer, record["id"], public_url="https://x")
    assert info.value.status == 404
