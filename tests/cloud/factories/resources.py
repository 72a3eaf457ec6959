"""Factories for the resource routes: files, catalogue, inventory, orders, tasks, wiki, cameras,
automation rules, integrations."""

import uuid

from tests.cloud.resources.threemf_fixtures import write_bambu_3mf


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


async def _created(account, path, body) -> dict:
    r = await account.api.post(path, json=body)
    assert r.status == 201, (path, r.json)
    return r.json


async def make_print_file(account, server) -> dict:
    path = server.config.data_dir / f"factory-{_suffix()}.3mf"
    write_bambu_3mf(path)
    r = await account.api.post(
        "/api/v1/files",
        data=path.read_bytes(),
        params={"name": path.name},
        headers={"Content-Type": "application/octet-stream"},
    )
    path.unlink()
    assert r.status == 201, r.json
    return {"id": r.json["id"]}


async def make_product(account, server) -> dict:
    return {"id": (await _created(account, "/api/v1/products", {"name": f"P-{_suffix()}"}))["id"]}


async def _sku(account, server) -> dict:
    product = await make_product(account, server)
    body = {"product_id": product["id"], "sku": f"SKU-{_suffix()}", "color": "Red"}
    return await _created(account, "/api/v1/skus", body)


async def make_sku(account, server) -> dict:
    return {"id": (await _sku(account, server))["id"]}


async def _finished_good(account, server) -> dict:
    sku = await _sku(account, server)
    body = {"product_sku_id": sku["id"], "current_stock": 10}
    return await _created(account, "/api/v1/inventory", body)


async def make_finished_good(account, server) -> dict:
    return {"id": (await _finished_good(account, server))["id"]}


async def make_order(account, server) -> dict:
    body = {"items": [{"sku": "X-1", "product_name": "Thing", "quantity": 2}]}
    order = await _created(account, "/api/v1/orders", body)
    return {"id": order["id"], "item_id": order["items"][0]["id"]}


async def make_worklist_task(account, server) -> dict:
    body = {"title": "Collect", "task_type": "collection"}
    return {"id": (await _created(account, "/api/v1/worklist", body))["id"]}


async def make_assembly_task(account, server) -> dict:
    good = await _finished_good(account, server)
    body = {"finished_good_id": good["id"], "quantity": 1}
    return {"id": (await _created(account, "/api/v1/assembly", body))["id"]}


async def make_color_preset(account, server) -> dict:
    body = {"color_name": f"C-{_suffix()}", "hex_code": "#112233", "filament_type": "PLA"}
    return {"id": (await _created(account, "/api/v1/colors", body))["id"]}


async def make_build_plate_type(account, server) -> dict:
    return {"id": (await _created(account, "/api/v1/plates", {"name": f"Plate {_suffix()}"}))["id"]}


async def make_wiki_article(account, server) -> dict:
    body = {"slug": f"page-{_suffix()}", "title": "Page", "is_published": True}
    return {"slug": (await _created(account, "/api/v1/wiki", body))["slug"]}


async def make_camera(account, server) -> dict:
    return {"id": (await _created(account, "/api/v1/camera", {"name": "Cam"}))["id"]}


async def make_automation_rule(account, server) -> dict:
    body = {
        "name": "Rule",
        "trigger_type": "print_failed",
        "actions": [{"type": "notify", "message": "a print failed"}],
    }
    return {"id": (await _created(account, "/api/v1/automation/rules", body))["id"]}


async def make_integration(account, server) -> dict:
    body = {"shop_domain": f"shop-{_suffix()}.myshopify.com", "webhook_secret": "s" * 24}
    r = await account.api.put("/api/v1/integrations/shopify", json=body)
    assert r.status == 200, r.json
    return {}


FACTORIES = {
    "print_file": make_print_file,
    "product": make_product,
    "sku": make_sku,
    "finished_good": make_finished_good,
    "order": make_order,
    "worklist_task": make_worklist_task,
    "assembly_task": make_assembly_task,
    "color_preset": make_color_preset,
    "build_plate_type": make_build_plate_type,
    "wiki_article": make_wiki_article,
    "camera": make_camera,
    "automation_rule": make_automation_rule,
    "integration": make_integration,
}
