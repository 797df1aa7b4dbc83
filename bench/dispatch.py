"""The dispatch queue at scale: a filtered page of 50 over 1,000,000 reports, on SQLite and PostgreSQL.

100,000 rows are generated with numpy and bulk-inserted (sqlite3 ``executemany``; PostgreSQL ``COPY``)
and grown to ``--rows`` inside the database, in one transaction, the indexes and the word index built
after the load (``build_sqlite``, ``build_postgres``). The SQLite database is kept under
``var/bench/`` keyed by size, generator and schema, so a rerun skips the load; PostgreSQL loads into a
schema of its own, dropped at the end. Then each filter a supervisor or officer uses is timed through ``app.staff.queue.page`` — the same call the
console and ``/staff/api/queue`` make (the page plus the capped count). Last line: one JSON object.

Usage: ``python bench/dispatch.py [--rows 1000000] [--repeat 25] [--postgres URL] [--only sqlite|postgresql]
[--fresh]``
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
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
from app.store import db, migrate, search  # noqa: E402
from config.catalogue import BY_CODE  # noqa: E402
from config.cities import PRESETS  # noqa: E402

STATUSES = ["new", "verified", "dispatched", "in_progress", "resolved", "closed", "rejected", "reopened"]
STATUS_WEIGHTS = [0.08, 0.04, 0.06, 0.04, 0.10, 0.62, 0.05, 0.01]
# descriptions a search can find: a few common phrases (the text search scans words in them)
PHRASES = ["genangan air setinggi lutut", "pohon tumbang menutup jalan", "sampah menumpuk di pinggir kali",
           "lampu jalan mati sejak kemarin", "jalan berlubang dekat sekolah", "parkir liar di trotoar",
           "saluran air tersumbat", "kabel menjuntai rendah"]
# street names: a rarer word a search may name ("jalan kenari"), one in 400 reports each
STREETS = [f"{a}{b}" for a in ("kenari", "melati", "mawar", "cempaka", "kamboja", "flamboyan", "anggrek", "dahlia",
                               "kenanga", "teratai", "seroja", "bougenvil", "tanjung", "cendana", "jati", "mahoni",
                               "beringin", "asem", "duku", "salak")
           for b in ("", " raya", " timur", " barat", " utara", " selatan", " dalam", " baru", " lama", " indah",
                     " permai", " asri", " jaya", " sari", " makmur", " lestari", " damai", " sentosa", " mulia",
                     " abadi")]
COLUMNS = ["id", "ticket", "city", "category", "description", "lat", "lng", "h3_cell", "kelurahan_code",
           "kelurahan_name", "kecamatan_code", "kecamatan_name", "address", "source", "reporter_phone", "photos",
           "attributes", "status", "agency", "priority", "created_at", "updated_at", "sla_due_at", "resolved_at",
           "version"]


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
        street_idx = rng.integers(0, len(STREETS), n)
        phones = rng.integers(10**9, 10**10, n)       # 0812xxxxxxxxx-like numbers for a third of the reports
        with_phone = rng.random(n) < 0.33
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
                        f"{PHRASES[phrase_idx[i]]} di jalan {STREETS[street_idx[i]]} no {start + i}", float(lat[i]),
                        float(lng[i]), h3.latlng_to_cell(float(lat[i]), float(lng[i]), 12),
                        area.code if area else None, area.name if area else None,
                        area.district_code if area else None, area.district_name if area else None,
                        f"Jl. {STREETS[street_idx[i]].title()} {i % 200 + 1}", "bench",
                        f"+62 8{int(phones[i]):010d}"[:16] if with_phone[i] else None,
                        "[]", "{}", status, preset.agency_for(entry.agency_role).code, "normal", created,
                        resolved or created, created + timedelta(hours=entry.sla_hours), resolved, 1))
        yield out


def _own_indexes(engine) -> list:
    """The reports' indexes this database has (the GIN word index is PostgreSQL's only)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # SQLite cannot reflect the expression index: named below
        names = {i["name"] for i in sqlalchemy.inspect(engine).get_indexes("reports")}
    return [i for i in db.reports.indexes if i.name in names or i.name == "ix_reports_city_phone_tail"]


def _index_sql(index, engine) -> str:
    from sqlalchemy.schema import CreateIndex

    return str(CreateIndex(index).compile(dialect=engine.dialect))


SEED = 100_000     # generated in Python; the rest copied inside the database (C speed) with new ids


def _replicate_sql(dialect: str, rows: int) -> list[str]:
    """Grow the ``SEED`` generated reports to ``rows`` by copying them inside the database, each copy
    with its own id and ticket (its number + k × SEED), the same times, places and words."""
    copies = -(-rows // SEED) - 1
    sqlite = dialect == "sqlite"
    number = ("cast(replace(substr(ticket, 5), '-', '') as integer)" if sqlite
              else "replace(substr(ticket, 5), '-', '')::bigint")
    cols = [c for c in COLUMNS if c not in ("id", "ticket")]
    out = []
    for k in range(1, copies + 1):
        n = f"({number} + {k * SEED})"
        digits = f"printf('%010d', {n})" if sqlite else f"lpad({n}::text, 10, '0')"
        hexed = f"printf('%012x', {n})" if sqlite else f"lpad(to_hex({n}), 12, '0')"
        out.append(f"INSERT INTO reports (id, ticket, {', '.join(cols)}) "
                   f"SELECT substr(id, 1, 24) || {hexed}, substr(ticket, 1, 4) || substr({digits}, 1, 5) || '-' || "
                   f"substr({digits}, 6, 5), {', '.join(cols)} FROM reports WHERE {number} < {SEED} "
                   f"AND {n} < {rows}")
    return out


def _phase(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label}: {now - started:.1f}s", flush=True)
    return now


def build_sqlite(path: Path, rows: int, preset, areas, now: datetime) -> None:
    """The schema made by the app, then one transaction on one connection with the journal and syncs
    off and a large page cache: the secondary indexes and word-index triggers dropped, ``SEED`` rows
    by ``executemany``, the rest copied in SQL, the indexes and the FTS5 index built once, ANALYZE."""
    import sqlite3

    engine = db.make_engine(f"sqlite:///{path}")
    try:
        migrate.create_schema(engine)
        indexes = [(i.name, _index_sql(i, engine)) for i in _own_indexes(engine)]
    finally:
        engine.dispose()
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY",
                       "locking_mode=EXCLUSIVE"):
            raw.execute(f"PRAGMA {pragma}")
        t = time.perf_counter()
        raw.execute("BEGIN")
        for name, _ in indexes:
            raw.execute(f'DROP INDEX IF EXISTS "{name}"')
        for name in search.FTS_TRIGGERS:
            raw.execute(f"DROP TRIGGER IF EXISTS {name}")
        sql = f"INSERT INTO reports ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})"
        for chunk in generate(min(rows, SEED), preset, areas, now):
            raw.executemany(sql, [tuple(v.replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime)
                                        else v for v in row) for row in chunk])
        t = _phase(f"{min(rows, SEED)} generated and inserted", t)
        for statement in _replicate_sql("sqlite", rows):
            raw.execute(statement)
        t = _phase(f"grown to {rows}", t)
        for _, ddl in indexes:
            raw.execute(ddl)
        t = _phase(f"{len(indexes)} indexes", t)
        for statement in search.FTS_DDL:
            raw.execute(statement)
        raw.execute("INSERT INTO reports_fts(reports_fts) VALUES ('rebuild')")
        t = _phase("word index (FTS5)", t)
        raw.execute("ANALYZE")
        raw.execute("COMMIT")
        _phase("ANALYZE", t)
    finally:
        raw.close()


def build_postgres(engine, rows: int, preset, areas, now: datetime) -> None:
    """The same in PostgreSQL: one transaction, ``SEED`` rows by ``COPY``, the rest in SQL, then the
    indexes (with a large ``maintenance_work_mem``), ANALYZE."""
    migrate.create_schema(engine)
    indexes = [(i.name, _index_sql(i, engine)) for i in _own_indexes(engine)]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        t = time.perf_counter()
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        cursor.execute("SET LOCAL synchronous_commit = off")
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        with cursor.copy(f"COPY reports ({','.join(COLUMNS)}) FROM STDIN") as copy:
            for chunk in generate(min(rows, SEED), preset, areas, now):
                for row in chunk:
                    copy.write_row(row)
        t = _phase(f"{min(rows, SEED)} generated and copied", t)
        for statement in _replicate_sql("postgresql", rows):
            cursor.execute(statement)
        t = _phase(f"grown to {rows}", t)
        for _, ddl in indexes:
            cursor.execute(ddl)
        t = _phase(f"{len(indexes)} indexes", t)
        raw.commit()
        cursor.execute("ANALYZE reports")
        raw.commit()
        _phase("ANALYZE", t)
    finally:
        raw.close()


def _spoken(phone: str) -> str:
    """+62 8123456789 as a caller reads it: 0812 3456 789."""
    digits = "0" + phone.replace("+62", "").replace(" ", "")
    return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))


def cases(preset, sample_cell, sample_kelurahan, sample_ticket, sample_phone):
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
        "search_ticket_spoken": (Q(q=sample_ticket.split("-", 1)[1].replace("-", " ")), supervisor),
        "search_text_open_work": (Q(statuses=OPEN, sort="work", q="pohon tumbang"), supervisor),
        "search_text_all_oldest": (Q(q="kabel menjuntai"), supervisor),
        "search_text_rare_open_work": (Q(statuses=OPEN, sort="work", q="kenari timur"), supervisor),
        "search_text_street_all": (Q(q="jalan melati raya"), supervisor),
        "search_text_none": (Q(statuses=OPEN, sort="work", q="tidak ada kata ini"), supervisor),
        "search_phone": (Q(q=_spoken(sample_phone)), supervisor),
        "search_phone_unknown": (Q(q="0812 0000 0001"), supervisor),
    }


SELECTED = None
OPEN = ("new", "reopened", "verified", "dispatched", "in_progress")


def measure(engine, preset, repeat: int, now: datetime) -> dict:
    r = db.reports
    with engine.connect() as conn:
        cell, kel, ticket = conn.execute(sqlalchemy.select(r.c.h3_cell, r.c.kelurahan_code,
                                                           r.c.ticket).limit(1)).one()
        phone = conn.execute(sqlalchemy.select(r.c.reporter_phone).where(r.c.reporter_phone.is_not(None))
                             .limit(1)).scalar_one()
    results = {}
    for name, (flt, user) in cases(preset, cell, kel, ticket, phone).items():
        if SELECTED and name not in SELECTED:
            continue
        page_no = 20 if name.startswith("page_20") else 0
        queue.page(engine, preset, flt, user, page_no, now=now)        # warm the cache once
        times, cpu = [], []
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            queue.page(engine, preset, flt, user, page_no, now=now)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        times.sort()
        cpu.sort()
        results[name] = {"p50_ms": round(statistics.median(times), 1),
                         "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1)}
        if engine.dialect.name == "sqlite":
            # SQLite runs in this process: its CPU time is the query's cost, whatever else the machine runs
            results[name]["cpu_p95_ms"] = round(cpu[min(len(cpu) - 1, int(0.95 * len(cpu)))], 1)
    cases_only = [v for v in results.values() if isinstance(v, dict)]
    results["p95_ms_worst"] = max(v["p95_ms"] for v in cases_only)
    if engine.dialect.name == "sqlite":
        results["cpu_p95_ms_worst"] = max(v["cpu_p95_ms"] for v in cases_only)
    results["load_average_1m"] = round(__import__("os").getloadavg()[0], 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--fresh", action="store_true", help="SQLite: build the cached database again")
    args = parser.parse_args()
    global SELECTED
    SELECTED = set(args.cases.split(",")) if args.cases else None
    preset = PRESETS["jakarta"]
    shared = (ROOT / ".." / "shared" / "data").resolve()
    areas = AreaIndex.load(preset, shared if shared.exists() else None)
    now = datetime.now(timezone.utc)
    summary = {"rows": args.rows}
    if args.only != "postgresql":
        summary["sqlite"] = run_sqlite(args, preset, areas, now)
    if args.only != "sqlite":
        summary["postgresql"] = run_postgres(args, preset, areas, now)
    summary["target_p95_ms"] = 150
    print(json.dumps(summary))


CACHE = ROOT / "var" / "bench"


def _cache_key(rows: int) -> str:
    """A loaded database is reused while the generator and the schema stay the same."""
    import hashlib

    import inspect

    versions = sorted(p.name for p in (ROOT / "app" / "store" / "migrations" / "versions").glob("*.py"))
    source = "".join(inspect.getsource(f) for f in (generate, _replicate_sql, build_sqlite))
    made = hashlib.sha1((source + repr((versions, COLUMNS, PHRASES, STREETS, STATUSES, STATUS_WEIGHTS, SEED)))
                        .encode()).hexdigest()[:10]
    return f"dispatch-{rows}-{made}"


def run_sqlite(args, preset, areas, now) -> dict:
    """Against ``var/bench/dispatch-<rows>-<key>.sqlite3``, built once (``--fresh`` builds it again)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{_cache_key(args.rows)}.sqlite3"
    if args.fresh and path.exists():
        path.unlink()
    loaded_s = None
    if not path.exists():
        for old in CACHE.glob(f"dispatch-{args.rows}-*.sqlite3*"):
            old.unlink()                                   # an older generator's or schema's
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        started = time.perf_counter()
        print(f"sqlite: loading {args.rows} rows into {path}", flush=True)
        build_sqlite(partial, args.rows, preset, areas, now)
        partial.rename(path)
        loaded_s = round(time.perf_counter() - started, 1)
        print(f"sqlite: loaded {args.rows} rows in {loaded_s}s", flush=True)
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        migrate.create_schema(engine)
        result = measure(engine, preset, args.repeat, now)
        result["load_s"] = loaded_s if loaded_s is not None else "cached"
        print(json.dumps(result), flush=True)
        return result
    finally:
        engine.dispose()


def run_postgres(args, preset, areas, now) -> dict:
    """In a schema of its own, created, loaded and dropped by this run."""
    schema = f"pantau_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(args.postgres)
    try:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as err:
        admin.dispose()
        return {"skipped": str(err).splitlines()[0]}
    sep = "&" if "?" in args.postgres else "?"
    engine = db.make_engine(f"{args.postgres}{sep}options=-csearch_path%3D{schema}")
    try:
        started = time.perf_counter()
        print(f"postgresql: loading {args.rows} rows into schema {schema}", flush=True)
        build_postgres(engine, args.rows, preset, areas, now)
        loaded_s = round(time.perf_counter() - started, 1)
        print(f"postgresql: loaded {args.rows} rows in {loaded_s}s", flush=True)
        result = measure(engine, preset, args.repeat, now)
        result["load_s"] = loaded_s
        print(json.dumps(result), flush=True)
        return result
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
