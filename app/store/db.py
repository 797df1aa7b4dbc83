"""The SQL system of record: tables and the idempotent writes the persister makes.

SQLAlchemy Core, one code path for SQLite and PostgreSQL (chosen by URL).
Writes are idempotent: a report or event written twice is stored once.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import (Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table,
                        Text, create_engine, event, select, text)
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from app.workflow import OPEN_STATUSES

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """Stored as UTC; always read back timezone-aware (SQLite keeps no zone)."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


_OPEN_SQL = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATUSES))


def open_reports():
    """The "still open" condition written exactly as the partial indexes are (SQLite uses a partial
    index only when the query repeats its WHERE term; bound parameters would not)."""
    return text(_OPEN_SQL)


reports = Table(
    "reports", metadata,
    Column("id", String(36), primary_key=True),
    Column("ticket", String(24), nullable=False, unique=True),
    Column("city", String(20), nullable=False),
    Column("category", String(40), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("h3_cell", String(16), nullable=False),
    Column("kelurahan_code", String(40)),
    Column("kelurahan_name", String(120)),
    Column("kecamatan_code", String(40)),
    Column("kecamatan_name", String(120)),
    Column("address", String(300)),
    Column("source", String(20), nullable=False),
    Column("source_ref", String(120)),
    Column("reporter_name", String(100)),
    Column("reporter_phone", String(30)),
    Column("reporter_email", String(254)),
    Column("photos", Text, nullable=False, default="[]"),
    Column("attributes", Text, nullable=False, default="{}"),
    Column("status", String(20), nullable=False),
    Column("agency", String(40)),
    Column("team", String(80)),
    Column("priority", String(10), nullable=False, default="normal"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sla_due_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_reports_city_created", "city", "created_at"),
    Index("ix_reports_city_status_created", "city", "status", "created_at"),
    Index("ix_reports_city_agency_status", "city", "agency", "status"),
    Index("ix_reports_city_resolved", "city", "resolved_at"),
    Index("ix_reports_h3", "h3_cell"),
    # the dispatch queue: area filters and SLA-due ordering (bench/dispatch.py)
    Index("ix_reports_city_kelurahan_created", "city", "kelurahan_code", "created_at"),
    Index("ix_reports_city_kecamatan_created", "city", "kecamatan_code", "created_at"),
    Index("ix_reports_city_status_due", "city", "status", "sla_due_at"),
    # open reports only: "SLA breached, most overdue first" and category queues walk these in order
    Index("ix_reports_open_due", "city", "sla_due_at",
          sqlite_where=text(_OPEN_SQL), postgresql_where=text(_OPEN_SQL)),
    Index("ix_reports_open_category_created", "city", "category", "created_at",
          sqlite_where=text(_OPEN_SQL), postgresql_where=text(_OPEN_SQL)),
)

# Status history and audit trail: append-only, one row per accepted change.
report_events = Table(
    "report_events", metadata,
    Column("event_id", String(80), primary_key=True),
    Column("report_id", String(36), nullable=False),
    Column("city", String(20), nullable=False),
    Column("kind", String(20), nullable=False),      # created / status
    Column("from_status", String(20)),
    Column("to_status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("actor", String(120), nullable=False),
    Column("note", Text),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("published", Boolean, nullable=False, default=False),  # outbox flag: on the stream yet?
    Index("ix_events_report", "report_id", "version"),
    Index("ix_events_unpublished", "published", "occurred_at"),
)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")     # readers never block the persister
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA mmap_size=268435456")  # index pages read in place, not copied (photo-hash lookup)
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _insert_ignore(engine: Engine, table: Table):
    """INSERT that skips a row whose primary key exists (any other conflict still raises)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=[c.name for c in table.primary_key])


# Written with the reports by ``write_reports``; read by app.duplicates and app.reporter_secret.
report_links = Table(
    "report_links", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("linked_id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),           # likely_duplicate
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_report_links_linked", "linked_id"),
)

reporter_secrets = Table(
    "reporter_secrets", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("secret_hash", String(64), nullable=False),    # sha256 hex of the secret
)


def report_row(report) -> dict:
    return {
        "id": report.id, "ticket": report.ticket, "city": report.city, "category": report.category,
        "description": report.description, "lat": report.lat, "lng": report.lng,
        "h3_cell": report.h3_cell, "kelurahan_code": report.kelurahan_code,
        "kelurahan_name": report.kelurahan_name, "kecamatan_code": report.kecamatan_code,
        "kecamatan_name": report.kecamatan_name, "address": report.address,
        "source": report.source, "source_ref": report.source_ref,
        "reporter_name": report.contact.name, "reporter_phone": report.contact.phone,
        "reporter_email": report.contact.email, "photos": json.dumps(list(report.photos)),
        "attributes": json.dumps(report.attributes), "status": report.status,
        "agency": report.agency, "team": report.team, "priority": report.priority,
        "created_at": report.created_at, "updated_at": report.resolved_at or report.created_at,
        "sla_due_at": report.sla_due_at, "resolved_at": report.resolved_at, "version": report.version,
    }


def _sqlite_value(value):
    """A bound value as SQLAlchemy's SQLite dialect stores it (the bulk path bypasses its types)."""
    if isinstance(value, datetime):      # "%Y-%m-%d %H:%M:%S.%f" in UTC; isoformat is a quarter quicker
        if value.tzinfo is not timezone.utc:
            value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, bool):
        return int(value)
    return value


def _pg_stage(conn, table: Table, rows: list[dict]) -> tuple[str, str]:
    """PostgreSQL: ``COPY`` the rows into a temporary table shaped like ``table``; answers its name
    and the column list."""
    columns = list(rows[0])      # the columns the rows give; the others keep their defaults
    names = ", ".join(f'"{c}"' for c in columns)
    stage = f"_stage_{table.name}"
    conn.exec_driver_sql(f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" '
                         f'(LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS')
    conn.exec_driver_sql(f'DELETE FROM "{stage}"')
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row.get(c) for c in columns])
    return stage, names


# SQLite's word index (``reports_fts``, made by ``app.store.search``) of a batch's reports that are not
# in it yet, in one statement after their insert: a row already indexed (a redelivered batch) is
# skipped, so each report is indexed exactly once.
SQLITE_INDEX_NEW_WORDS = (
    "INSERT INTO reports_fts(rowid, description, address) "
    "SELECT r.rowid, r.description, r.address FROM json_each(?) AS j JOIN reports AS r ON r.id = j.value "
    "WHERE NOT EXISTS (SELECT 1 FROM reports_fts_docsize AS d WHERE d.id = r.rowid)")


def bulk_insert_ignore(conn, table: Table, rows: list[dict]) -> None:
    """Insert many rows, skipping any whose primary key (or other unique key) exists: the
    persister's write. One prepared statement run over every row (SQLite: ``executemany`` on the
    driver, without SQLAlchemy's per-row parameter processing); PostgreSQL: ``COPY`` into a
    temporary table, then one ``INSERT … SELECT … ON CONFLICT DO NOTHING``. Reports written on SQLite
    are added to its word index in the same transaction (``SQLITE_INDEX_NEW_WORDS``)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        stage, names = _pg_stage(conn, table, rows)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{stage}" '
                             f'ON CONFLICT DO NOTHING')
        return
    if conn.dialect.name != "sqlite":
        conn.execute(_insert_ignore(conn.engine, table), rows)
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    keys = ", ".join(f'"{c.name}"' for c in table.primary_key)
    marks = ", ".join("?" for _ in columns)
    # Only the date/time and boolean columns need converting: the others go to the driver as they are.
    kinds = [getattr(table.c[c].type, "impl", table.c[c].type) if c in table.c else None for c in columns]
    convert = [i for i, kind in enumerate(kinds) if kind is None or isinstance(kind, (DateTime, Boolean))]
    values = [[row.get(c) for c in columns] for row in rows]
    for i in convert:
        for value in values:
            if value[i] is not None:
                value[i] = _sqlite_value(value[i])
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}) ON CONFLICT ({keys}) DO NOTHING',
                         [tuple(value) for value in values])
    if table is reports:
        # every bulk write of reports (the persister's, a restore's, a bench's) indexes their words
        conn.exec_driver_sql(SQLITE_INDEX_NEW_WORDS, (json.dumps([row["id"] for row in rows]),))


def _insert_reports(conn, report_rows: list[dict], event_rows: list[dict]) -> None:
    """The reports and their ``created`` events, each once. On PostgreSQL a report goes in only if
    its created event did (one statement): the event's key is the report id alone, while a
    partitioned ``reports`` (``app.store.partitioning``) can only be unique on (id, city,
    created_at), so a source re-sending a report with another time is still skipped."""
    if conn.dialect.name != "postgresql":
        bulk_insert_ignore(conn, reports, report_rows)
        bulk_insert_ignore(conn, report_events, event_rows)
        return
    report_stage, report_names = _pg_stage(conn, reports, report_rows)
    event_stage, event_names = _pg_stage(conn, report_events, event_rows)
    conn.exec_driver_sql(
        f'WITH fresh AS (INSERT INTO report_events ({event_names}) SELECT {event_names} FROM "{event_stage}" '
        f'ON CONFLICT DO NOTHING RETURNING report_id) '
        f'INSERT INTO reports ({report_names}) SELECT {report_names} FROM "{report_stage}" '
        f'WHERE id IN (SELECT report_id FROM fresh) ON CONFLICT DO NOTHING')


def write_reports(engine: Engine, created: list) -> None:
    """Persist new reports (``Report`` values) in one transaction; a repeat is a no-op.

    Status changes are not written here: ``app.followup.change_report`` commits them before
    their event reaches the stream.
    """
    if created:
        with engine.begin() as conn:
            insert_reports(conn, created)


def insert_reports(conn, created: list) -> None:
    """``write_reports`` inside the caller's transaction (the persister adds its rollup marks to it)."""
    if not created:
        return
    first: dict[str, object] = {}
    for report in created:       # a batch holding one report twice (a source re-sending it): the first
        first.setdefault(report.id, report)
    created = list(first.values())
    _insert_reports(conn, [report_row(r) for r in created], [{
        "event_id": f"{r.id}:created", "report_id": r.id, "city": r.city, "kind": "created",
        "from_status": None, "to_status": r.status, "version": r.version,
        "actor": f"citizen:{r.source}", "note": None, "occurred_at": r.created_at,
        "published": True,
    } for r in created])
    # Likely duplicates found when the report was accepted: a hint for staff, kept with it.
    bulk_insert_ignore(conn, report_links, [
        {"report_id": r.id, "linked_id": other, "kind": "likely_duplicate", "created_at": r.created_at}
        for r in created for other in r.duplicate_of])
    # The reporter's secret, hashed (app.reporter_secret): kept with the report, never shown.
    bulk_insert_ignore(conn, reporter_secrets, [{"report_id": r.id, "secret_hash": r.secret_hash}
                                                for r in created if r.secret_hash])


def count_reports(engine: Engine, city: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(text("count(*)")).select_from(reports)
                            .where(reports.c.city == city)).scalar_one()


def iter_aggregate_rows(engine: Engine, city: str, chunk: int = 20000):
    """(id, h3_cell, category, created_at, status, version, resolved_at, sla_due_at) for rebuild."""
    query = (select(reports.c.id, reports.c.h3_cell, reports.c.category, reports.c.created_at,
                    reports.c.status, reports.c.version, reports.c.resolved_at, reports.c.sla_due_at)
             .where(reports.c.city == city).order_by(reports.c.created_at, reports.c.id))
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
        for row in result:
            yield row


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
