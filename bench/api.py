"""Open311 POST throughput: 50 concurrent clients against a real threaded server.

Starts an embedded Redis, a SQLite database and the full app (Flask + Dash +
Open311) under Werkzeug's threaded server in its own process, then 50 client
threads POST ``requests.json`` (no photos) over keep-alive connections for a
fixed time. Prints progress, and as its last line one JSON object:
accepted POSTs per second, p50/p99 latency in ms, errors.

    .venv/bin/python bench/api.py [--seconds 20] [--clients 50]
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POINTS = [(-6.1754, 106.8272), (-6.2088, 106.8456), (-6.2297, 106.8295), (-6.1352, 106.8133),
          (-6.2615, 106.7810), (-6.3019, 106.8950), (-6.1862, 106.7345), (-6.1500, 106.9000)]


def _serve(settings, port_queue):
    import logging

    from werkzeug.serving import WSGIRequestHandler, make_server

    from app.factory import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    WSGIRequestHandler.protocol_version = "HTTP/1.1"   # keep-alive, as real clients use
    server = create_app(settings)
    httpd = make_server("127.0.0.1", 0, server, threaded=True)
    port_queue.put(httpd.server_port)
    httpd.serve_forever()


def _client(port, key, stop_at, latencies, errors, seed):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop_at:
        lat, lng = rng.choice(POINTS)
        body = urlencode({"api_key": key, "service_code": rng.choice(["garbage", "road_damage", "street_light"]),
                          "lat": f"{lat + rng.uniform(-0.01, 0.01):.6f}",
                          "long": f"{lng + rng.uniform(-0.01, 0.01):.6f}",
                          "description": "bench report", "email": "bench@contoh.id"})
        started = time.perf_counter()
        try:
            conn.request("POST", "/open311/v2/requests.json", body,
                         {"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as err:
            errors.append(str(err))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if response.status == 201:
            latencies.append(time.perf_counter() - started)
        else:
            errors.append(str(response.status))
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()

    from app.open311 import keys
    from app.services import Services
    from app.store.redis_conn import EmbeddedRedis
    from config.settings import Settings

    workdir = Path(tempfile.mkdtemp(prefix="pantau-bench-"))
    redis_server = EmbeddedRedis(workdir / "redis").start()
    shared = ROOT.parent / "shared" / "data"
    settings = Settings(data_dir=workdir / "var", redis_url=redis_server.url,
                        database_url=f"sqlite:///{workdir / 'pantau.sqlite3'}", city="jakarta",
                        boundaries=shared if shared.exists() else None, secret_key="bench",
                        sim_rate=0.0, open311_key_rate=10**9, open311_address_rate=10**9)
    services = Services.open(settings)
    _, key = keys.create_key(services.engine, "bench")
    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(settings, ports), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        latencies: list[float] = []
        errors: list[str] = []
        print(f"server on :{port}, {args.clients} clients for {args.seconds:g} s", file=sys.stderr)
        warm = time.monotonic() + 2
        _client(port, key, warm, [], errors, 0)
        errors.clear()
        stop_at = time.monotonic() + args.seconds
        started = time.monotonic()
        threads = [threading.Thread(target=_client, args=(port, key, stop_at, latencies, errors, i))
                   for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        in_stream = services.redis.xlen(services.keys.stream())
        latencies.sort()

        def pct(p):
            return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else None

        result = {"benchmark": "open311_post", "clients": args.clients, "seconds": round(elapsed, 1),
                  "accepted": len(latencies), "accepted_per_s": round(len(latencies) / elapsed, 1),
                  "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": len(errors),
                  "in_stream": in_stream, "cpus": os.cpu_count()}
        print(json.dumps(result))
    finally:
        server.terminate()
        server.join(5)
        services.close()
        redis_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
