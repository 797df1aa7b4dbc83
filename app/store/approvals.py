"""Staff approval of a resolved report for public view (its before/after photos and a text staff wrote).

Staff do this through ``app.staff.actions.publish_row`` (checked and audited); the public figures
read ``public_approved`` (``app.public.recently_resolved``).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from app.privacy import PUBLIC_TEXT_MAX
from app.store.tables import public_approved


def approve(engine, report_id: str, approved_by: str, public_text: str | None = None,
            now: datetime | None = None, conn=None) -> None:
    """Let a resolved report (its before/after photos, and ``public_text`` if given) appear publicly;
    ``conn`` joins the caller's transaction."""
    now = now or datetime.now(timezone.utc)
    text = (public_text or "").strip()[:PUBLIC_TEXT_MAX] or None
    if conn is None:
        with engine.begin() as conn:
            return approve(engine, report_id, approved_by, public_text, now, conn)
    conn.execute(public_approved.delete().where(public_approved.c.report_id == report_id))
    conn.execute(public_approved.insert().values(report_id=report_id, approved_by=approved_by,
                                                 approved_at=now, public_text=text))
    return None


def revoke(engine, report_id: str, conn=None) -> bool:
    """Take a report out of public view; False when it was not in it."""
    if conn is None:
        with engine.begin() as conn:
            return revoke(engine, report_id, conn)
    return conn.execute(public_approved.delete().where(public_approved.c.report_id == report_id)).rowcount > 0


def approval_of(engine, report_id: str) -> dict | None:
    """{by, at, text} when the report is in public view."""
    with engine.connect() as conn:
        row = conn.execute(select(public_approved).where(public_approved.c.report_id == report_id)).first()
    if row is None:
        return None
    return {"by": row.approved_by, "at": row.approved_at.isoformat(), "text": row.public_text}
