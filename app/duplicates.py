"""Likely duplicates: a new report near an open one of the same category within a day.

"Near" is the same or an adjacent H3 resolution-9 cell (~175 m across). A
link is recorded for staff (``report_links``); a citizen shown the existing
report may support it instead of filing again (``report_supporters``, one
row per supporter so a count cannot be inflated by repeats).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import h3
from sqlalchemy import Column, Index, String, Table, func, select

from app.store import db
from app.store.db import UTCDateTime, metadata
from app.workflow import Status

WINDOW = timedelta(hours=24)
RESOLUTION = 9
OPEN_STATUSES = tuple(s.value for s in Status if s not in (Status.RESOLVED, Status.CLOSED, Status.REJECTED))

report_links = Table(
    "report_links", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("linked_id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),           # likely_duplicate
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_report_links_linked", "linked_id"),
)

report_supporters = Table(
    "report_supporters", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("supporter", String(64), primary_key=True),    # a hash: never who they are
    Column("created_at", UTCDateTime, nullable=False),
)


def neighbourhood(lat: float, lng: float) -> list[str]:
    """The res-9 cell of a point and its ring of neighbours."""
    return list(h3.grid_disk(h3.latlng_to_cell(lat, lng, RESOLUTION), 1))


def find_likely_duplicates(engine, city: str, category: str, lat: float, lng: float,
                           now: datetime | None = None, limit: int = 3) -> list[dict]:
    """Open reports of ``category`` near (lat, lng) created in the last 24 h, newest first."""
    now = now or datetime.now(timezone.utc)
    cells = set(neighbourhood(lat, lng))
    # ~0.01 degree (~1.1 km) box around the point narrows the SQL query; cells decide.
    box = 0.01
    query = (select(db.reports.c.id, db.reports.c.ticket, db.reports.c.h3_cell, db.reports.c.created_at,
                    db.reports.c.status, db.reports.c.category)
             .where(db.reports.c.city == city, db.reports.c.category == category,
                    db.open_reports(), db.reports.c.created_at >= now - WINDOW,
                    db.reports.c.lat.between(lat - box, lat + box),
                    db.reports.c.lng.between(lng - box, lng + box))
             .order_by(db.reports.c.created_at.desc()).limit(50))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    found = [r for r in rows if h3.cell_to_parent(r.h3_cell, RESOLUTION) in cells]
    return [{"id": r.id, "ticket": r.ticket, "created_at": r.created_at, "status": r.status,
             "category": r.category, "supporters": supporter_count(engine, r.id)} for r in found[:limit]]


def link_likely_duplicate(engine, report_id: str, existing_ids: list[str],
                          now: datetime | None = None) -> None:
    """Record for staff that ``report_id`` probably repeats the existing reports."""
    if not existing_ids:
        return
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(db._insert_ignore(engine, report_links),
                     [{"report_id": report_id, "linked_id": other, "kind": "likely_duplicate",
                       "created_at": now} for other in existing_ids if other != report_id])


def links_of(engine, report_id: str) -> list[str]:
    with engine.connect() as conn:
        return [r.linked_id for r in conn.execute(
            select(report_links.c.linked_id).where(report_links.c.report_id == report_id))]


def supporter_key(secret: str, who: str) -> str:
    """A one-way key for a supporter (a browser session id, a key id): counts, never identifies."""
    return hashlib.sha256(f"{secret}:{who}".encode()).hexdigest()


def support(engine, report_id: str, supporter: str, now: datetime | None = None) -> int:
    """Add one supporter (repeats change nothing); the new count."""
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(db._insert_ignore(engine, report_supporters),
                     [{"report_id": report_id, "supporter": supporter, "created_at": now}])
    return supporter_count(engine, report_id)


def supporter_count(engine, report_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(report_supporters)
                            .where(report_supporters.c.report_id == report_id)).scalar_one()
