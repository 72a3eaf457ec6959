"""Row factories for the generic tenant-isolation and RBAC tests, one module per API area.

Every module here exports `FACTORIES = {resource: factory}` where `resource` is the `resource`
of the operations (Operation.resource) and `factory` is

    async def factory(account: Account, server: LiveServer) -> dict[str, str]

It creates one row of that resource in `account`'s tenant (through the API, as the tenant's
owner) and returns the path parameters that address it, e.g. {"id": printer_id} or, for nested
routes, {"id": order_id, "item_id": item_id}. The isolation test requires a factory for every
resource that has a tenant-scoped route with path parameters; add a module, no registration.
"""

import importlib
import pkgutil


def all_factories() -> dict:
    """Every factory of every module of this package; a resource defined twice is an error."""
    found: dict = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for resource, factory in getattr(module, "FACTORIES", {}).items():
            if resource in found:
                raise ValueError(f"two factories for resource {resource!r}")
            found[resource] = factory
    return found
