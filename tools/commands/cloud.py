"""`printfarm cloud serve`: run the cloud service (REST API, WebSockets, workers) in one process."""


def register(subparsers) -> None:
    """Add the `cloud` group."""
    parser = subparsers.add_parser("cloud", help="run the cloud service")
    sub = parser.add_subparsers(dest="cloud_command", metavar="ACTION")
    sub.required = True
    serve = sub.add_parser(
        "serve",
        help="serve the API until SIGTERM/SIGINT",
        description="Serve the cloud. Every flag also reads PRINTFARM_<NAME> (e.g. PRINTFARM_PORT); "
        "PRINTFARM_DATABASE_URL, PRINTFARM_STORAGE_URL, PRINTFARM_REDIS_URL, PRINTFARM_RATE_LIMITS "
        "and the secret keys (PRINTFARM_JWT_SECRET, ...; default: generated into DATA_DIR/keys.json) "
        "are read from the environment.",
    )
    serve.add_argument("--host", help="bind address (env PRINTFARM_HOST, default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, help="TCP port, 0 = any free one (env PRINTFARM_PORT, default 8080)"
    )
    serve.add_argument("--data-dir", help="data folder (env PRINTFARM_DATA_DIR, default ./data)")
    serve.add_argument(
        "--database-url", help="sqlite:///PATH or postgresql://… (env PRINTFARM_DATABASE_URL)"
    )
    serve.set_defaults(func=_serve)
    document = sub.add_parser(
        "openapi",
        help="print the OpenAPI 3.1 document of this build",
        description="Print the OpenAPI 3.1 document (the one served at /api/v1/openapi.json) "
        "without starting the server or touching a database.",
    )
    document.add_argument("--output", help="write to this file instead of stdout")
    document.set_defaults(func=_openapi)


def _serve(args) -> int:
    import asyncio

    from cloud import logging as json_logging
    from cloud.app import serve
    from cloud.config import Config

    json_logging.configure(args.log_level)
    config = Config.load(
        host=args.host, port=args.port, data_dir=args.data_dir, database_url=args.database_url
    )
    asyncio.run(serve(config))
    return 0


def _openapi(args) -> int:
    import json
    import tempfile

    from cloud.api.openapi import build_document
    from cloud.app import create_app
    from cloud.config import Config
    from cloud.keys import OPERATIONS

    with tempfile.TemporaryDirectory() as scratch:
        # Throwaway keys and a database URL that is never opened: building routes needs neither.
        config = Config.load(
            env={}, data_dir=scratch, database_url=f"sqlite:///{scratch}/x.sqlite3"
        )
        text = json.dumps(
            build_document(create_app(config, run_migrations=False)[OPERATIONS]), indent=2
        )
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        print(text)
    return 0
