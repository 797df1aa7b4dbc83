"""The console's queue by push: from a report's acceptance to its row on a supervisor's screen.

On a real embedded Redis and a SQLite file: the production web server (``python -m app serve``),
the persister as its own process (it announces each batch after its commit, ``app.staff.push``),
and headless Chromium signed in as a supervisor on ``/dispatch`` showing the newest new reports.
``RATE`` reports a second are accepted by the producer for ``SECONDS``; the page records, with a
MutationObserver, when each ticket's row first appears in the DOM. Latency = first seen − accepted
(the same machine's clock). A report that never showed (pushed off the page of 50 before a
refresh reached it) counts as a miss, at the worst latency. Baseline, same run: the 15 s reload the
console had before (the expected wait of a timer is half its period, its worst the whole period).

Usage: ``python bench/dispatch_push.py [--rate 50] [--seconds 20]``; last line: one JSON object.
"""
from __future__ import annotations

import argparse
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

from app.services import Services  # noqa: E402
from app.store.redis_conn import EmbeddedRedis, _free_port  # noqa: E402
from config.settings import Settings  # noqa: E402
from ingest.sources import RawReport  # noqa: E402

CHROMIUM = os.environ.get("PANTAU_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "bench-Pa55word!"
OLD_RELOAD_S = 15


def _settings(folder: Path, redis_url: str) -> Settings:
    shared = (ROOT / ".." / "shared" / "data").resolve()
    return Settings(data_dir=folder, redis_url=redis_url, boundaries=shared if shared.exists() else None,
                    database_url=f"sqlite:///{folder / 'bench.sqlite3'}", secret_key="bench", sim_rate=0,
                    tile_url="")


def _env(folder: Path, redis_url: str, port: int) -> dict:
    settings = _settings(folder, redis_url)
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": settings.database_url,
           "PANTAU_DATA_DIR": str(folder), "PANTAU_PORT": str(port), "PANTAU_SIM_RATE": "0",
           "SECRET_KEY": "bench", "PANTAU_TILE_URL": "", "PANTAU_LOG_LEVEL": "WARNING",
           "PANTAU_BATCH_SIZE": "500", "PANTAU_BLOCK_MS": "20"}
    if settings.boundaries:
        env["PANTAU_BOUNDARIES"] = str(settings.boundaries)
    return env


class Load:
    """``rate`` reports a second, one at a time as citizens file them; the acceptance time of each."""

    def __init__(self, services, rate: int, seconds: float):
        self.services, self.rate, self.seconds = services, rate, seconds
        rng = random.Random(13)
        (south, west), (north, east) = services.preset.bounds
        self.points = []
        while len(self.points) < 500:
            lat, lng = rng.uniform(south, north), rng.uniform(west, east)
            if services.areas.in_city(lat, lng):
                self.points.append((lat, lng))
        self.accepted: dict[str, float] = {}
        self.ids: dict[str, str] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started, n = time.monotonic(), 0
        while time.monotonic() - started < self.seconds:
            due = started + n / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            lat, lng = self.points[n % len(self.points)]
            raw = RawReport(category=random.choice(["flood", "garbage", "road_damage", "street_light"]), lat=lat,
                            lng=lng, description="bench", created_at=datetime.now(timezone.utc), source="bench",
                            source_ref=f"push-{n}")
            report = self.services.producer.submit(raw)
            self.accepted[report.ticket] = time.time() * 1000
            self.ids[report.id] = report.ticket
            n += 1


# --trace: when each socket message came (and the ids it named), each queue update's round trip
TRACE_JS = """(() => { window.__trace = {ws: [], calls: [], sets: [], acks: [], long: []};
  try { new PerformanceObserver(l => l.getEntries().forEach(e => window.__trace.long.push([Math.round(e.startTime), Math.round(e.duration)])))
          .observe({entryTypes: ['longtask']}); } catch (err) {}
  const wrap = setInterval(() => { const dc = window.dash_clientside; if (dc && dc.set_props && !dc.__wrapped) {
      const native = dc.set_props; dc.set_props = function (id, props) { if (id === 'dispatch-push') window.__trace.sets.push(Date.now());
        return native.apply(this, arguments); }; dc.__wrapped = true; clearInterval(wrap); } }, 50);
  new MutationObserver(ms => { if (ms.some(m => (m.target.id || (m.target.parentNode && m.target.parentNode.id)) === 'dispatch-push-ack'))
      window.__trace.acks.push(Date.now()); }).observe(document, {subtree: true, childList: true, characterData: true});
  const Native = window.WebSocket;
  window.WebSocket = function (...a) { const ws = new Native(...a);
    ws.addEventListener('message', e => { if (typeof e.data === 'string' && e.data.indexOf('queue_changed') >= 0) {
      try { const body = JSON.parse(e.data.slice(e.data.indexOf('['))); window.__trace.ws.push([Date.now(), body[1].new]); }
      catch (err) {} } });
    return ws; };
  window.WebSocket.prototype = Native.prototype; Object.assign(window.WebSocket, Native);
  const nativeFetch = window.fetch;
  window.fetch = function (url, opts) { const t0 = Date.now();
    const push = opts && typeof opts.body === 'string' && opts.body.indexOf('dispatch-push.data') >= 0 &&
                 opts.body.indexOf('"changedPropIds":["dispatch-push.data"]') >= 0;
    let ids = [];
    if (push) { try { const b = JSON.parse(opts.body); const p = b.inputs.find(i => i.id === 'dispatch-push');
                      ids = (p && p.value && p.value.new) || []; } catch (err) {} }
    return nativeFetch.apply(this, arguments).then(r => { if (push) window.__trace.calls.push([t0, Date.now(), ids]); return r; }); };
})();"""


def _breakdown(trace: dict, load: "Load") -> dict:
    """Acceptance -> socket message in the browser; the queue update's round trip; its count."""
    by_ticket = {}
    for at, ids in trace["ws"]:
        for rid in ids or []:
            ticket = load.ids.get(rid)
            if ticket and ticket not in by_ticket:
                by_ticket[ticket] = at
    to_socket = [by_ticket[t] - load.accepted[t] for t in by_ticket if t in load.accepted]
    calls = [c[1] - c[0] for c in trace["calls"]]
    pairs = list(zip(trace["sets"], [c[0] for c in trace["calls"]], [c[1] for c in trace["calls"]], trace["acks"]))
    print("set->fetch, fetch, reply->ack, ack->next set:", [(b - a, c - b, d - c) for a, b, c, d in pairs][:40])
    print("sets", trace["sets"][:5], "acks", trace["acks"][:5])
    print("long tasks:", len(trace["long"]), "total ms", sum(d for _, d in trace["long"]), trace["long"][10:40])
    out = {"socket_messages": len(trace["ws"]), "updates": len(calls)}
    sent, back = {}, {}
    for start, end, ids in trace["calls"]:
        for rid in ids:
            ticket = load.ids.get(rid)
            if ticket and ticket not in sent:
                sent[ticket], back[ticket] = start, end
    waits = [sent[t] - by_ticket[t] for t in sent if t in by_ticket]
    if waits:
        out.update(socket_to_update_p50_ms=round(statistics.median(waits)),
                   socket_to_update_p99_ms=round(_percentile(waits, 0.99)))
    drawn = [trace["seen"][t] - back[t] for t in back if t in trace.get("seen", {})]
    if drawn:
        out.update(reply_to_row_p50_ms=round(statistics.median(drawn)), reply_to_row_p99_ms=round(_percentile(drawn, 0.99)))
    if to_socket:
        out.update(to_socket_p50_ms=round(statistics.median(to_socket)), to_socket_p99_ms=round(_percentile(to_socket, 0.99)))
    if calls:
        out.update(update_p50_ms=round(statistics.median(calls)), update_p99_ms=round(_percentile(calls, 0.99)))
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--trace", action="store_true", help="also where the time goes: socket, callback")
    args = parser.parse_args()

    import requests
    from playwright.sync_api import sync_playwright

    from app.auth.users import create_user

    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-dispatch-push-"))
    redis_server = EmbeddedRedis(folder / "redis").start()
    services = Services.open(_settings(folder, redis_server.url))
    create_user(services.engine, services.preset, "bench-sup", PASSWORD, "supervisor")
    port = _free_port()
    env = _env(folder, redis_server.url, port)
    children = [subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env),
                subprocess.Popen([sys.executable, "-m", "ingest", "persist", "--name", "bench-persist"], cwd=ROOT,
                                 env=env)]
    result: dict = {"rate_per_s": args.rate, "seconds": args.seconds, "database": "sqlite"}
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.3)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            if args.trace:
                page.add_init_script(TRACE_JS)
            page.set_default_timeout(120_000)
            page.goto(f"{base}/login")
            page.fill("#login-username", "bench-sup")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(f"{base}/dispatch")
            page.goto(f"{base}/dispatch?status=new&sort=newest")
            page.wait_for_selector("#dispatch-queue")
            page.wait_for_function("() => document.documentElement.getAttribute('data-dispatch-push') === 'on'")
            page.evaluate("""() => { window.__seen = {};
                const mark = () => { const now = Date.now();
                    document.querySelectorAll('.dispatch-table tr[data-ticket]').forEach(tr => {
                        const t = tr.dataset.ticket; if (!(t in window.__seen)) window.__seen[t] = now; }); };
                new MutationObserver(mark).observe(document.getElementById('dispatch-queue'),
                                                   {childList: true, subtree: true}); }""")
            load = Load(services, args.rate, args.seconds)
            load.thread.start()
            load.thread.join()
            time.sleep(3)                                   # the last ones' refresh
            seen = page.evaluate("() => window.__seen")
            trace = page.evaluate("() => window.__trace || null") if args.trace else None
            on_screen = page.evaluate("() => [...document.querySelectorAll('.dispatch-table tbody tr')]"
                                      ".map(tr => tr.dataset.ticket)")
            browser.close()
        # the patched table must be the page SQL holds: the 50 newest new reports, newest first
        from sqlalchemy import select

        from app.store import db
        r = db.reports
        with services.engine.connect() as conn:
            expected = list(conn.execute(select(r.c.ticket).where(r.c.status == "new")
                                         .order_by(r.c.created_at.desc(), r.c.id).limit(50)).scalars())
        result["screen_matches_sql"] = on_screen == expected
        latencies = [seen[t] - at for t, at in load.accepted.items() if t in seen]
        missed = len(load.accepted) - len(latencies)
        worst = max(latencies) if latencies else float("inf")
        counted = latencies + [worst] * missed
        result.update(accepted=len(load.accepted), shown=len(latencies), missed=missed,
                      p50_ms=round(statistics.median(counted)), p99_ms=round(_percentile(counted, 0.99)),
                      max_ms=round(max(counted)), target_p99_ms=1000)
        result["rate_held"] = len(load.accepted) >= 0.95 * args.rate * args.seconds   # the producer kept up
        result["target_met"] = (result["p99_ms"] <= 1000 and missed == 0 and result["screen_matches_sql"]
                                and result["rate_held"])
        result["baseline_reload_15s"] = {"mean_wait_ms": OLD_RELOAD_S * 500, "worst_wait_ms": OLD_RELOAD_S * 1000}
        result["load_average_1m"] = round(os.getloadavg()[0], 1)
        if trace:
            result["trace"] = _breakdown({**trace, "seen": seen}, load)
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
    print(json.dumps(result))


if __name__ == "__main__":
    main()
