"""The field officer's phone at scale, server side, on SQLite: the photo-hash lookup against 1,000,000
stored hashes (the reuse check of every after photo) and the task list of an agency with 5,000 open
tasks (the default page, a search, the overdue filter), through the same calls the screen makes
(``app.proof.similar``, ``app.staff.tasks.task_page``). Targets (issue 12): lookup p99 <= 20 ms, list
p95 <= 200 ms. The baseline of the lookup is a full scan of the same table (what an unbanded index
would do). Last line: one JSON object.

Usage: ``python bench/tugas.py [--hashes 1000000] [--tasks 5000] [--repeat 200]``
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from app import proof  # noqa: E402
from app.auth.users import StaffUser  # noqa: E402
from app.staff.tasks import TaskFilter, task_page  # noqa: E402
from app.store import db, schema  # noqa: E402,F401
from config.cities import PRESETS  # noqa: E402


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def load_hashes(engine, n: int, rng: random.Random, now: datetime) -> list[int]:
    raw = engine.raw_connection()
    kept = []
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        sql = ("INSERT INTO photo_hashes (ref, city, report_id, kind, phash, band0, band1, band2, band3, taken_at, "
               "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
        stamp = now.replace(tzinfo=None).isoformat(sep=" ")
        for start in range(0, n, 100_000):
            batch = []
            for i in range(start, min(n, start + 100_000)):
                value = rng.getrandbits(64)
                if i % 10_000 == 0:
                    kept.append(value)
                batch.append((f"{i:032x}.jpg", "jakarta", f"r{i}", "after", proof._signed(value),
                              *proof.bands_of(value), None, stamp))
            cur.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()
    return kept


def load_tasks(engine, preset, n: int, rng: random.Random, now: datetime) -> None:
    (south, west), (north, east) = preset.bounds
    rows = []
    for i in range(n * 3):           # a third the agency's open tasks, the rest other agencies' or closed
        mine = i % 3 == 0
        created = now - timedelta(hours=rng.uniform(0, 24 * 30))
        rows.append({"id": str(uuid.UUID(int=rng.getrandbits(128))), "ticket": f"JKT-B{i:07d}", "city": preset.slug,
                     "category": "garbage", "description": f"sampah menumpuk di gang {i}", "lat": rng.uniform(south, north),
                     "lng": rng.uniform(west, east), "h3_cell": "8a2a1072b59ffff", "kelurahan_code": f"K{i % 260}",
                     "kelurahan_name": f"Kelurahan {i % 260}", "kecamatan_code": f"C{i % 44}",
                     "kecamatan_name": f"Kecamatan {i % 44}", "source": "web", "photos": "[]", "attributes": "{}",
                     "status": rng.choice(["dispatched", "in_progress"]) if mine else "closed",
                     "agency": "DLH" if mine else "DSDA", "priority": "normal", "created_at": created,
                     "updated_at": created, "sla_due_at": created + timedelta(hours=72),
                     "resolved_at": None if mine else created + timedelta(hours=5), "version": 3})
    with engine.begin() as conn:
        conn.execute(db.reports.insert(), rows)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    preset = PRESETS["jakarta"]
    now = datetime.now(timezone.utc)
    rng = random.Random(12)
    with tempfile.TemporaryDirectory() as folder:
        engine = db.make_engine(f"sqlite:///{folder}/bench.db")
        db.metadata.create_all(engine)
        t0 = time.perf_counter()
        kept = load_hashes(engine, args.hashes, rng, now)
        load_s = time.perf_counter() - t0
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))

        def query():
            base = rng.choice(kept) if rng.random() < 0.5 else rng.getrandbits(64)
            for position in rng.sample(range(64), rng.randrange(0, 8)):
                base ^= 1 << position
            return proof.similar(engine, "jakarta", base, 7)
        hits = sum(1 for _ in range(50) if query())
        lookup = timed(query, args.repeat)

        def scan():
            with engine.connect() as conn:
                conn.execute(text("SELECT ref, phash FROM photo_hashes WHERE city = 'jakarta'")).fetchall()
        baseline = timed(scan, 3)
        print(f"photo hashes: {args.hashes:,} loaded in {load_s:.1f}s; lookup p50 {pct(lookup, 50):.2f} ms, "
              f"p99 {pct(lookup, 99):.2f} ms (hits in 50 half-near queries: {hits}); "
              f"full-scan baseline p50 {pct(baseline, 50):.0f} ms")

        load_tasks(engine, preset, args.tasks, rng, now)
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        officer = StaffUser("bench-officer", "agency_officer", "DLH", preset.slug)
        cases = {"default": TaskFilter(), "search_kelurahan": TaskFilter(search="kelurahan 17"),
                 "search_ticket": TaskFilter(search="JKT-B00001"), "overdue": TaskFilter(overdue=True),
                 "state_in_progress": TaskFilter(state="in_progress"), "mine": TaskFilter(mine=True)}
        lists = {}
        for name, flt in cases.items():
            total = task_page(engine, preset, officer, flt, 0, now)["total"]
            ms = timed(lambda: task_page(engine, preset, officer, flt, 3, now), max(20, args.repeat // 5))
            lists[name] = {"p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2), "total": total}
            print(f"task list {name}: total {total}, p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms")
    worst_list = max(v["p95_ms"] for v in lists.values())
    print(json.dumps({"bench": "tugas", "database": "sqlite", "hashes": args.hashes,
                      "hash_lookup_p50_ms": round(pct(lookup, 50), 2), "hash_lookup_p99_ms": round(pct(lookup, 99), 2),
                      "hash_lookup_target_ms": 20, "hash_full_scan_baseline_ms": round(pct(baseline, 50), 1),
                      "open_tasks": args.tasks, "task_list": lists, "task_list_worst_p95_ms": worst_list,
                      "task_list_target_ms": 200,
                      "met": pct(lookup, 99) <= 20 and worst_list <= 200}))


if __name__ == "__main__":
    main()
