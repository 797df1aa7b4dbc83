"""Many kiosks polling the public endpoints: p50/p99 latency and the server's CPU.

On a real embedded Redis and SQLite seeded with ``--reports`` reports over the last week (a share
resolved), the production web server (``python -m app serve``: gunicorn, one worker per core)
runs in child processes (so its CPU is measured alone); ``--clients`` kiosk clients (threads with keep-alive connections) each poll the
public endpoints in turn, one request every ``--interval`` seconds, for ``--duration`` seconds.
Target: p99 <= 200 ms with 200 clients.

Usage: ``python bench/kiosk.py [--clients 200] [--duration 60] [--interval 1.0] [--reports 10000]``;
the last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from app import web_assets  # noqa: E402
from app.store.redis_conn import EmbeddedRedis  # noqa: E402
from config.settings import Settings  # noqa: E402

ENDPOINTS = ("/api/public/summary", "/api/public/hexes?window=today", "/api/public/hexes?window=7d",
             "/api/public/agencies", "/api/public/ranking?level=agency", "/api/public/ranking?level=kecamatan",
             "/api/public/ranking?level=kelurahan", "/api/public/resolved")
TARGET_P99_MS = 200.0


def _settings(folder: Path, redis_url: str) -> Settings:
    shared = (ROOT / ".." / "shared" / "data").resolve()
    return Settings(data_dir=folder, redis_url=redis_url, boundaries=shared if shared.exists() else None,
                    database_url=f"sqlite:///{folder / 'bench.sqlite3'}", secret_key="bench", sim_rate=0)


def web_env(folder: Path, redis_url: str, port: int) -> dict:
    env = {**os.environ, "REDIS_URL": redis_url, "PANTAU_DATA_DIR": str(folder), "PANTAU_PORT": str(port),
           "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}", "SECRET_KEY": "bench", "PANTAU_SIM_RATE": "0",
           "PANTAU_LOG_LEVEL": "WARNING"}
    shared = (ROOT / ".." / "shared" / "data").resolve()
    if shared.exists():
        env["PANTAU_BOUNDARIES"] = str(shared)
    return env


def seed(folder: Path, redis_url: str, count: int) -> None:
    from app.services import Services
    from ingest.sources import RawReport
    from tests.helpers import JAKARTA_POINTS, drain

    services = Services.open(_settings(folder, redis_url))
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    categories = ["flood", "garbage", "road_damage", "street_light", "fallen_tree", "illegal_parking",
                  "health", "social_aid"]
    raws = []
    for i in range(count):
        lat, lng = rng.choice(JAKARTA_POINTS)
        created = now - timedelta(seconds=rng.uniform(60, 7 * 86400))
        resolved = rng.random() < 0.6
        raws.append(RawReport(category=rng.choice(categories), lat=lat + rng.uniform(-0.03, 0.03),
                              lng=lng + rng.uniform(-0.03, 0.03), created_at=created, source="bench",
                              source_ref=f"kiosk-{i}", status="resolved" if resolved else None,
                              resolved_at=created + timedelta(hours=rng.uniform(1, 72)) if resolved else None,
                              reporter_name="Bench Person", reporter_phone="+62 811 0000 0000"))
    services.producer.submit_many([r for r in raws if r.resolved_at is None or r.resolved_at < now])
    drain(services, batch_size=1000)
    services.close()


def client(port: int, stop_at: float, interval: float, latencies: list, errors: list, offset: int,
           first: list) -> None:
    """One kiosk: a keep-alive connection polling the endpoints in turn. Its first request (connection
    set-up, once per kiosk for hours of polling) is kept apart from the steady-state latencies."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    index, connected = offset, False
    time.sleep(random.uniform(0, interval))   # kiosks are not synchronised
    while time.monotonic() < stop_at:
        began = time.monotonic()
        path = ENDPOINTS[index % len(ENDPOINTS)]
        index += 1
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
        except (OSError, http.client.HTTPException) as err:
            errors.append(type(err).__name__)
            connected = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        (latencies if connected else first).append((time.monotonic() - began) * 1000.0)
        connected = True
        time.sleep(max(0.0, interval - (time.monotonic() - began)))
    conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of polling")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between one client's requests")
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--no-refresher", action="store_true",
                        help="no separate refresh process: the web process recomputes the slow figures")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-kiosk-"))
    redis_server = EmbeddedRedis(folder / "redis").start()
    child = refresher = None
    try:
        started = time.perf_counter()
        seed(folder, redis_server.url, args.reports)
        print(f"seeded {args.reports:,} reports in {time.perf_counter() - started:.1f} s")
        from app.store.redis_conn import _free_port

        port = _free_port()
        env = web_env(folder, redis_server.url, port)
        # the static files' compressed copies made first, as a deployment's build step does (``make
        # precompress``): a first start would otherwise compress them in a child of the server meanwhile
        web_assets.precompress(web_assets.compressed_dir(argparse.Namespace(data_dir=folder)))
        child = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.3)
        refresher = None
        if not args.no_refresher:   # the slow figures are recomputed outside the web process
            refresher = subprocess.Popen([sys.executable, "-m", "app.public", "refresh", "--every", "10"],
                                         cwd=ROOT, env=env)
        for path in ENDPOINTS:   # warm up: first requests import and compute everything once
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", path)
            assert conn.getresponse().status == 200, path
            conn.close()
        web = [psutil.Process(child.pid), *psutil.Process(child.pid).children()]

        def web_cpu() -> float:
            total = 0.0
            for p in web:
                try:
                    times = p.cpu_times()
                except psutil.NoSuchProcess:     # a short-lived helper of the server, gone since
                    continue
                total += times.user + times.system
            return total

        cpu_before, wall_before = web_cpu(), time.monotonic()
        latencies: list[float] = []
        errors: list = []
        first: list[float] = []
        stop_at = time.monotonic() + args.duration
        threads = [threading.Thread(target=client, args=(port, stop_at, args.interval, latencies, errors, i, first),
                                    daemon=True) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu_s, elapsed = web_cpu() - cpu_before, time.monotonic() - wall_before
        result = {
            "benchmark": "kiosk", "clients": args.clients, "duration_s": args.duration, "interval_s": args.interval,
            "reports": args.reports, "requests": len(latencies), "errors": len(errors),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
            "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
            "max_ms": round(max(latencies), 2) if latencies else None,
            "connect_p99_ms": round(percentile(first, 0.99), 2) if first else None,
            "server_cpu_pct": round(100.0 * cpu_s / elapsed, 1), "cores": psutil.cpu_count(),
            "web_workers": len(web) - 1,
            "refresher": not args.no_refresher,
            "target_p99_ms": TARGET_P99_MS,
        }
        result["p99_ok"] = result["p99_ms"] is not None and result["p99_ms"] <= TARGET_P99_MS
        print(f"{result['requests']:,} requests from {args.clients} kiosks in {elapsed:.0f} s "
              f"({result['requests_per_s']}/s), {result['errors']} errors")
        print(f"latency p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms (target <= {TARGET_P99_MS:.0f} ms)")
        print(f"first request of each kiosk (connection set-up, not in the figures above): p99 "
              f"{result['connect_p99_ms']} ms")
        print(f"server CPU {result['server_cpu_pct']} % of one core")
        print(json.dumps(result))
    finally:
        if refresher is not None:
            refresher.terminate()
            refresher.wait(10)
        if child is not None:
            child.terminate()
            child.wait(30)
        redis_server.stop()


if __name__ == "__main__":
    main()
