"""The SQL system of record: tables and the idempotent writes the persister makes.

SQLAlchemy Core, one code path for SQLite and PostgreSQL (chosen by URL).
Writes are idempotent: a report or event written twice is stored once.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import (Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table,
                        Text, create_engine, event, select, text, update)
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


# Written with the reports by ``write_batch``; read by app.duplicates and app.reporter_secret.
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


def write_batch(engine: Engine, created: list, status_events: list[dict]) -> None:
    """Persist new reports and status events in one transaction; repeats are no-ops.

    ``created`` holds ``Report`` values; ``status_events`` dicts with event_id,
    report_id, city, from_status, to_status, version, actor, note, occurred_at
    and the report fields that change (agency, team, priority, sla_due_at).
    """
    with engine.begin() as conn:
        if created:
            conn.execute(_insert_ignore(engine, reports), [report_row(r) for r in created])
            conn.execute(_insert_ignore(engine, report_events), [{
                "event_id": f"{r.id}:created", "report_id": r.id, "city": r.city, "kind": "created",
                "from_status": None, "to_status": r.status, "version": r.version,
                "actor": f"citizen:{r.source}", "note": None, "occurred_at": r.created_at,
                "published": True,
            } for r in created])
            # Likely duplicates found when the report was accepted: a hint for staff, kept with it.
            links = [{"report_id": r.id, "linked_id": other, "kind": "likely_duplicate",
                      "created_at": r.created_at} for r in created for other in r.duplicate_of]
            if links:
                conn.execute(_insert_ignore(engine, report_links), links)
            # The reporter's secret, hashed (app.reporter_secret): kept with the report, never shown.
            secrets_rows = [{"report_id": r.id, "secret_hash": r.secret_hash} for r in created if r.secret_hash]
            if secrets_rows:
                conn.execute(_insert_ignore(engine, reporter_secrets), secrets_rows)
        for change in status_events:
            conn.execute(_insert_ignore(engine, report_events), [{
                "event_id": change["event_id"], "report_id": change["report_id"],
                "city": change["city"], "kind": change.get("kind", "status"), "from_status": change["from_status"],
                "to_status": change["to_status"], "version": change["version"],
                "actor": change["actor"], "note": change.get("note"),
                "occurred_at": change["occurred_at"], "published": True,
            }])
            values = {"status": change["to_status"], "version": change["version"],
                      "updated_at": change["occurred_at"],
                      "resolved_at": change.get("resolved_at")}
            for optional in ("agency", "team", "priority", "sla_due_at"):
                if optional in change:
                    values[optional] = change[optional]
            # Only a newer version moves the row: redelivered or stale events change nothing.
            conn.execute(update(reports)
                         .where(reports.c.id == change["report_id"], reports.c.version < change["version"])
                         .values(**values))


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
