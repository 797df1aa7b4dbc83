"""The wall under load: initial payload, first render, push bytes, server CPU and accept-to-DOM latency.

On a real embedded Redis, the production web server (``python -m app serve``:
gunicorn, one worker per core, each with its own relay; its CPU is measured
alone), the aggregator as its own process, and headless Chromium:

1. ``HEXES`` active resolution-10 hexes (default 44,000: every res-10 cell of
   Jakarta's kelurahan, one report each): bytes of the initial map payload
   (``/wall/api/snapshot``, cell ids and counts; and everything else the page
   fetched before its map was whole) and the time from opening ``/wall`` to
   all of them on the canvas.
2. ``RATE`` new reports a second for ``SECONDS`` with ``DISPLAYS`` connected
   displays (one Chromium wall + Socket.IO clients over WebSocket that join as
   the wall does, panels included, in their own process): bytes pushed per
   display per second, server CPU, p50/p99 from the producer's accept to the
   ticker/hex change in the browser's DOM, and the HTTP requests the Chromium
   wall makes per minute (target 0: the panels and a heartbeat ride the push).
3. Baseline, same load: a Dash page that refetches the whole hex layer as
   GeoJSON every second with ``dcc.Interval``; bytes per display per second.

Usage: ``python bench/wall.py [--hexes 44000] [--rate 1000] [--seconds 8] [--displays 100]``;
the last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import h3  # noqa: E402

from app.services import Services  # noqa: E402
from app.store.redis_conn import EmbeddedRedis  # noqa: E402
from config.settings import Settings  # noqa: E402
from ingest.aggregator import Aggregator  # noqa: E402
from ingest.sources import RawReport  # noqa: E402

HEXES = 44_000
# The baseline redraws what a display shows: the default profile's wall at the city's fit is resolution 8.
BASELINE_RES = 8
RES = 10
CHROMIUM = os.environ.get("PANTAU_CHROMIUM", "/usr/bin/chromium")


def _settings(folder: Path, redis_url: str) -> Settings:
    shared = (ROOT / ".." / "shared" / "data").resolve()
    return Settings(data_dir=folder, redis_url=redis_url, boundaries=shared if shared.exists() else None,
                    database_url=f"sqlite:///{folder / 'bench.sqlite3'}", secret_key="bench", sim_rate=0,
                    tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png")


# -- the server child process ----------------------------------------------------------------
def serve_baseline(folder: Path, redis_url: str, baseline_port: int) -> None:
    """The baseline page (a Dash app refetching the whole layer every second) on a threaded server."""
    import dash
    import dash_leaflet as dl
    from dash import Input, Output, dcc, html
    from werkzeug.serving import make_server

    from app import queries
    from app.services import Services

    services = Services.open(_settings(folder, redis_url))

    baseline = dash.Dash(__name__, update_title=None, assets_folder=str(folder / "no-assets"))
    (south, west), (north, east) = services.preset.bounds
    baseline.layout = html.Div([
        dl.Map(id="base-map", bounds=[[south, west], [north, east]], center=list(services.preset.center),
               zoom=services.preset.zoom, preferCanvas=True, style={"height": "100vh"},
               children=[dl.GeoJSON(id="base-hexes")]),
        dcc.Interval(id="base-tick", interval=1000)])

    @baseline.callback(Output("base-hexes", "data"), Input("base-tick", "n_intervals"))
    def whole_layer(_n):
        counts = queries.hex_counts(services.redis, services.preset, BASELINE_RES, "today")
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"cell": cell, "count": n},
             "geometry": {"type": "Polygon", "coordinates": [
                 [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]]}}
            for cell, n in counts.items()]}

    server = make_server("127.0.0.1", baseline_port, baseline.server, threaded=True)
    print("ready", flush=True)
    server.serve_forever()


def web_env(folder: Path, redis_url: str, port: int) -> dict:
    """The environment ``python -m app serve`` gets: the production server, as ``make run`` starts it."""
    settings = _settings(folder, redis_url)
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": settings.database_url,
           "PANTAU_DATA_DIR": str(folder), "PANTAU_PORT": str(port), "PANTAU_SIM_RATE": "0",
           "SECRET_KEY": "bench", "PANTAU_TILE_URL": settings.tile_url, "PANTAU_LOG_LEVEL": "WARNING",
           "PANTAU_BATCH_SIZE": "1000", "PANTAU_BLOCK_MS": "20"}
    # a wall room of DISPLAYS screens behind one address (the operations room's NAT), each with its
    # own display token, on the default socket settings: nothing sized for the bench
    if settings.boundaries:
        env["PANTAU_BOUNDARIES"] = str(settings.boundaries)
    return env


# -- the load side --------------------------------------------------------------------------
def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def _point_report(lat: float, lng: float, ref: str, created: datetime | None = None) -> RawReport:
    return RawReport(category=random.choice(["flood", "garbage", "road_damage", "street_light"]), lat=lat, lng=lng,
                     description="bench", created_at=created or datetime.now(timezone.utc), source="bench",
                     source_ref=ref)


def city_cells(services, count: int) -> list[str]:
    """Up to ``count`` resolution-10 cells of the city: every cell whose centre lies in a kelurahan
    (Jakarta: 42,700), then the ring just outside them while the city still takes the point."""
    cells: set[str] = set()
    for feature in services.areas.outlines_geojson("area")["features"]:
        cells.update(h3.geo_to_cells(feature["geometry"], RES))
    if not cells:   # no boundaries: random points in the city's box
        rng = random.Random(3)
        (south, west), (north, east) = services.preset.bounds
        for _ in range(count * 3):
            cells.add(h3.latlng_to_cell(rng.uniform(south, north), rng.uniform(west, east), RES))
    ordered = sorted(cells)
    if len(ordered) < count:
        ring = sorted({n for c in ordered for n in h3.grid_ring(c, 1)} - cells)
        ordered += [c for c in ring if services.areas.in_city(*h3.cell_to_latlng(c))][:count - len(ordered)]
    return ordered[:count]


def seed_hexes(services, count: int) -> int:
    """One report at the centre of each of ``count`` distinct resolution-10 hexes of the city."""
    raws = [_point_report(*h3.cell_to_latlng(cell), f"seed-{i}") for i, cell in enumerate(city_cells(services, count))]
    for i in range(0, len(raws), 2000):
        services.producer.submit_many(raws[i:i + 2000])
    Aggregator(services.redis, services.keys, "bench-seed", services.preset, batch_size=2000,
               block_ms=10).run(burst=True)
    return len(raws)


class Load:
    """``rate`` reports a second at random points of the city (prepared up front), accepted by the producer."""

    def __init__(self, services, rate: int):
        self.services, self.rate = services, rate
        self.stop = threading.Event()
        rng = random.Random(9)
        (south, west), (north, east) = services.preset.bounds
        self.points = []
        while len(self.points) < 2000:
            lat, lng = rng.uniform(south, north), rng.uniform(west, east)
            if services.areas.in_city(lat, lng):
                self.points.append((lat, lng))
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tick, started = 0.05, time.monotonic()
        while not self.stop.is_set():
            due = int((time.monotonic() - started) * self.rate) - self.sent
            if due > 0:
                now = datetime.now(timezone.utc)
                raws = [_point_report(*self.points[(self.sent + i) % len(self.points)], f"load-{self.sent + i}", now)
                        for i in range(due)]
                self.services.producer.submit_many(raws)
                self.sent += due
            self.stop.wait(tick)


def socket_displays(base_url: str, count: int, res: int, tokens: str) -> None:
    """``count`` displays over WebSocket (as assets/wall.js connects), in their own process, each
    signed in with its own display token (``tokens``: comma-separated, as ``python -m app.auth
    displays create`` makes them; one token holds at most PANTAU_SOCKETS_PER_DISPLAY sockets).

    Prints "ready"; on "reset" on stdin zeroes the byte counts; on "report" prints them as JSON.
    """
    import socketio

    clients, received = [], [0] * count
    tokens = tokens.split(",")
    for i in range(count):
        token = tokens[i]
        client = socketio.Client(reconnection=False)

        def on_any(event, data, i=i):
            received[i] += len(json.dumps(data, separators=(",", ":"))) + len(event) + 8

        client.on("*", on_any, namespace="/wall")
        client.connect(base_url, namespaces=["/wall"], transports=["websocket"], wait_timeout=10,
                       headers={"Cookie": f"pantau_display={token}"})
        # as assets/wall.js joins: a view, and the panels of its language (pushed from then on)
        client.emit("wall_join", {"metric": "reports", "window": "today", "res": res, "lang": "id",
                                  "panels": True}, namespace="/wall")
        clients.append(client)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "reset":
            received[:] = [0] * count
        elif line.strip() == "report":
            print(json.dumps(received), flush=True)
            break
    for client in clients:
        client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--displays", type=int, default=100)
    parser.add_argument("--hexes", type=int, default=HEXES)
    parser.add_argument("--serve-baseline", nargs=3, metavar=("FOLDER", "REDIS", "PORT"))
    parser.add_argument("--socket-displays", nargs=4, metavar=("URL", "COUNT", "RES", "TOKENS"))
    args = parser.parse_args()
    if args.serve_baseline:
        folder, redis_url, baseline_port = args.serve_baseline
        serve_baseline(Path(folder), redis_url, int(baseline_port))
        return
    if args.socket_displays:
        url, count, res, tokens = args.socket_displays
        socket_displays(url, int(count), int(res), tokens)
        return

    import psutil
    import requests
    from playwright.sync_api import sync_playwright

    from app.store.redis_conn import _free_port

    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-wall-"))
    redis_server = EmbeddedRedis(folder / "redis").start()
    services = Services.open(_settings(folder, redis_server.url))
    port, baseline_port = _free_port(), _free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve-baseline", str(folder), redis_server.url,
                              str(baseline_port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env = web_env(folder, redis_server.url, port)
    web = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env)
    children = [child, web]
    result: dict = {"hexes_asked": args.hexes, "resolution": RES, "rate_per_s": args.rate, "displays": args.displays,
                    "seconds": args.seconds}
    try:
        started = time.perf_counter()
        result["hexes"] = seed_hexes(services, args.hexes)
        result["seed_s"] = round(time.perf_counter() - started, 1)
        progress(f"seeded {result['hexes']} hexes in {result['seed_s']} s")
        assert child.stdout.readline().strip() == "ready"
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.3)
        # The wall is for staff: the screens sign in with a display token, as an installed wall does.
        from app.auth import displays as display_tokens

        token = display_tokens.create_display(services.engine, services.preset.slug, "bench wall")[1]
        snapshot = requests.get(f"{base}/wall/api/snapshot?metric=reports&window=today&res={RES}", timeout=30,
                                cookies={display_tokens.COOKIE: token})
        result["initial_payload_bytes"] = len(snapshot.content)
        result["initial_payload_gzip_bytes"] = len(gzip.compress(snapshot.content))
        result["initial_cells"] = len(snapshot.json()["cells"])
        server_process = psutil.Process(web.pid)
        result["web_workers"] = len([p for p in server_process.children() if "app.web_assets" not in " ".join(p.cmdline())])

        def server_cpu() -> float:
            return sum(p.cpu_times().user + p.cpu_times().system
                       for p in [server_process, *server_process.children()])

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            fetched = []   # what the page fetched from our server besides its scripts and styles

            def on_response(response):
                if response.url.startswith(base) and "/_dash-component-suites/" not in response.url \
                        and "/assets/" not in response.url and "/wall/api/snapshot" not in response.url:
                    try:
                        fetched.append(len(response.body()))
                    except Exception:  # a response without a body (a redirect): nothing to count
                        pass
            page.on("response", on_response)
            started = time.perf_counter()
            page.goto(f"{base}/wall?display={token}&kiosk=1&rotate=0&res={RES}", timeout=120000)
            page.wait_for_function(f"() => Number((document.getElementById('wall-hexstate') || {{dataset: {{}}}})"
                                   f".dataset.features) >= {result['initial_cells']}", timeout=180000)
            result["first_render_s"] = round(time.perf_counter() - started, 2)
            # the page's own data (layout, its panels and place names) besides the snapshot above
            result["initial_layout_bytes"] = sum(fetched)
            result["initial_payload_total_bytes"] = sum(fetched) + result["initial_payload_bytes"]
            progress(f"first render {result['first_render_s']} s")
            page.close()
            # The push phase: a display as installed (resolution follows the zoom: res 8 here).
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"{base}/wall?display={token}&kiosk=1&rotate=0", timeout=120000)
            page.wait_for_function("() => Number((document.getElementById('wall-hexstate') || {dataset: {}})"
                                   ".dataset.features) > 0", timeout=60000)
            push_res = int(page.evaluate("() => document.getElementById('wall-hexstate').dataset.res"))
            result["push_resolution"] = push_res
            result["push_hexes_on_display"] = int(page.evaluate(
                "() => document.getElementById('wall-hexstate').dataset.features"))
            page.evaluate("""() => { window.__lat = []; window.__bytes = 0;
                const sock = pantauWall.state().socket;
                sock.io.engine.on('packet', p => { window.__bytes += (typeof p.data === 'string' ? p.data.length : 0) + 4; });
                pantauWall.onTick = msg => { const now = Date.now();
                    (msg.new || []).forEach(r => window.__lat.push(now - Date.parse(r.created_at))); }; }""")

            # -- push, under load: the other displays and the aggregator run as their own processes
            screen_tokens = ",".join(display_tokens.create_display(services.engine, services.preset.slug,
                                                                   f"bench screen {n + 2}")[1]
                                     for n in range(args.displays - 1))
            displays = subprocess.Popen([sys.executable, __file__, "--socket-displays", base,
                                         str(args.displays - 1), str(push_res), screen_tokens],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            children.append(displays)
            assert displays.stdout.readline().strip() == "ready"
            progress(f"{args.displays} displays connected")
            aggregator = subprocess.Popen([sys.executable, "-m", "ingest", "aggregate", "--name", "bench-agg"],
                                          cwd=ROOT, env=env)
            children.append(aggregator)
            load = Load(services, args.rate)
            # the aggregator is up when its heartbeat is (a loaded machine takes a while to start it)
            deadline = time.monotonic() + 120
            while b"bench-agg" not in services.redis.hkeys(services.keys.consumer_stats) and time.monotonic() < deadline:
                time.sleep(0.5)
            progress("aggregator running")
            time.sleep(1.5)
            page.evaluate("() => { window.__lat = []; window.__bytes = 0; }")
            http = []      # every HTTP request of the Chromium wall while it is live (target: none)
            page.on("request", lambda r: http.append(r.url) if r.resource_type != "websocket" else None)
            displays.stdin.write("reset\n")
            displays.stdin.flush()
            cpu0, t0 = server_cpu(), time.monotonic()
            load.thread.start()
            time.sleep(args.seconds)
            cpu1, elapsed = server_cpu(), time.monotonic() - t0
            time.sleep(1)   # the reports accepted last reach the wall (the load goes on for the baseline)
            latencies = sorted(page.evaluate("() => window.__lat"))
            browser_bytes = page.evaluate("() => window.__bytes")
            displays.stdin.write("report\n")
            displays.stdin.flush()
            received = json.loads(displays.stdout.readline())
            per_display = [browser_bytes] + received
            result["reports_sent"] = load.sent
            result["push_bytes_per_display_per_s"] = round(statistics.median(per_display) / elapsed)
            result["push_bytes_per_display_per_s_max"] = round(max(per_display) / elapsed)
            result["server_cpu_percent"] = round(100 * (cpu1 - cpu0) / elapsed, 1)
            result["http_requests_per_display_per_min"] = round(len(http) * 60 / elapsed, 2)
            result["http_requests_seen"] = http[:5]
            result["panel_pushes_on_display"] = int(page.evaluate(
                "() => document.getElementById('wall-hexstate').dataset.panelPushes"))
            if latencies:
                result["accept_to_dom_p50_ms"] = latencies[len(latencies) // 2]
                result["accept_to_dom_p99_ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                result["latency_samples"] = len(latencies)
            page.close()

            # -- baseline: whole layer every second, same load still running
            baseline_page = browser.new_page(viewport={"width": 1920, "height": 1080})
            responses = []
            baseline_page.on("response", lambda r: responses.append(r) if "_dash-update-component" in r.url else None)
            baseline_page.goto(f"http://127.0.0.1:{baseline_port}/")
            baseline_page.wait_for_timeout(1500)
            responses.clear()
            baseline_process = psutil.Process(child.pid)
            cpu0, t0 = baseline_process.cpu_times(), time.monotonic()
            baseline_page.wait_for_timeout(args.seconds * 1000)
            cpu1, elapsed = baseline_process.cpu_times(), time.monotonic() - t0
            sizes = [len(r.body()) for r in list(responses)]
            result["baseline_bytes_per_display_per_s"] = round(sum(sizes) / elapsed)
            result["baseline_fetches"] = len(sizes)
            result["baseline_resolution"] = BASELINE_RES
            result["baseline_server_cpu_percent_one_display"] = round(
                100 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / elapsed, 1)
            load.stop.set()
            browser.close()
        if result.get("push_bytes_per_display_per_s"):
            result["bytes_ratio_baseline_over_push"] = round(
                result["baseline_bytes_per_display_per_s"] / result["push_bytes_per_display_per_s"], 1)
    finally:
        for process in children:
            if process.poll() is None:
                process.terminate()
        for process in children:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        services.close()
        redis_server.stop()
    for key, value in result.items():
        print(f"{key}: {value}")
    progress("done")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
