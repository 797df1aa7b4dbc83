"""Per-agency follow-up figures for the wall: open backlog, SLA compliance, oldest open report.

One grouped SQL query on the system of record (index ``city, agency, status``).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, func, select

from app.store import db
from app.workflow import CLOSED_STATUSES, RESOLVED_STATUSES



def agency_board(engine, preset, now: datetime | None = None, since_days: int = 30) -> list[dict]:
    """One row per agency of the preset: backlog, SLA % of reports resolved in the last
    ``since_days`` days (None when none), and the creation time of the oldest open report."""
    now = now or datetime.now(timezone.utc)
    r = db.reports.c
    is_open = r.status.notin_(CLOSED_STATUSES)
    resolved_recently = and_(r.status.in_(RESOLVED_STATUSES), r.resolved_at >= now - timedelta(days=since_days))
    on_time = and_(resolved_recently, (r.sla_due_at.is_(None)) | (r.resolved_at <= r.sla_due_at))
    query = (select(r.agency,
                    func.sum(case((is_open, 1), else_=0)).label("backlog"),
                    func.sum(case((resolved_recently, 1), else_=0)).label("resolved"),
                    func.sum(case((on_time, 1), else_=0)).label("on_time"),
                    func.min(case((is_open, r.created_at), else_=None)).label("oldest_open"))
             .where(r.city == preset.slug).group_by(r.agency))
    with engine.connect() as conn:
        rows = {row.agency: row for row in conn.execute(query)}
    board = []
    for agency in preset.agencies:
        row = rows.get(agency.code)
        resolved = int(row.resolved or 0) if row else 0
        oldest = row.oldest_open if row else None
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        board.append({"code": agency.code, "name_id": agency.name_id, "name_en": agency.name_en,
                      "backlog": int(row.backlog or 0) if row else 0,
                      "sla_pct": round(100.0 * int(row.on_time or 0) / resolved, 1) if resolved else None,
                      "oldest_open": oldest})
    return sorted(board, key=lambda a: -a["backlog"])
