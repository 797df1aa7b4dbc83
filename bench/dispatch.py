"""The dispatch queue at scale: a filtered page of 50 over 1,000,000 reports, on SQLite and PostgreSQL.

Rows are generated with numpy and bulk-inserted (sqlite3 ``executemany``; PostgreSQL ``COPY``), then
each filter a supervisor or officer uses is timed through ``app.staff.queue.page`` — the same call the
console and ``/staff/api/queue`` make (the page plus the capped count). Last line: one JSON object.

Usage: ``python bench/dispatch.py [--rows 1000000] [--repeat 25] [--postgres URL]``
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import h3  # noqa: E402
import numpy as np  # noqa: E402
import sqlalchemy  # noqa: E402

from app.areas import AreaIndex  # noqa: E402
from app.auth.users import StaffUser  # noqa: E402
from app.staff import queue  # noqa: E402
from app.store import db, migrate  # noqa: E402
from config.catalogue import BY_CODE  # noqa: E402
from config.cities import PRESETS  # noqa: E402

STATUSES = ["new", "verified", "dispatched", "in_progress", "resolved", "closed", "rejected", "reopened"]
STATUS_WEIGHTS = [0.08, 0.04, 0.06, 0.04, 0.10, 0.62, 0.05, 0.01]
# descriptions a search can find: a few common phrases (the text search scans words in them)
PHRASES = ["genangan air setinggi lutut", "pohon tumbang menutup jalan", "sampah menumpuk di pinggir kali",
           "lampu jalan mati sejak kemarin", "jalan berlubang dekat sekolah", "parkir liar di trotoar",
           "saluran air tersumbat", "kabel menjuntai rendah"]
COLUMNS = ["id", "ticket", "city", "category", "description", "lat", "lng", "h3_cell", "kelurahan_code",
           "kelurahan_name", "kecamatan_code", "kecamatan_name", "source", "photos", "attributes", "status",
           "agency", "priority", "created_at", "updated_at", "sla_due_at", "resolved_at", "version"]


def generate(rows: int, preset, areas, now: datetime, seed: int = 5):
    """Column arrays for ``rows`` reports spread over a year, in chunks of 100,000."""
    rng = np.random.default_rng(seed)
    cats = list(preset.category_mix)
    weights = np.array([preset.category_mix[c] for c in cats])
    weights /= weights.sum()
    area_list = areas.areas() if areas.has_areas else []
    (south, west), (north, east) = preset.bounds
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        cat_idx = rng.choice(len(cats), n, p=weights)
        status_idx = rng.choice(len(STATUSES), n, p=STATUS_WEIGHTS)
        lat = rng.uniform(south, north, n)
        lng = rng.uniform(west, east, n)
        age_s = rng.uniform(0, 365 * 86400, n)
        area_idx = rng.integers(0, max(len(area_list), 1), n)
        phrase_idx = rng.integers(0, len(PHRASES), n)
        out = []
        for i in range(n):
            category = cats[cat_idx[i]]
            entry = BY_CODE[category]
            created = now - timedelta(seconds=float(age_s[i]))
            status = STATUSES[status_idx[i]]
            area = area_list[area_idx[i]] if area_list else None
            resolved = created + timedelta(hours=entry.sla_hours * 0.8) if status in ("resolved", "closed") else None
            rid = str(uuid.UUID(int=int(rng.integers(0, 2**62)) << 64 | start + i))
            number = f"{start + i:010d}"
            out.append((rid, f"{preset.code}-{number[:5]}-{number[5:]}", preset.slug, category,
                        f"{PHRASES[phrase_idx[i]]} no {start + i}", float(lat[i]),
                        float(lng[i]), h3.latlng_to_cell(float(lat[i]), float(lng[i]), 12),
                        area.code if area else None, area.name if area else None,
                        area.district_code if area else None, area.district_name if area else None, "bench",
                        "[]", "{}", status, preset.agency_for(entry.agency_role).code, "normal", created,
                        resolved or created, created + timedelta(hours=entry.sla_hours), resolved, 1))
        yield out


def without_indexes(engine, load) -> None:
    """Bulk load with the secondary indexes dropped, then build them once (as a restore would)."""
    for index in db.reports.indexes:
        index.drop(engine)
    load()
    for index in db.reports.indexes:
        index.create(engine)


def load_sqlite(engine, chunks) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        marks = ",".join("?" * len(COLUMNS))
        sql = f"INSERT INTO reports ({','.join(COLUMNS)}) VALUES ({marks})"
        for chunk in chunks:
            cursor.executemany(sql, [tuple(v.replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime)
                                           else v for v in row) for row in chunk])
        raw.commit()
    finally:
        raw.close()


def load_postgres(engine, chunks) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY reports ({','.join(COLUMNS)}) FROM STDIN") as copy:
            for chunk in chunks:
                for row in chunk:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def cases(preset, sample_cell, sample_kelurahan, sample_ticket="JKT-0000000007"):
    supervisor = StaffUser("bench", "supervisor", None, preset.slug)
    officer = StaffUser("bench-officer", "agency_officer", "DLH", preset.slug)
    Q = queue.QueueFilter
    return {
        "all_oldest": (Q(), supervisor),
        "new_oldest": (Q(statuses=("new",)), supervisor),
        "waiting_by_category": (Q(statuses=("new", "verified", "reopened"), category="garbage"), supervisor),
        "agency_dispatched_sla_due": (Q(statuses=("dispatched",), agency="DSDA", sort="sla_due"), supervisor),
        "kelurahan": (Q(kelurahan_code=sample_kelurahan), supervisor),
        "h3_res7_cell_open": (Q(h3_cell=h3.cell_to_parent(sample_cell, 7),
                                statuses=("new", "verified", "dispatched", "in_progress")), supervisor),
        "sla_breached_sla_due": (Q(sla_state="breached", sort="sla_due"), supervisor),
        "officer_open_sla_due": (Q(statuses=("dispatched", "in_progress", "reopened"), sort="sla_due"), officer),
        "page_20_newest": (Q(sort="newest"), supervisor),
        # the console's default view (open states, action needed first) and its searches
        "console_default_work": (Q(statuses=OPEN, sort="work"), supervisor),
        "search_ticket": (Q(q=sample_ticket), supervisor),
        "search_text_open_work": (Q(statuses=OPEN, sort="work", q="pohon tumbang"), supervisor),
        "search_text_all_oldest": (Q(q="kabel menjuntai"), supervisor),
        "search_phone": (Q(q="0812 3456 7890"), supervisor),
    }


OPEN = ("new", "reopened", "verified", "dispatched", "in_progress")


def measure(engine, preset, repeat: int, now: datetime) -> dict:
    with engine.connect() as conn:
        cell, kel, ticket = conn.execute(sqlalchemy.select(db.reports.c.h3_cell, db.reports.c.kelurahan_code,
                                                           db.reports.c.ticket).limit(1)).one()
    results = {}
    for name, (flt, user) in cases(preset, cell, kel, ticket).items():
        page_no = 20 if name.startswith("page_20") else 0
        queue.page(engine, preset, flt, user, page_no, now=now)        # warm the cache once
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            queue.page(engine, preset, flt, user, page_no, now=now)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        results[name] = {"p50_ms": round(statistics.median(times), 1),
                         "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1)}
    results["p95_ms_worst"] = max(v["p95_ms"] for v in results.values())
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    preset = PRESETS["jakarta"]
    shared = (ROOT / ".." / "shared" / "data").resolve()
    areas = AreaIndex.load(preset, shared if shared.exists() else None)
    now = datetime.now(timezone.utc)
    summary = {"rows": args.rows}
    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-dispatch-"))

    engine = db.make_engine(f"sqlite:///{folder / 'bench.sqlite3'}")
    migrate.create_schema(engine)
    started = time.perf_counter()
    without_indexes(engine, lambda: load_sqlite(engine, generate(args.rows, preset, areas, now)))
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    print(f"sqlite: loaded {args.rows} rows in {time.perf_counter() - started:.1f}s", flush=True)
    summary["sqlite"] = measure(engine, preset, args.repeat, now)
    print(json.dumps(summary["sqlite"]), flush=True)
    engine.dispose()

    schema = f"pantau_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(args.postgres)
    try:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as err:
        summary["postgresql"] = {"skipped": str(err).splitlines()[0]}
    else:
        sep = "&" if "?" in args.postgres else "?"
        engine = db.make_engine(f"{args.postgres}{sep}options=-csearch_path%3D{schema}")
        try:
            migrate.create_schema(engine)
            started = time.perf_counter()
            without_indexes(engine, lambda: load_postgres(engine, generate(args.rows, preset, areas, now)))
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE reports")
            print(f"postgresql: loaded {args.rows} rows in {time.perf_counter() - started:.1f}s", flush=True)
            summary["postgresql"] = measure(engine, preset, args.repeat, now)
            print(json.dumps(summary["postgresql"]), flush=True)
        finally:
            engine.dispose()
            with admin.begin() as conn:
                conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
    summary["target_p95_ms"] = 150
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
