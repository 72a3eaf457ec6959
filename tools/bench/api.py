"""`printfarm bench api`: REST throughput and latency for a staff mix over a seeded farm (500
printers, 10,000 jobs, 1,000 files), against a bare aiohttp handler measured in the same run."""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAY_MS = 24 * 3600 * 1000
BENCH_EMAIL = "bench-owner@example.com"
BENCH_PASSWORD = "bench password 123"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `printfarm bench api`."""
    parser.add_argument("--printers", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per target")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument(
        "--database-url",
        help="benchmark on this (empty) database instead of a temporary SQLite file",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; best counts")
    parser.add_argument("--json", dest="json_path", help="also write the results here as JSON")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument(
        "--docs", type=Path, default=ROOT / "docs" / "benchmarks.md", help=argparse.SUPPRESS
    )


# --- seeding ---------------------------------------------------------------------------------


def seed(database_url: str, printers: int, jobs: int, files: int) -> dict:
    """Migrate and fill the database with one tenant's farm; returns the ids the mix uses."""
    from cloud.config import DEFAULT_ARGON2
    from cloud.db import bind_database, open_database
    from cloud.db.migrate import migrate
    from cloud.models import (
        Hub,
        Printer,
        PrintFile,
        PrintJob,
        TenantContext,
        new_id,
        now_ms,
        system_access,
    )
    from cloud.security.passwords import PasswordHasher
    from cloud.services import auth

    database = open_database(database_url)
    migrate(database)
    bind_database(database)
    rng = random.Random(7)
    _, tenant = auth.register(
        PasswordHasher(DEFAULT_ARGON2), BENCH_EMAIL, BENCH_PASSWORD, "Bench", "Bench Farm"
    )
    ctx = TenantContext(tenant["id"])
    now = now_ms()
    hub_ids = [new_id() for _ in range(max(1, printers // 10))]
    statuses = (
        ["idle"] * 40 + ["printing"] * 40 + ["offline"] * 10 + ["error"] * 5 + ["maintenance"] * 5
    )
    printer_rows = [
        {
            "id": new_id(),
            "tenant_id": ctx.tenant_id,
            "hub_id": hub_ids[i % len(hub_ids)],
            "name": f"Printer {i + 1:04d}",
            "model": rng.choice(["P1S", "X1C", "A1", "P1P"]),
            "manufacturer": "Bambu Lab",
            "printer_id": i + 1,
            "serial_number": f"01P00A{i:09d}",
            "status": rng.choice(statuses),
            "is_connected": 1,
            "location": f"Rack {chr(65 + i % 10)}",
            "sort_order": i,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(printers)
    ]
    file_rows = [
        {
            "id": new_id(),
            "tenant_id": ctx.tenant_id,
            "name": f"part-{i:04d}.3mf",
            "file_key": f"{ctx.tenant_id}/print-files/{i:04d}.3mf",
            "file_size_bytes": rng.randint(100_000, 20_000_000),
            "print_time_seconds": rng.randint(600, 36_000),
            "filament_weight_grams": rng.uniform(5, 400),
            "filament_type": rng.choice(["PLA", "PETG", "ABS"]),
            "created_at": now - rng.randint(0, 90) * DAY_MS,
            "updated_at": now,
        }
        for i in range(files)
    ]
    job_statuses = ["completed"] * 80 + ["failed"] * 5 + ["queued"] * 10 + ["printing"] * 5
    job_rows = []
    for _ in range(jobs):
        printer = rng.choice(printer_rows)
        print_file = rng.choice(file_rows)
        submitted = now - rng.randint(0, 30 * DAY_MS)
        job_rows.append(
            {
                "id": new_id(),
                "tenant_id": ctx.tenant_id,
                "printer_id": printer["id"],
                "print_file_id": print_file["id"],
                "file_name": print_file["name"],
                "status": rng.choice(job_statuses),
                "color": rng.choice(["black", "white", "red"]),
                "filament_type": print_file["filament_type"],
                "material_type": print_file["filament_type"],
                "time_submitted": submitted,
                "created_at": submitted,
                "updated_at": submitted,
            }
        )
    with system_access(), database.atomic():
        for hub_id in hub_ids:
            Hub.insert(
                id=hub_id,
                tenant_id=ctx.tenant_id,
                name=f"hub-{hub_id[:6]}",
                created_at=now,
                updated_at=now,
            ).execute()
        for model, rows in ((Printer, printer_rows), (PrintFile, file_rows), (PrintJob, job_rows)):
            for start in range(0, len(rows), 500):
                model.insert_many(rows[start : start + 500]).execute()
    database.close()
    return {
        "printer_ids": [p["id"] for p in printer_rows],
        "file_ids": [f["id"] for f in file_rows],
        "job_ids": [j["id"] for j in job_rows],
    }


# --- servers ---------------------------------------------------------------------------------


async def start_cloud(data_dir: Path, database_url: str) -> tuple[asyncio.subprocess.Process, str]:
    """`printfarm cloud serve` on an ephemeral port; returns (process, base url)."""
    env = {
        **os.environ,
        "PRINTFARM_DATABASE_URL": database_url,
        # Counted like production (a kv write per request) but never refusing the benchmark.
        "PRINTFARM_RATE_LIMITS": os.environ.get(
            "BENCH_RL", "auth=1000000/60000,api=1000000000/60000"
        ),
    }
    # Access logs stay on (INFO), as in production; the pipe is drained.
    command = [
        sys.executable,
        "-m",
        "tools.cli",
        "cloud",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
    ]
    return await _start(
        command, env, lambda entry: entry.get("msg") == "listening" and entry["url"]
    )


async def start_bare() -> tuple[asyncio.subprocess.Process, str]:
    """A bare aiohttp app (one JSON handler, nothing else) on an ephemeral port."""
    command = [sys.executable, "-m", "tools.bench.api", "--bare-server"]
    return await _start(command, dict(os.environ), lambda entry: entry.get("bare_url"))


async def _start(command, env, url_of) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        while True:
            line = await process.stdout.readline()
            if not line:
                raise RuntimeError(f"{command[3:]} exited before listening")
            try:
                url = url_of(json.loads(line))
            except ValueError:
                continue
            if url:
                # Keep draining the pipe so the server never blocks on a full log buffer.
                asyncio.get_running_loop().create_task(process.stdout.read())
                return process, url


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM and wait (the cloud shuts down gracefully)."""
    if process.returncode is None:
        process.terminate()
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            process.kill()


def _bare_server() -> None:
    from aiohttp import web

    async def handler(request):
        return web.json_response({"ok": True})

    async def main():
        app = web.Application()
        app.router.add_get("/bare", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(json.dumps({"bare_url": f"http://127.0.0.1:{runner.addresses[0][1]}"}), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# --- load ------------------------------------------------------------------------------------


@dataclass
class Stats:
    """Latencies (seconds) and statuses of one request kind."""

    latencies: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)

    def add(self, seconds: float, status: int) -> None:
        self.latencies.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1


def percentile(values: list, q: float) -> float:
    """The q-th percentile (0..100) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def run_load(
    url: str, mix: list, duration: float, concurrency: int, headers: dict, pid: int | None = None
) -> dict:
    """Run weighted request kinds for `duration` s with `concurrency` in flight; per-kind stats
    (plus the server's CPU time per request: a figure a busy shared machine disturbs less)."""
    import aiohttp

    kinds = [kind for kind, _, _ in mix]
    weights = [weight for _, weight, _ in mix]
    builders = {kind: build for kind, _, build in mix}
    stats = {kind: Stats() for kind in kinds}
    rng = random.Random(11)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as session:

        async def worker(deadline: float):
            while time.perf_counter() < deadline:
                kind = rng.choices(kinds, weights)[0]
                method, path, body = builders[kind](rng)
                started = time.perf_counter()
                async with session.request(method, path, json=body) as response:
                    await response.read()
                    status = response.status
                stats[kind].add(time.perf_counter() - started, status)

        warmup = time.perf_counter() + min(1.0, duration / 5)
        await asyncio.gather(*(worker(warmup) for _ in range(concurrency)))
        stats = {kind: Stats() for kind in kinds}
        cpu_before = cpu_seconds(pid) if pid else None
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + duration) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds(pid) if pid else None
    result = summarise(stats, elapsed)
    if cpu_before is not None and cpu_after is not None and result["requests"]:
        result["server_cpu_ms_per_request"] = round(
            (cpu_after - cpu_before) * 1000 / result["requests"], 3
        )
    return result


def summarise(stats: dict, elapsed: float) -> dict:
    """rps, p50/p99 (ms) overall and per kind."""
    everything = [x for s in stats.values() for x in s.latencies]
    result = {
        "requests": len(everything),
        "seconds": round(elapsed, 2),
        "rps": round(len(everything) / elapsed, 1),
    }
    result["p50_ms"] = round(percentile(everything, 50) * 1000, 2) if everything else None
    result["p99_ms"] = round(percentile(everything, 99) * 1000, 2) if everything else None
    result["kinds"] = {
        kind: {
            "requests": len(s.latencies),
            "p50_ms": round(percentile(s.latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(s.latencies, 99) * 1000, 2),
            "mean_ms": round(statistics.fmean(s.latencies) * 1000, 2),
            "statuses": s.statuses,
        }
        for kind, s in stats.items()
        if s.latencies
    }
    return result


def staff_mix(paths: set, ids: dict) -> list:
    """(kind, weight, build(rng) -> (method, path, body)) for the routes this build serves."""
    mix = [
        (
            "dashboard: printers page",
            30,
            lambda r: ("GET", "/api/v1/printers?limit=50&sort=sort_order", None),
        ),
        (
            "dashboard: printing printers",
            10,
            lambda r: ("GET", "/api/v1/printers?status=printing&limit=50", None),
        ),
        (
            "status read: one printer",
            20,
            lambda r: ("GET", f"/api/v1/printers/{r.choice(ids['printer_ids'])}", None),
        ),
        ("me", 5, lambda r: ("GET", "/api/v1/auth/me", None)),
    ]
    if ("GET", "/api/v1/jobs") in paths:
        mix.append(("dashboard: jobs page", 15, lambda r: ("GET", "/api/v1/jobs?limit=50", None)))
    if ("GET", "/api/v1/jobs/{id}") in paths:
        mix.append(
            (
                "status read: one job",
                5,
                lambda r: ("GET", f"/api/v1/jobs/{r.choice(ids['job_ids'])}", None),
            )
        )
    if ("POST", "/api/v1/jobs") in paths:
        mix.append(
            (
                "job creation",
                10,
                lambda r: ("POST", "/api/v1/jobs", {"print_file_id": r.choice(ids["file_ids"])}),
            )
        )
    if ("GET", "/api/v1/files") in paths:
        mix.append(("files page", 5, lambda r: ("GET", "/api/v1/files?limit=50", None)))
    return mix


async def bench(args) -> dict:
    """Seed; start the cloud and a bare aiohttp server; alternate rounds of the same load on each
    (alternating spreads the noise of a shared machine over both); keep each one's best round."""
    import aiohttp

    with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        database_url = args.database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}"
        started = time.perf_counter()
        ids = await asyncio.to_thread(seed, database_url, args.printers, args.jobs, args.files)
        print(
            f"seeded {args.printers} printers, {args.jobs} jobs, {args.files} files "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        process, url = await start_cloud(data_dir, database_url)
        bare_process, bare_url = await start_bare()
        try:
            async with aiohttp.ClientSession(url) as session:
                login = {"email": BENCH_EMAIL, "password": BENCH_PASSWORD}
                async with session.post("/api/v1/auth/login", json=login) as r:
                    token = (await r.json())["access_token"]
                async with session.get("/api/v1/openapi.json") as r:
                    document = await r.json()
            paths = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
            mix = staff_mix(paths, ids)
            bare_mix = [("bare handler", 1, lambda r: ("GET", "/bare", None))]
            auth = {"Authorization": f"Bearer {token}"}
            clouds, bares = [], []
            for round_number in range(args.rounds):
                clouds.append(
                    await run_load(url, mix, args.duration, args.concurrency, auth, process.pid)
                )
                bares.append(
                    await run_load(
                        bare_url, bare_mix, args.duration, args.concurrency, {}, bare_process.pid
                    )
                )
                print(
                    f"round {round_number + 1}: cloud {clouds[-1]['rps']} req/s, "
                    f"bare {bares[-1]['rps']} req/s",
                    flush=True,
                )
        finally:
            await stop(process)
            await stop(bare_process)
    cloud = max(clouds, key=lambda r: r["rps"])
    bare = max(bares, key=lambda r: r["rps"])
    return {
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "seed": {"printers": args.printers, "jobs": args.jobs, "files": args.files},
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
        "cloud": cloud,
        "bare": bare,
        "ratio": round(cloud["rps"] / bare["rps"], 3) if bare["rps"] else None,
        "all_rounds": {"cloud": [r["rps"] for r in clouds], "bare": [r["rps"] for r in bares]},
    }


def report(result: dict) -> str:
    """A human-readable table of the results."""
    lines = [
        f"database {result['database']}, concurrency {result['concurrency']}, "
        f"cpus {result['cpus']}, load average {result['load_average']}",
        f"{'target':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses",
    ]
    for kind, s in result["cloud"]["kinds"].items():
        rate = s["requests"] / result["cloud"]["seconds"]
        lines.append(
            f"  {kind:32} {rate:9.1f} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f}  {s['statuses']}"
        )
    for name in ("cloud", "bare"):
        r = result[name]
        cpu = r.get("server_cpu_ms_per_request")
        lines.append(
            f"{name + ' total':34} {r['rps']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}"
            + (f"  server CPU {cpu:.3f} ms/request" if cpu is not None else "")
        )
    lines.append(f"cloud/bare throughput ratio: {result['ratio']}")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The `api` section of docs/benchmarks.md."""
    seed_info = result["seed"]
    cloud, bare = result["cloud"], result["bare"]
    lines = [
        "## api",
        "",
        f"`printfarm bench api`: one tenant with {seed_info['printers']} printers, "
        f"{seed_info['jobs']:,} print jobs and {seed_info['files']:,} files in "
        f"{result['database']}; `printfarm cloud serve` as its own process (access logs on, rate "
        f"limits counted in the database kv on every request); {result['concurrency']} requests "
        f"in flight for {result['duration_s']:g} s per round, {result['rounds']} rounds alternating "
        'with a bare aiohttp handler (`web.json_response({"ok": true})`) in another process on '
        "the same machine; best round of each. Machine: "
        f"{result['cpus']} cores shared with other work (load average {result['load_average']}).",
        "",
        "| request (staff mix) | share | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, s in cloud["kinds"].items():
        share = s["requests"] / cloud["requests"]
        rate = s["requests"] / cloud["seconds"]
        lines.append(
            f"| {kind} | {share:.0%} | {rate:,.1f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} |"
        )
    lines += [
        "",
        "| target | req/s | p50 ms | p99 ms | server CPU ms/request |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in (("cloud, staff mix", cloud), ("bare aiohttp handler", bare)):
        cpu = r.get("server_cpu_ms_per_request")
        lines.append(
            f"| {name} | {r['rps']:,.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            + (f"{cpu:.2f} |" if cpu is not None else "n/a |")
        )
    lines += [
        "",
        f"**Ratio cloud / bare: {result['ratio']:.3f}** (throughput). Rounds: cloud "
        f"{result['all_rounds']['cloud']}, bare {result['all_rounds']['bare']} req/s.",
        "",
        "Each API request authenticates (JWT HS256), checks the tenant membership and role in the "
        "database, counts the per-user rate limit in the database kv, validates its query, runs "
        "the page query with a total count on the database thread pool and serialises a page of "
        "up to 50 rows; the bare handler does none of that. Server CPU per request is the steadier "
        "figure on a shared machine.",
    ]
    return "\n".join(lines) + "\n"


def run(args) -> int:
    """Entry point of `printfarm bench api`."""
    result = asyncio.run(bench(args))
    print(report(result))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2))
    if args.write_docs:
        from tools.bench.protocol import write_section

        write_section(args.docs, "api", markdown(result))
        print(f"wrote the api section of {args.docs}")
    failures = {
        kind: s["statuses"]
        for kind, s in result["cloud"]["kinds"].items()
        if any(int(code) >= 500 for code in s["statuses"])
    }
    return 1 if failures else 0


if __name__ == "__main__":
    if "--bare-server" in sys.argv:
        _bare_server()
    else:
        parser = argparse.ArgumentParser(prog="printfarm bench api")
        add_arguments(parser)
        sys.exit(run(parser.parse_args()))
