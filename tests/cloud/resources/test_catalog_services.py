"""Products, SKUs, colours and plates services: validation, uniqueness, lists, tenant isolation."""

import pytest

from cloud.errors import ApiError
from cloud.services import colors, plates, products, skus


def error_of(call, *args) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args)
    return info.value


def test_product_crud_and_validation(tenants):
    a, b = tenants
    created = products.create_product(a, {"name": " Vase ", "printer_priority": ["p1", "p2"]})
    assert created["name"] == "Vase" and created["printer_priority"] == ["p1", "p2"]
    assert created["is_active"] is True and "tenant_id" not in created
    assert products.get_product(a, created["id"])["id"] == created["id"]

    err = error_of(products.create_product, a, {"name": "Vase"})
    assert (err.status, err.field) == (409, "name")
    err = error_of(products.create_product, a, {})
    assert (err.status, err.field) == (422, "name")
    err = error_of(products.create_product, a, {"name": "X", "requires_assembly": "yes"})
    assert (err.status, err.field) == (422, "requires_assembly")
    err = error_of(products.create_product, a, {"name": "X", "colour": "red"})
    assert (err.status, err.field) == (422, "colour")
    err = error_of(products.create_product, a, {"name": "X", "printer_priority": [1]})
    assert (err.status, err.field) == (422, "printer_priority")
    err = error_of(products.create_product, a, {"name": "X", "print_file_id": "nope"})
    assert (err.status, err.field) == (422, "print_file_id")
    err = error_of(products.create_product, a, ["not", "an", "object"])
    assert err.status == 422

    # Same name in another tenant is fine; the other tenant cannot see or touch ours.
    other = products.create_product(b, {"name": "Vase"})
    for call in (products.get_product, products.delete_product):
        assert error_of(call, b, created["id"]).status == 404
    assert error_of(products.update_product, b, created["id"], {"name": "Mine"}).status == 404
    updated = products.update_product(a, created["id"], {"description": "tall", "is_active": False})
    assert updated["description"] == "tall" and updated["is_active"] is False
    assert error_of(products.update_product, a, created["id"], {"name": ""}).field == "name"
    products.delete_product(a, created["id"])
    assert error_of(products.get_product, a, created["id"]).status == 404
    assert products.get_product(b, other["id"])["name"] == "Vase"


def test_lists_filter_search_sort_and_page(tenants):
    a, b = tenants
    for name in ["Bracket", "Hook_1", "Hook 2", "hook 3", "Lamp", "100% infill"]:
        products.create_product(a, {"name": name, "category": "hooks" if "ook" in name else "misc"})
    products.create_product(b, {"name": "Hook 4"})
    page = products.list_products(a, {"q": "hook", "sort": "name"})
    assert [p["name"] for p in page["items"]] == ["Hook 2", "Hook_1", "hook 3"]
    assert page["total"] == 3
    # LIKE wildcards are literal characters in a search.
    assert [p["name"] for p in products.list_products(a, {"q": "_"})["items"]] == ["Hook_1"]
    assert [p["name"] for p in products.list_products(a, {"q": "%"})["items"]] == ["100% infill"]
    assert products.list_products(a, {"category": "misc"})["total"] == 3
    first = products.list_products(a, {"sort": "-name", "limit": "4"})
    second = products.list_products(a, {"sort": "-name", "limit": "4", "offset": "4"})
    names = [p["name"] for p in first["items"] + second["items"]]
    assert len(names) == 6 and len(set(names)) == 6 and first["total"] == 6
    for params, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"sort": "secret"}, "sort"),
        ({"is_active": "maybe"}, "is_active"),
        ({"tenant_id": b.tenant_id}, "tenant_id"),
        ({"q": "x" * 101}, "q"),
    ):
        assert error_of(products.list_products, a, params).field == field


def test_skus_and_presets(tenants):
    a, b = tenants
    product = products.create_product(a, {"name": "Vase"})
    sku = skus.create_sku(
        a, {"product_id": product["id"], "sku": "VASE-RED", "color": "Red", "hex_code": "#ff0000"}
    )
    assert sku["hex_code"] == "#FF0000" and sku["quantity"] == 1
    assert skus.find_sku_by_code(a, "VASE-RED").id == sku["id"]
    assert skus.find_sku_by_code(b, "VASE-RED") is None
    err = error_of(
        skus.create_sku, a, {"product_id": product["id"], "sku": "VASE-RED", "color": "x"}
    )
    assert (err.status, err.field) == (409, "sku")
    err = error_of(skus.create_sku, b, {"product_id": product["id"], "sku": "S", "color": "x"})
    assert (err.status, err.field) == (422, "product_id")  # another tenant's product
    err = error_of(skus.update_sku, a, sku["id"], {"hex_code": "red"})
    assert err.field == "hex_code"
    err = error_of(skus.update_sku, a, sku["id"], {"price": -1})
    assert err.field == "price"
    assert skus.list_skus(a, {"product_id": product["id"]})["total"] == 1

    preset = colors.create_color(
        a, {"color_name": "Red", "hex_code": "#FF0000", "filament_type": "PLA"}
    )
    colors.create_color(a, {"color_name": "Red", "hex_code": "#FF0000", "filament_type": "PETG"})
    err = error_of(
        colors.create_color, a, {"color_name": "Red", "hex_code": "#FF0000", "filament_type": "PLA"}
    )
    assert (err.status, err.field) == (409, "color_name")
    assert colors.update_color(a, preset["id"], {"is_active": False})["is_active"] is False
    plate = plates.create_plate(a, {"name": "Textured PEI Plate"})
    assert plates.list_plates(a, {})["items"][0]["id"] == plate["id"]
    assert plates.list_plates(b, {})["total"] == 0
