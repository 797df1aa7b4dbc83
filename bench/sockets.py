"""Idle WebSockets against the production web server: do ordinary requests still answer?

Issue 10 found that 125 idle anonymous sockets from one client made 6 of 10 ordinary requests
time out (one gunicorn thread per WebSocket, no limit). This starts ``python -m app serve`` as
``make run`` does (gunicorn, ``PANTAU_WEB_WORKERS`` processes x 64 threads), measures ordinary
requests quiet (the baseline, same run), then while a stranger holds ``--sockets`` idle sockets
(anonymous, and a fifth of them with a real display token) and wall displays fill the push places.

Usage: ``python bench/sockets.py [--sockets 125] [--requests 200]``; last line one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.store.redis_conn import EmbeddedRedis, _free_port  # noqa: E402
from config.settings import Settings  # noqa: E402

PATHS = ["/healthz", "/api/public/summary", "/kiosk", "/login", "/"]


def _get(base: str, path: str) -> float | None:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=5) as response:
            response.read()
        return time.perf_counter() - started
    except OSError:
        return None


def _measure(base: str, count: int, parallel: int = 10) -> dict:
    results: list = []
    lock = threading.Lock()

    def worker(n):
        for i in range(n, count, parallel):
            seconds = _get(base, PATHS[i % len(PATHS)])
            with lock:
                results.append(seconds)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = sorted(s * 1000 for s in results if s is not None)
    return {"requests": count, "timeouts": sum(1 for s in results if s is None),
            "p50_ms": round(statistics.median(done), 1) if done else None,
            "p99_ms": round(done[min(len(done) - 1, int(len(done) * 0.99))], 1) if done else None,
            "max_ms": round(done[-1], 1) if done else None}


def main() -> None:
    import socketio
    import websocket

    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=125)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-sockets-"))
    redis_server = EmbeddedRedis(folder / "redis").start()
    port = _free_port()
    env = {**os.environ, "REDIS_URL": redis_server.url, "PANTAU_DATA_DIR": str(folder), "PANTAU_PORT": str(port),
           "PANTAU_SIM_RATE": "0", "SECRET_KEY": "bench", "PANTAU_LOG_LEVEL": "WARNING",
           "DATABASE_URL": f"sqlite:///{folder / 'pantau.sqlite3'}", "PANTAU_PROXIES": "1"}
    web = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    held: list = []
    try:
        deadline = time.monotonic() + 90
        while _get(base, "/healthz") is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.3)
        from app.auth import displays
        from app.services import Services

        settings = Settings.from_env(env)
        services = Services.open(settings)
        token = displays.create_display(services.engine, services.preset.slug, "bench")[1]
        result: dict = {"web_workers": settings.resolved_web_workers(), "threads": settings.web_threads,
                        "sockets_per_process": settings.resolved_sockets_per_process(),
                        "sockets_per_address": settings.sockets_per_address,
                        "sockets_per_display": settings.sockets_per_display, "stranger_sockets": args.sockets}
        for path in PATHS:   # warm every page once
            _get(base, path)
        result["quiet"] = _measure(base, args.requests)

        # Wall displays from several addresses fill the push places of every process.
        walls = 0
        for n in range(settings.resolved_sockets_per_process() * result["web_workers"] + 4):
            client = socketio.Client(reconnection=False)
            screen = displays.create_display(services.engine, services.preset.slug, f"bench screen {n}")[1]
            try:
                client.connect(base, namespaces=["/wall"], transports=["websocket"], wait_timeout=10,
                               headers={"Cookie": f"{displays.COOKIE}={screen}", "X-Forwarded-For": f"192.0.2.{n}"})
                client.call("wall_join", {"metric": "reports", "window": "today", "res": 8}, namespace="/wall")
                held.append(client)
                walls += 1
            except socketio.exceptions.ConnectionError:
                pass
        result["walls_connected"] = walls

        outcomes: Counter = Counter()
        lock = threading.Lock()
        release = threading.Event()

        def stranger(n):
            header = ["X-Forwarded-For: 203.0.113.66"] + ([f"Cookie: {displays.COOKIE}={token}"] if n % 5 == 0 else [])
            try:
                sock = websocket.create_connection(base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                                   header=header, timeout=10)
                outcome = 101
            except websocket.WebSocketBadStatusException as err:
                sock, outcome = None, err.status_code
            except OSError as err:
                sock, outcome = None, type(err).__name__
            with lock:
                outcomes[outcome] += 1
            release.wait(60)
            if sock is not None:
                sock.close()
        flood = [threading.Thread(target=stranger, args=(n,), daemon=True) for n in range(args.sockets)]
        for thread in flood:
            thread.start()
        time.sleep(1.0)
        result["flood"] = _measure(base, args.requests)
        release.set()
        result["stranger_outcomes"] = {str(k): v for k, v in sorted(outcomes.items(), key=str)}
        result["flood_p50_vs_quiet"] = (round(result["flood"]["p50_ms"] / result["quiet"]["p50_ms"], 2)
                                        if result["flood"]["p50_ms"] and result["quiet"]["p50_ms"] else None)
        services.close()
    finally:
        for client in held:
            client.disconnect()
        web.terminate()
        web.wait(30)
        redis_server.stop()
    for name, value in result.items():
        print(f"{name}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
