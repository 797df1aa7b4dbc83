"""Other requests' latency while a stranger floods the staff sign-in with wrong passwords.

The production web server (``python -m app serve``: gunicorn, one worker per core) on an embedded
Redis and SQLite seeded with ``--reports`` reports, as bench/kiosk.py starts it. A probe client
asks ``/healthz`` and the kiosk's ``/api/public/summary`` in turn, ``--rate`` requests a second,
first for ``--seconds`` quiet, then for ``--seconds`` while a flood of ``--flood`` sign-in attempts
a second comes from one address (wrong passwords for a real admin and for made-up names, each
attempt on its own connection so slow answers do not slow the flood down).
Target: the probe's p50 under the flood within 2x of its quiet p50.

    .venv/bin/python bench/login.py [--seconds 20] [--flood 10] [--rate 20] [--reports 2000]

The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.api import _wait_http  # noqa: E402
from bench.kiosk import _settings, percentile, seed, web_env  # noqa: E402
from app.store.redis_conn import EmbeddedRedis, _free_port  # noqa: E402

PROBES = ("/healthz", "/api/public/summary")
TARGET_RATIO = 2.0
PASSWORD = "bench admin passphrase"


def probe(port: int, seconds: float, rate: float, out: list, errors: list) -> None:
    """Sequential keep-alive requests at ``rate`` a second; latencies in ms into ``out``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    stop_at, i = time.monotonic() + seconds, 0
    while time.monotonic() < stop_at:
        began = time.monotonic()
        try:
            conn.request("GET", PROBES[i % len(PROBES)])
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
            out.append((began, (time.monotonic() - began) * 1000.0))
        except (OSError, http.client.HTTPException) as err:
            errors.append(type(err).__name__)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i += 1
        time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - began)))
    conn.close()


def _login_form(port: int) -> tuple[str, str]:
    """The stranger's session cookie and CSRF token, from one GET of the sign-in page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    conn.close()
    return cookie, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def flood(port: int, seconds: float, per_second: float, statuses: Counter) -> None:
    cookie, token = _login_form(port)
    lock, threads = threading.Lock(), []

    def attempt(i: int) -> None:
        name = "admin1" if i % 2 == 0 else f"staff{i}"
        body = urlencode({"csrf_token": token, "username": name, "password": f"guess {i}"})
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded",
                                                  "Cookie": cookie})
            status = conn.getresponse().status
            conn.close()
        except (OSError, http.client.HTTPException) as err:
            status = type(err).__name__
        with lock:
            statuses[status] += 1

    start = time.monotonic()
    for i in range(int(seconds * per_second)):
        time.sleep(max(0.0, start + i / per_second - time.monotonic()))
        thread = threading.Thread(target=attempt, args=(i,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--flood", type=float, default=10.0, help="sign-in attempts a second, one address")
    parser.add_argument("--rate", type=float, default=20.0, help="probe requests a second")
    parser.add_argument("--reports", type=int, default=2000)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-login-"))
    redis_server = EmbeddedRedis(folder / "redis").start()
    child = None
    try:
        seed(folder, redis_server.url, args.reports)
        from app import audit
        from app.auth.users import create_user
        from app.services import Services

        services = Services.open(_settings(folder, redis_server.url))
        create_user(services.engine, services.preset, "admin1", PASSWORD, "admin")
        port = _free_port()
        child = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT,
                                 env=web_env(folder, redis_server.url, port))
        _wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        web = [psutil.Process(child.pid), *psutil.Process(child.pid).children()]
        warm: list = []
        probe(port, 3.0, args.rate, warm, [])   # every worker imported and cached

        def cpu() -> float:
            return sum(p.cpu_times().user + p.cpu_times().system for p in web)

        quiet, quiet_errors = [], []
        cpu0 = cpu()
        probe(port, args.seconds, args.rate, quiet, quiet_errors)
        quiet_cpu = 100 * (cpu() - cpu0) / args.seconds

        flooded, flood_errors, statuses = [], [], Counter()
        flooder = threading.Thread(target=flood, args=(port, args.seconds, args.flood, statuses))
        cpu0, flood_start = cpu(), time.monotonic()
        flooder.start()
        probe(port, args.seconds, args.rate, flooded, flood_errors)
        flood_cpu = 100 * (cpu() - cpu0) / args.seconds
        flooder.join()
        checked = Counter(e["action"] for e in audit.recent(services.engine, 100_000)
                          if e["action"].startswith("login"))
        services.close()

        q = [ms for _, ms in quiet]
        f = [ms for _, ms in flooded]
        first = [ms for began, ms in flooded if began - flood_start < 5.0]
        result = {
            "benchmark": "login_flood", "seconds": args.seconds, "flood_per_s": args.flood,
            "probe_per_s": args.rate, "probes": list(PROBES), "web_workers": len(web) - 1,
            "quiet_p50_ms": round(statistics.median(q), 2), "quiet_p99_ms": round(percentile(q, 0.99), 2),
            "flood_p50_ms": round(statistics.median(f), 2), "flood_p99_ms": round(percentile(f, 0.99), 2),
            "flood_first_5s_p50_ms": round(statistics.median(first), 2) if first else None,
            "probe_errors": len(quiet_errors) + len(flood_errors),
            "flood_answers": {str(k): v for k, v in sorted(statuses.items(), key=str)},
            "passwords_checked": checked.get("login.failed", 0),
            "web_cpu_pct_quiet": round(quiet_cpu, 1), "web_cpu_pct_flood": round(flood_cpu, 1),
            "target_ratio": TARGET_RATIO,
        }
        result["ratio"] = round(result["flood_p50_ms"] / result["quiet_p50_ms"], 2)
        result["met"] = result["ratio"] <= TARGET_RATIO
        print(f"probe p50 quiet {result['quiet_p50_ms']} ms, under a {args.flood:g}/s sign-in flood "
              f"{result['flood_p50_ms']} ms (x{result['ratio']}, target <= x{TARGET_RATIO:g}); "
              f"flood answers {result['flood_answers']}, passwords checked {result['passwords_checked']}")
        print(json.dumps(result))
    finally:
        if child is not None:
            child.terminate()
            child.wait(30)
        redis_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
