"""/kinerja over real history: p95 per chart read over N reports spanning two years, SQLite and
PostgreSQL; the time to rebuild the rollups and to build one week's report.

Rows are generated in SQL in bulk (recursive CTE / generate_series): reports with a created and,
for four in five, an in-progress and a resolved event. Then the rollups are rebuilt from them with
the same code the persister runs, and each chart's read runs ``--runs`` times per period.

    python bench/kinerja.py [--reports 1000000] [--runs 20] [--db sqlite,postgresql]

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    result = {"reports": args.reports, "target_p95_ms": 300}
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
    result["target_met"] = all(result[n]["worst_p95_ms"] <= 300 for n in args.db.split(","))
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
