"""The citizen screens on a cheap phone: first-load bytes and time to usable of /lapor and /lacak.

The production web server (``python -m app serve``: gunicorn) runs in a child process on a real
embedded Redis and SQLite holding one filed report (so /lacak shows a real ticket). Headless
Chromium at 360x800, a fresh context per load (nothing cached), is throttled through the DevTools
protocol (``Network.emulateNetworkConditions`` and ``Emulation.setCPUThrottlingRate``):

* 3G: 1.6 Mbit/s down, 750 kbit/s up, 300 ms round trip, CPU x4 (a cheap Android phone);
* 4G: 9 Mbit/s down, 1.5 Mbit/s up, 150 ms round trip, CPU x1.

*Bytes* are what went over the wire (``Network.loadingFinished.encodedDataLength``: headers and
compressed bodies) for every request of the page's first load, ours and third-party; map tiles
(the tile server, not this app: unreachable in the bench) are counted apart and left out.
*Usable* is the time from the start of navigation until the screen's controls are on screen and
answer (the form's send button / the ticket's status badge), measured in the page.
Targets on 3G: <= 250 KB and <= 4 s.

The static files' compressed copies are made before the server starts, as a deployment's build
step does (``make precompress``); the seconds it took are printed. ``--cold`` leaves them out: the
first loads then get what a fresh server sends while its copies are still being made (level 5).

``--baseline ROOT`` serves another checkout (e.g. the commit before this work) on the same data in
the same run, for a before/after.

Usage: ``python bench/lapor.py [--runs 1] [--baseline /path/to/old/checkout] [--timeline]``;
the last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _phone import first_load  # noqa: E402
from app.store.redis_conn import EmbeddedRedis, _free_port  # noqa: E402

CHROMIUM = os.environ.get("PANTAU_CHROMIUM", "/usr/bin/chromium")
PROFILES = {
    "3g": {"download_bps": 1.6e6, "upload_bps": 750e3, "rtt_ms": 300, "cpu": 4},
    "4g": {"download_bps": 9e6, "upload_bps": 1.5e6, "rtt_ms": 150, "cpu": 1},
}
TARGET_BYTES = 250 * 1024
TARGET_S = 4.0
READY = {"lapor": "#lapor-submit", "lacak": "#lacak-status"}


def _env(folder: Path, redis_url: str, port: int, root: Path) -> dict:
    env = {**os.environ, "REDIS_URL": redis_url, "PANTAU_DATA_DIR": str(folder), "PANTAU_PORT": str(port),
           "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}", "SECRET_KEY": "bench",
           "PANTAU_SIM_RATE": "0", "PANTAU_LOG_LEVEL": "WARNING", "PANTAU_WEB_WORKERS": "1",
           "PYTHONPATH": str(root)}
    shared = (ROOT / ".." / "shared" / "data").resolve()
    if shared.exists():
        env["PANTAU_BOUNDARIES"] = str(shared)
    return env


def seed(folder: Path, redis_url: str) -> str:
    """One report, filed and persisted; its ticket."""
    from app.services import Services
    from config.settings import Settings
    from ingest.sources import RawReport
    from tests.helpers import drain

    shared = (ROOT / ".." / "shared" / "data").resolve()
    services = Services.open(Settings(data_dir=folder, redis_url=redis_url,
                                      database_url=f"sqlite:///{folder / 'bench.sqlite3'}", secret_key="bench",
                                      boundaries=shared if shared.exists() else None, sim_rate=0))
    report = services.producer.submit(RawReport(category="garbage", lat=-6.1754, lng=106.8272,
                                                description="sampah menumpuk", source="bench",
                                                source_ref="bench-lapor-1"))
    drain(services)
    services.close()
    return report.ticket


def start_server(root: Path, folder: Path, redis_url: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    child = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=root,
                             env=_env(folder, redis_url, port, root))
    deadline = time.monotonic() + 90
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return child, port
        except OSError:
            pass
        if time.monotonic() > deadline or child.poll() is not None:
            child.terminate()
            raise RuntimeError(f"the web server in {root} did not start")
        time.sleep(0.3)


def measure(browser, base: str, ticket: str, runs: int, timeline: bool = False) -> dict:
    out = {}
    for name, profile in PROFILES.items():
        for screen, path in (("lapor", "/lapor"), ("lacak", f"/lacak/{ticket}")):
            loads = [first_load(browser, base + path, READY[screen], profile, timeline=timeline and name == "3g")
                     for _ in range(runs)]
            best = min(loads, key=lambda r: r["usable_s"])
            out[f"{screen}_{name}"] = {**best, "usable_s_all": [r["usable_s"] for r in loads]}
            print(f"  {screen:5} {name}: {best['bytes'] / 1024:7.1f} KB in {best['requests']:2} requests, "
                  f"usable in {best['usable_s']:.2f} s; largest: "
                  + ", ".join(f"{p.rsplit('/', 1)[-1][:40]} {s / 1024:.0f} KB" for s, p in best["largest"][:4]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="loads per screen and profile (the fastest is kept)")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure on the same data")
    parser.add_argument("--cold", action="store_true", help="no static copies compressed ahead of time")
    parser.add_argument("--timeline", action="store_true",
                        help="print each request's start and end under the 3G throttle")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-lapor-"))
    redis_server = EmbeddedRedis(folder / "redis").start()
    results: dict = {"benchmark": "lapor", "profiles": PROFILES, "target_3g_bytes": TARGET_BYTES,
                     "target_3g_usable_s": TARGET_S}
    try:
        ticket = seed(folder, redis_server.url)
        if not args.cold:
            from app import web_assets

            started = time.monotonic()
            web_assets.precompress(web_assets.compressed_dir(argparse.Namespace(data_dir=folder)))
            results["precompress_s"] = round(time.monotonic() - started, 1)
            print(f"static files compressed ahead of time in {results['precompress_s']} s")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            roots = [("baseline", args.baseline.resolve())] if args.baseline else []
            for label, root in roots + [("current", ROOT)]:
                child, port = start_server(root, folder, redis_server.url)
                try:
                    print(f"{label} ({root}):")
                    results[label] = measure(browser, f"http://127.0.0.1:{port}", ticket, args.runs, args.timeline)
                finally:
                    child.terminate()
                    child.wait(timeout=30)
            browser.close()
    finally:
        redis_server.stop()
    current = results["current"]
    for screen in READY:
        r = current[f"{screen}_3g"]
        results[f"{screen}_3g_ok"] = r["bytes"] <= TARGET_BYTES and r["usable_s"] <= TARGET_S
    for label in ("baseline", "current"):
        for value in results.get(label, {}).values():
            value.pop("largest", None)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
