"""/kinerja over real history: p95 per chart read over N reports spanning two years, SQLite and
PostgreSQL; the time to rebuild the rollups and to build one week's report.

Rows are generated in SQL in bulk (recursive CTE / generate_series): reports with a created and,
for four in five, an in-progress and a resolved event. Then the rollups are rebuilt from them with
the same code the persister runs, and each chart's read runs ``--runs`` times per period.

    python bench/kinerja.py [--reports 1000000] [--runs 20] [--db sqlite,postgresql] [--first-minute only|no]

And the first minute of a new install: ``make run`` on a new, empty data folder (a temporary one,
embedded Redis and SQLite, a free port), then the seconds until the wall's snapshot has cells,
the kiosk's agency ranking a score above 0 and /kinerja's charts (the Dash callback, signed in as
a supervisor) received reports and resolutions; target 60 s.

Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from app import kinerja  # noqa: E402
from app.kinerja import data  # noqa: E402
from app.store import db, migrate, rollups  # noqa: E402
from layouts import kinerja as ids  # noqa: E402

CATS = [("flood", "DSDA"), ("garbage", "DLH"), ("road_damage", "BINAMARGA"), ("street_light", "BINAMARGA"),
        ("fallen_tree", "DISTAMHUT"), ("illegal_parking", "DISHUB"), ("health", "DINKES")]
TZ = "Asia/Jakarta"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _case(expr: str, values: list[str]) -> str:
    return "CASE " + " ".join(f"WHEN {expr} = {i} THEN '{v}'" for i, v in enumerate(values)) + " END"


def generate(engine, n: int, start: datetime) -> None:
    step = int(2 * 365 * 86400 / n)
    cat = _case("(i % 7)", [c for c, _ in CATS])
    agency = _case("(i % 7)", [a for _, a in CATS])
    kec = "'K' || (i % 42)"
    if engine.dialect.name == "sqlite":
        series = f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})"
        at = lambda extra: f"datetime('{start:%Y-%m-%d %H:%M:%S}', '+' || (i * {step} + {extra}) || ' seconds')"  # noqa: E731
        src, rid = "s", "'r' || i"
    else:
        series = ""
        at = lambda extra: f"(TIMESTAMPTZ '{start.isoformat()}' + make_interval(secs => i * {step} + {extra}))"  # noqa: E731
        src, rid = f"generate_series(1, {n}) AS s(i)", "'r' || i"
    hours = "((i % 97) * 3600 + 1800)"
    with engine.begin() as conn:
        conn.execute(text(f"""{series} INSERT INTO reports (id, ticket, city, category, description, lat, lng, h3_cell,
            kecamatan_code, source, photos, attributes, status, agency, priority, created_at, updated_at, sla_due_at,
            resolved_at, version)
            SELECT {rid}, 'T' || i, 'jakarta', {cat}, '', -6.2, 106.8, '8c2a1072b59ffff', {kec}, 'bench', '[]', '{{}}',
                   CASE WHEN i % 5 = 0 THEN 'dispatched' ELSE 'resolved' END, {agency}, 'normal',
                   {at(0)}, {at(0)}, {at('172800')}, CASE WHEN i % 5 = 0 THEN NULL ELSE {at(hours)} END,
                   CASE WHEN i % 5 = 0 THEN 2 ELSE 3 END FROM {src}"""))
        conn.execute(text(f"""{series} INSERT INTO report_events (event_id, report_id, city, kind, from_status,
            to_status, version, actor, occurred_at, published)
            SELECT {rid} || '\\:created', {rid}, 'jakarta', 'created', NULL, 'new', 1, 'citizen:bench', {at(0)}, true
            FROM {src}"""))
        conn.execute(text(f"""{series} INSERT INTO report_events (event_id, report_id, city, kind, from_status,
            to_status, version, actor, occurred_at, published)
            SELECT {rid} || '\\:v2', {rid}, 'jakarta', 'status', 'verified', 'dispatched', 2, 'supervisor:s1',
                   {at('900')}, true FROM {src}"""))
        conn.execute(text(f"""{series} INSERT INTO report_events (event_id, report_id, city, kind, from_status,
            to_status, version, actor, occurred_at, published)
            SELECT {rid} || '\\:v3', {rid}, 'jakarta', 'status', 'dispatched', 'resolved', 3,
                   'agency_officer:o' || (i % 30), {at(hours)}, true FROM {src} WHERE i % 5 <> 0"""))


CHARTS = {
    "daily": lambda e, f, today: data.per_day_by_category(e, "jakarta", f),
    "backlog": lambda e, f, today: data.backlog(e, "jakarta", f, today),
    "sla": lambda e, f, today: data.sla_by_agency_week(e, "jakarta", f),
    "durations": lambda e, f, today: data.duration_bins(e, "jakarta", f),
    "heatmap": lambda e, f, today: data.hour_of_week(e, "jakarta", f, TZ),
    "areas": lambda e, f, today: data.areas(e, "jakarta", f, {"health"}, TZ),
    "agencies": lambda e, f, today: data.agency_performance(e, "jakarta", f),
    "officers": lambda e, f, today: data.officer_performance(e, "jakarta", f),
    "honesty": lambda e, f, today: data.honesty(e, "jakarta", f),
}


def measure(engine, runs: int) -> dict:
    today = datetime.now(ZoneInfo(TZ)).date()
    out = {}
    for label, params in (("30d", {"period": "30d"}), ("365d", {"period": "365d"}),
                          ("90d_DLH", {"period": "90d", "agency": "DLH"}),
                          ("90d_kecamatan", {"period": "90d", "kecamatan": "K7"})):
        flt = kinerja.Filters.from_params(params, today)
        for chart, read in CHARTS.items():
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                read(engine, flt, today)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out[f"{label}:{chart}"] = round(times[max(0, int(len(times) * 0.95) - 1)], 1)
    return out


def run_one(url: str, n: int, runs: int, folder: str) -> dict:
    engine = db.make_engine(url)
    migrate.create_schema(engine)
    start = datetime.now(timezone.utc) - timedelta(days=730)
    t0 = time.perf_counter()
    generate(engine, n, start)
    generated = time.perf_counter() - t0
    analyze(engine)      # a bulk load leaves the planner blind; in production autovacuum analyzes
    t0 = time.perf_counter()
    days = rollups.rebuild(engine, "jakarta", TZ)
    rebuilt = time.perf_counter() - t0
    analyze(engine)
    p95 = measure(engine, runs)
    worst = max(p95.values())
    weekly_s = build_weekly(engine, folder)
    print(f"{engine.dialect.name}: {n:,} reports generated in {generated:.0f} s; rollups of {days} days rebuilt "
          f"in {rebuilt:.0f} s; worst chart p95 {worst} ms; one week's report (city and every agency, PDF and "
          f"XLSX) built in {weekly_s:.1f} s", flush=True)
    for key, value in p95.items():
        print(f"  {key:28s} p95 {value:8.1f} ms", flush=True)
    engine.dispose()
    return {"generate_s": round(generated, 1), "rebuild_s": round(rebuilt, 1), "days": days,
            "worst_p95_ms": worst, "weekly_report_s": round(weekly_s, 1), "p95_ms": p95}


def analyze(engine) -> None:
    """Statistics for the planner after a bulk load; on PostgreSQL a VACUUM too, as autovacuum would
    do soon after: otherwise it starts on the million new rows while the charts are being timed."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
        return
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def build_weekly(engine, folder) -> float:
    """Seconds to build last week's report for the city and each agency (PDF and XLSX)."""
    from types import SimpleNamespace

    from app.kinerja import weekly
    from config.cities import PRESETS
    from config.settings import Settings

    services = SimpleNamespace(engine=engine, preset=PRESETS["jakarta"],
                               settings=Settings(data_dir=Path(folder) / "weekly", city="jakarta"))
    monday = weekly.last_full_week(datetime.now(ZoneInfo(TZ)).date())
    t0 = time.perf_counter()
    files = weekly.build(services, monday)
    assert files, "no weekly report written"
    return time.perf_counter() - t0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kinerja_body(base: str, session) -> dict:
    """The /kinerja callback's request as the browser sends it, from the app's /_dash-dependencies."""
    deps = session.get(f"{base}/_dash-dependencies", timeout=30).json()
    callback = next(d for d in deps if f"{ids.graph_id('daily')}.figure" in d["output"])
    values = {"period": "30d", "agency": "all", "category": "all", "kecamatan": "all", "lang": "id"}

    def value_of(item):
        return next((v for k, v in values.items() if item["id"].endswith(k)), None)
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1)))
               for part in callback["output"].strip(".").split("...")]
    inputs = [{"id": i["id"], "property": i["property"], "value": value_of(i)} for i in callback["inputs"]]
    return {"output": callback["output"], "outputs": outputs, "inputs": inputs, "state": [],
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}


def first_minute(limit_s: float = 240.0) -> dict:
    """``make run`` on a new data folder; seconds until the wall, the kiosk's ranking and /kinerja
    show data (each polled every half second over HTTP, as their browsers would)."""
    import os
    import re
    import signal
    import subprocess

    import requests
    from sqlalchemy import exc as sqlalchemy_errors, inspect

    from app.auth.users import create_user
    from config.cities import PRESETS

    folder = Path(tempfile.mkdtemp(prefix="pantau-first-minute-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PANTAU_DATA_DIR": str(folder / "var"), "PANTAU_PORT": str(port),
           "PANTAU_LOG_LEVEL": "WARNING"}
    for name in ("REDIS_URL", "DATABASE_URL", "DATABASE_REPLICA_URL", "PANTAU_SEED_HISTORY", "PANTAU_CITY",
                 "PANTAU_CITIES"):
        env.pop(name, None)
    log = open(folder / "run.log", "w")
    t0 = time.monotonic()
    # "-o": the venv counts as installed (the bench never installs packages)
    child = subprocess.Popen(["make", "-o", f"{ROOT}/.venv/.installed", "-o", ".venv/.installed", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    seen: dict[str, float] = {}
    session, body, user = requests.Session(), None, False
    try:
        while time.monotonic() - t0 < limit_s and child.poll() is None:
            time.sleep(0.5)
            at = round(time.monotonic() - t0, 1)
            if len(seen) == 3:         # then until the whole history is seeded, for its time
                if '{"reports"' in (folder / "run.log").read_text():
                    break
                continue
            try:
                if not user:
                    if not (folder / "var" / "pantau.sqlite3").exists():
                        continue
                    engine = db.make_engine(f"sqlite:///{folder / 'var' / 'pantau.sqlite3'}")
                    if "staff_users" in inspect(engine).get_table_names():
                        create_user(engine, PRESETS["jakarta"], "benchhead", "first minute bench", "supervisor")
                        user = True
                    engine.dispose()
                    continue
                if body is None:
                    page = session.get(f"{base}/login", timeout=10).text
                    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
                    session.post(f"{base}/login", data={"csrf_token": token, "username": "benchhead",
                                                        "password": "first minute bench"}, timeout=10)
                    body = _kinerja_body(base, session)
                    session.headers["X-CSRF-Token"] = session.get(f"{base}/staff/api/session").json()["csrf_token"]
                if "wall" not in seen:
                    cells = session.get(f"{base}/wall/api/snapshot?metric=reports&window=7d", timeout=10).json()
                    if sum(cells.get("cells", {}).values()) > 0:
                        seen["wall"] = at
                if "kiosk" not in seen:
                    ranked = requests.get(f"{base}/api/public/ranking?level=agency", timeout=10).json()
                    if any((row.get("score") or 0) > 0 for row in ranked.get("ranked", [])):
                        seen["kiosk"] = at
                if "kinerja" not in seen:
                    answer = session.post(f"{base}/_dash-update-component", json=body, timeout=30).json()
                    figures = {k: v["figure"] for k, v in answer["response"].items() if "figure" in v}
                    daily, sla = figures[ids.graph_id("daily")], figures[ids.graph_id("sla")]
                    if (sum(sum(v or 0 for v in tr.get("y", [])) for tr in daily["data"]) > 0
                            and any(v is not None for tr in sla["data"] for v in tr.get("y", []))):
                        seen["kinerja"] = at
            except (requests.RequestException, ValueError, KeyError, AttributeError, StopIteration,
                    sqlalchemy_errors.DBAPIError):
                continue      # not up yet
    finally:
        try:
            os.killpg(child.pid, signal.SIGINT)      # make and the stack it started: its own group
            child.wait(timeout=60)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
        log.close()
    seeded = [json.loads(line) for line in (folder / "run.log").read_text().splitlines()
              if line.startswith('{"reports"')]
    out = {"wall_s": seen.get("wall"), "kiosk_s": seen.get("kiosk"), "kinerja_s": seen.get("kinerja"),
           "all_s": max(seen.values()) if len(seen) == 3 else None, "target_s": 60,
           "seed_s": seeded[0]["seconds"] if seeded else None}
    out["target_met"] = out["all_s"] is not None and out["all_s"] <= 60
    print(f"first minute: make run on a new data folder: wall {out['wall_s']} s, kiosk ranking {out['kiosk_s']} s, "
          f"/kinerja {out['kinerja_s']} s (whole seed {out['seed_s']} s)", flush=True)
    import shutil

    shutil.rmtree(folder, ignore_errors=True)     # the temporary folder this run made
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--first-minute", choices=("yes", "no", "only"), default="yes",
                        help="also (or only) measure a fresh make run's first minute")
    args = parser.parse_args()
    result = {"reports": args.reports, "target_p95_ms": 300}
    if args.first_minute != "no":
        result["first_minute"] = first_minute()
    if args.first_minute == "only":
        print(json.dumps(result, separators=(",", ":")))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        for name in args.db.split(","):
            if name == "sqlite":
                url = f"sqlite:///{folder}/bench.sqlite3"
            else:
                import sqlalchemy

                schema = f"bench_{uuid.uuid4().hex[:8]}"
                admin = sqlalchemy.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f"CREATE SCHEMA {schema}"))
                url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
            try:
                result[name] = run_one(url, args.reports, args.runs, folder)
            finally:
                if name != "sqlite":
                    with admin.connect() as conn:
                        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                    admin.dispose()
    result["target_met"] = all(result[n]["worst_p95_ms"] <= 300 for n in args.db.split(",")) and \
        result.get("first_minute", {}).get("target_met", True)
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
