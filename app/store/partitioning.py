"""PostgreSQL past one table: ``reports`` partitioned by city, then by month of creation.

Opt-in, PostgreSQL only (SQLite keeps its one table)::

    python -m app.store.partitioning apply --cities jakarta,kupang   # once; moves the rows over
    python -m app.store.partitioning ensure --cities jakarta,kupang  # monthly partitions ahead
    python -m app.store.partitioning status

``reports`` becomes ``PARTITION BY LIST (city)``; each city's partition ``reports_<city>`` is
``PARTITION BY RANGE (created_at)`` with one partition per month (``reports_<city>_YYYYMM``) and a
default one for any other time, plus ``reports_other`` for a city not listed, so an insert never
fails. Every query of a city names it (``WHERE city = …``, the dispatch queue, the public figures),
so PostgreSQL reads only that city's partitions, and a time window (the kiosk's, the public API's
``start_date``) only its months: ``tests/app/store/test_partitioning.py`` checks it with EXPLAIN.

What changes for the table: a partitioned table's primary key must hold the partition keys, so
it is ``(id, city, created_at)`` (a report's city and creation time never change, so a
redelivered report still conflicts and is skipped: ``db.bulk_insert_ignore``); the ticket keeps a
plain index (tickets come from the id). Indexes defined on ``db.reports`` are created on the
partitioned table and so on every partition.

``ensure`` should run ahead of time (monthly, or with the jobs process): a month's partition
cannot be created once its rows already sit in the default partition.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date

from sqlalchemy import text

from app.store import db
from config.settings import Settings

MONTHS_BACK, MONTHS_AHEAD = 24, 3


def _ident(city: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", city):
        raise ValueError(f"city slug {city!r} cannot name a partition")
    return city


def _month(d: date, shift: int) -> date:
    index = d.year * 12 + d.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def is_partitioned(conn) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'reports' AND c.relnamespace = to_regnamespace(current_schema())::oid")).first())


def partitions(conn) -> list[str]:
    """Every leaf and branch partition of ``reports``, by name."""
    return [row[0] for row in conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE (p.relname = 'reports' OR p.relname LIKE 'reports\\_%') "
        "AND c.relnamespace = to_regnamespace(current_schema())::oid ORDER BY 1"))]


def _ensure_city(conn, city: str, today: date, back: int, ahead: int) -> int:
    city = _ident(city)
    made = 0
    conn.execute(text(
        f"CREATE TABLE IF NOT EXISTS reports_{city} PARTITION OF reports FOR VALUES IN ('{city}') "
        f"PARTITION BY RANGE (created_at)"))
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS reports_{city}_default PARTITION OF reports_{city} DEFAULT"))
    existing = set(partitions(conn))
    for shift in range(-back, ahead + 1):
        start, end = _month(today, shift), _month(today, shift + 1)
        name = f"reports_{city}_{start:%Y%m}"
        if name in existing:
            continue
        conn.execute(text(f"CREATE TABLE {name} PARTITION OF reports_{city} "
                          f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"))
        made += 1
    return made


def apply(engine, cities: list[str], today: date | None = None, back: int = MONTHS_BACK,
          ahead: int = MONTHS_AHEAD) -> dict:
    """Turn ``reports`` into the partitioned table (rows moved over in one transaction), or, when it
    already is, add what is missing. PostgreSQL only."""
    if engine.dialect.name != "postgresql":
        raise ValueError("partitioning is for PostgreSQL; SQLite keeps one reports table")
    today = today or date.today()
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(7370617274)"))    # one migrator at a time
        moved = None
        if not is_partitioned(conn):
            conn.execute(text("LOCK TABLE reports IN ACCESS EXCLUSIVE MODE"))
            conn.execute(text("ALTER TABLE reports RENAME TO reports_unpartitioned"))
            conn.execute(text("ALTER INDEX reports_pkey RENAME TO reports_unpartitioned_pkey"))
            for index in db.reports.indexes:
                conn.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
            conn.execute(text("CREATE TABLE reports (LIKE reports_unpartitioned INCLUDING DEFAULTS) "
                              "PARTITION BY LIST (city)"))
            conn.execute(text("ALTER TABLE reports ADD PRIMARY KEY (id, city, created_at)"))
            conn.execute(text("CREATE TABLE reports_other PARTITION OF reports DEFAULT"))
            for city in cities:
                _ensure_city(conn, city, today, back, ahead)
            for index in db.reports.indexes:
                index.create(conn)
            conn.execute(text("CREATE INDEX ix_reports_ticket ON reports (ticket)"))
            moved = conn.execute(text("INSERT INTO reports SELECT * FROM reports_unpartitioned")).rowcount
            conn.execute(text("DROP TABLE reports_unpartitioned"))
            made = None
        else:
            made = sum(_ensure_city(conn, city, today, back, ahead) for city in cities)
        return {"partitioned": True, "rows_moved": moved, "partitions_added": made,
                "partitions": len(partitions(conn))}


def ensure(engine, cities: list[str], today: date | None = None, ahead: int = MONTHS_AHEAD) -> int:
    """Add the coming months' partitions (no-op on SQLite or an unpartitioned table)."""
    if engine.dialect.name != "postgresql":
        return 0
    with engine.begin() as conn:
        if not is_partitioned(conn):
            return 0
        return sum(_ensure_city(conn, city, today or date.today(), 0, ahead) for city in cities)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.store.partitioning", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["apply", "ensure", "status"])
    parser.add_argument("--cities", help="comma-separated city slugs (default: the install's city)")
    parser.add_argument("--months-back", type=int, default=MONTHS_BACK)
    parser.add_argument("--months-ahead", type=int, default=MONTHS_AHEAD)
    args = parser.parse_args(argv)
    settings = Settings.for_command()
    engine = db.make_engine(settings.resolved_database_url())
    cities = (args.cities or settings.city).split(",")
    try:
        if args.command == "apply":
            print(json.dumps(apply(engine, cities, back=args.months_back, ahead=args.months_ahead)))
        elif args.command == "ensure":
            print(json.dumps({"partitions_added": ensure(engine, cities, ahead=args.months_ahead)}))
        else:
            if engine.dialect.name != "postgresql":
                print(json.dumps({"partitioned": False, "partitions": []}))
            else:
                with engine.connect() as conn:
                    print(json.dumps({"partitioned": is_partitioned(conn),
                                      "partitions": partitions(conn) if is_partitioned(conn) else []}))
    except ValueError as err:
        sys.exit(f"pantau partitioning: {err}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
