"""Open311 POST throughput: 50 concurrent clients against the production web server.

Starts an embedded Redis (AOF, ``appendfsync always``: a 201 means on disk),
a SQLite database and ``python -m app serve`` exactly as ``make run`` does
(gunicorn, one worker process per core). Two phases, one after the other:
the web server alone, then with the aggregator and persister consuming what
is accepted (the likely-duplicate index is live and the machine carries the
whole pipeline, as in production). In each, ``--clients`` keep-alive connections POST ``requests.json`` (no photos)
as fast as answers come back, for ``--seconds``. The clients are asyncio
loops in two processes, so the load side takes little of the CPU it measures.

The static files' compressed copies are made before the server starts, as a deployment's build
step does (``make precompress``; ``bench/lapor.py`` does the same): each run has a fresh data
folder, and the one-time compression of a first start (about 15 s of CPU, at idle priority) is
not the intake's cost. ``--cold`` leaves them out.

Prints progress, and as its last line one JSON object: accepted POSTs per
second, p50/p99 latency in ms, errors and, with the consumers, what reached SQL. In the
web-server phase the same clients first ask ``GET /livez`` (no Redis, no SQL) on the same
server: the framework's ceiling, and the intake's ratio to it (``intake_to_ceiling_ratio``).

    .venv/bin/python bench/api.py [--seconds 20] [--clients 50] [--phase both|api|pipeline]

The headline (the issue's targets: >= 1,000/s, p99 <= 100 ms) is the web
server alone; the second phase shows the same load with the consumers
sharing the same two cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POINTS = [(-6.1754, 106.8272), (-6.2088, 106.8456), (-6.2297, 106.8295), (-6.1352, 106.8133),
          (-6.2615, 106.7810), (-6.3019, 106.8950), (-6.1862, 106.7345), (-6.1500, 106.9000)]


def _requests(key: str, count: int, seed: int) -> list[bytes]:
    """Ready-to-send HTTP/1.1 requests: citizens at random points around eight places in the city."""
    rng, out = random.Random(seed), []
    for _ in range(count):
        lat, lng = rng.choice(POINTS)
        body = urlencode({"api_key": key, "service_code": rng.choice(["garbage", "road_damage", "street_light"]),
                          "lat": f"{lat + rng.uniform(-0.01, 0.01):.6f}",
                          "long": f"{lng + rng.uniform(-0.01, 0.01):.6f}",
                          "description": "bench report", "email": "bench@contoh.id"}).encode()
        out.append(b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: bench\r\n"
                   b"Content-Type: application/x-www-form-urlencoded\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return out


EMPTY = b"GET /livez HTTP/1.1\r\nHost: bench\r\n\r\n"   # the framework's ceiling: no Redis, no SQL


async def _connection(port: int, requests: list[bytes], stop_at: float, latencies: list, errors: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if status in (201, 204):
                latencies.append(time.perf_counter() - started)
            else:
                errors.append(status)
    except (OSError, asyncio.IncompleteReadError) as err:
        errors.append(repr(err))
    finally:
        writer.close()


def _client_process(port: int, key: str, connections: int, seconds: float, seed: int, out,
                    empty: bool = False) -> None:
    requests = [EMPTY] if empty else _requests(key, 2000, seed)
    latencies: list[float] = []
    errors: list = []

    async def main():
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*[_connection(port, requests[i::connections] or requests, stop_at, latencies, errors)
                               for i in range(connections)])

    started = time.monotonic()
    asyncio.run(main())
    out.put((latencies, [str(e) for e in errors], time.monotonic() - started))


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--phase", choices=("both", "api", "pipeline"), default="both",
                        help="api: the web server alone; pipeline: with the aggregator and persister running")
    parser.add_argument("--cold", action="store_true", help="no static copies compressed ahead of time")
    args = parser.parse_args()
    phases = {"api": [True], "pipeline": [False], "both": [True, False]}[args.phase]
    results = {}
    for no_workers in phases:
        args.no_workers = no_workers
        result = run(args)
        print(json.dumps(result), file=sys.stderr)
        results["api_only" if no_workers else "with_consumers"] = result
    headline = results.get("api_only") or results["with_consumers"]
    summary = {"benchmark": "open311_post", "clients": args.clients, "cpus": os.cpu_count(),
               "accepted_per_s": headline["accepted_per_s"], "p99_ms": headline["p99_ms"],
               "target_per_s": 1000, "target_p99_ms": 100,
               "met": headline["accepted_per_s"] >= 1000 and headline["p99_ms"] <= 100,
               **{name: {k: r[k] for k in ("accepted_per_s", "p50_ms", "p99_ms", "errors", "web_cpu_percent",
                                            "in_sql")} for name, r in results.items()}}
    empty = headline.get("empty_endpoint")
    if empty:   # the same server, the same clients, the same run: GET /livez (no Redis, no SQL)
        summary["empty_endpoint_per_s"] = empty["per_s"]
        summary["empty_endpoint_p99_ms"] = empty["p99_ms"]
        summary["intake_to_ceiling_ratio"] = round(headline["accepted_per_s"] / empty["per_s"], 2)
    print(json.dumps(summary))
    return 0


def run(args) -> dict:
    import psutil

    from app import web_assets
    from app.open311 import api_keys
    from app.services import Services
    from app.store import db
    from app.store.redis_conn import EmbeddedRedis, _free_port
    from config.settings import Settings

    workdir = Path(tempfile.mkdtemp(prefix="pantau-bench-api-"))
    redis_server = EmbeddedRedis(workdir / "redis").start()
    shared = ROOT.parent / "shared" / "data"
    port = _free_port()
    database_url = f"sqlite:///{workdir / 'pantau.sqlite3'}"
    env = {**os.environ, "REDIS_URL": redis_server.url, "DATABASE_URL": database_url,
           "PANTAU_DATA_DIR": str(workdir / "var"), "PANTAU_CITY": "jakarta", "PANTAU_PORT": str(port),
           "PANTAU_SIM_RATE": "0", "PANTAU_OPEN311_KEY_RATE": str(10**9),
           "PANTAU_OPEN311_ADDRESS_RATE": str(10**9), "PANTAU_LOG_LEVEL": "WARNING"}
    if shared.exists():
        env["PANTAU_BOUNDARIES"] = str(shared)
    settings = Settings.from_env(env)
    if not args.cold:
        started = time.monotonic()
        web_assets.precompress(web_assets.compressed_dir(settings))
        print(f"static files compressed ahead of time in {time.monotonic() - started:.1f} s", file=sys.stderr)
    services = Services.open(settings)
    _, key = api_keys.create_key(services.engine, "bench")
    commands = [[sys.executable, "-m", "app", "serve"]]
    if not args.no_workers:
        commands += [[sys.executable, "-m", "ingest", "aggregate", "--name", "bench-agg"],
                     [sys.executable, "-m", "ingest", "persist", "--name", "bench-persist"]]
    children = [subprocess.Popen(command, cwd=ROOT, env=env) for command in commands]
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        web = psutil.Process(children[0].pid)
        workers = web.children()
        print(f"server on :{port} ({len(workers)} gunicorn workers), {args.clients} clients for "
              f"{args.seconds:g} s, consumers {'off' if args.no_workers else 'on'}", file=sys.stderr)
        # Warm every worker (imports, caches, the key lookup) before measuring.
        warm = multiprocessing.Queue()
        _client_process(port, key, 8, 2.0, 99, warm)
        warm.get()
        per_process = [args.clients // 2, args.clients - args.clients // 2]
        empty_endpoint = None
        if args.no_workers:
            # The framework's ceiling on this very server: the same clients asking an endpoint that does nothing.
            ceiling = multiprocessing.Queue()
            procs = [multiprocessing.Process(target=_client_process,
                                             args=(port, key, n, args.seconds / 2, i, ceiling, True))
                     for i, n in enumerate(per_process)]
            for proc in procs:
                proc.start()
            got = [ceiling.get(timeout=args.seconds + 60) for _ in procs]
            for proc in procs:
                proc.join()
            answered = sorted(x for lat, _, _ in got for x in lat)
            took = max(t for _, _, t in got)
            empty_endpoint = {"per_s": round(len(answered) / took, 1),
                              "p99_ms": round(answered[int(0.99 * (len(answered) - 1))] * 1000, 1) if answered else None,
                              "errors": sum(len(errs) for _, errs, _ in got)}
            print(f"empty endpoint (GET /livez): {empty_endpoint}", file=sys.stderr)
        results = multiprocessing.Queue()
        cpu0 = sum(p.cpu_times().user + p.cpu_times().system for p in [web, *workers])
        procs = [multiprocessing.Process(target=_client_process,
                                         args=(port, key, n, args.seconds, i, results)) for i, n in enumerate(per_process)]
        for proc in procs:
            proc.start()
        gathered = [results.get(timeout=args.seconds + 60) for _ in procs]
        for proc in procs:
            proc.join()
        cpu1 = sum(p.cpu_times().user + p.cpu_times().system for p in [web, *workers])
        latencies = sorted(x for lat, _, _ in gathered for x in lat)
        errors = [e for _, errs, _ in gathered for e in errs]
        elapsed = max(t for _, _, t in gathered)
        in_stream = services.redis.xlen(services.keys.stream())
        in_sql = None
        if not args.no_workers:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                in_sql = db.count_reports(services.engine, "jakarta")
                if in_sql >= in_stream:
                    break
                time.sleep(0.5)

        def pct(p):
            return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else None

        result = {"benchmark": "open311_post", "clients": args.clients, "seconds": round(elapsed, 1),
                  "web_workers": len(workers), "consumers": not args.no_workers,
                  "accepted": len(latencies), "accepted_per_s": round(len(latencies) / elapsed, 1),
                  "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": len(errors),
                  "web_cpu_percent": round(100 * (cpu1 - cpu0) / elapsed, 1),
                  "in_stream": in_stream, "in_sql": in_sql, "empty_endpoint": empty_endpoint}
        if errors:
            print(f"first errors: {errors[:5]}", file=sys.stderr)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
        services.close()
        redis_server.stop()
    return result


if __name__ == "__main__":
    sys.exit(main())
