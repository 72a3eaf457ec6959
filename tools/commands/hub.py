"""`printfarm hub provision`: register factory hubs (id + secret) with a cloud."""

import json
import os


def register(subparsers) -> None:
    """Add the `hub` group."""
    parser = subparsers.add_parser("hub", help="hub factory registration")
    sub = parser.add_subparsers(dest="hub_command", metavar="ACTION")
    sub.required = True
    provision = sub.add_parser(
        "provision",
        help="register hub id(s) + secret(s) with the cloud; prints them as JSON lines",
        description="Calls POST /api/v1/admin/hubs with the provisioning key. The key is "
        "--key, else PRINTFARM_PROVISIONING_KEY, else `provisioning_key` of DATA_DIR/keys.json "
        "(the cloud's own data folder, when run on the cloud's machine). Each secret is printed "
        "once: flash it into the hub's NVS with its id, then keep it nowhere else.",
    )
    provision.add_argument(
        "--cloud",
        default=os.environ.get("PRINTFARM_PUBLIC_URL", "http://127.0.0.1:8080"),
        help="cloud base URL (env PRINTFARM_PUBLIC_URL, default http://127.0.0.1:8080)",
    )
    provision.add_argument("--key", help="provisioning key, base64")
    provision.add_argument("--data-dir", help="data folder holding keys.json (default ./data)")
    provision.add_argument("--hub-id", help="hub id to register (default: a new UUID)")
    provision.add_argument("--secret", help="secret to register (default: 256 random bits, hex)")
    provision.add_argument("--hardware-revision", help="board revision, e.g. rev-b")
    provision.add_argument("--count", type=int, default=1, help="how many hubs (ids generated)")
    provision.set_defaults(func=_provision)


def _provision(args) -> int:
    import asyncio

    key = (
        args.key
        or os.environ.get("PRINTFARM_PROVISIONING_KEY")
        or _key_from_data_dir(args.data_dir)
    )
    if not key:
        print("no provisioning key: pass --key, set PRINTFARM_PROVISIONING_KEY or --data-dir")
        return 2
    if args.count > 1 and (args.hub_id or args.secret):
        print("--hub-id/--secret register one hub; drop them with --count")
        return 2
    return asyncio.run(_register(args, key))


async def _register(args, key: str) -> int:
    import aiohttp

    body = {}
    for field, value in (
        ("hub_id", args.hub_id),
        ("secret", args.secret),
        ("hardware_revision", args.hardware_revision),
    ):
        if value:
            body[field] = value
    url = args.cloud.rstrip("/") + "/api/v1/admin/hubs"
    async with aiohttp.ClientSession() as session:
        for _ in range(args.count):
            async with session.post(url, json=body, headers={"X-Provisioning-Key": key}) as r:
                reply = await r.json(content_type=None)
                if r.status != 201:
                    print(f"refused ({r.status}): {reply.get('error', reply)}")
                    return 1
                print(json.dumps(reply))
    return 0


def _key_from_data_dir(folder: str | None) -> str | None:
    from cloud.config import KEYS_FILE_NAME
    from cloud.db import data_dir

    path = data_dir(folder) / KEYS_FILE_NAME
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("provisioning_key")
