"""Status changes: checked against the one transition table, recorded, then streamed.

The SQL row and its audit event are written in one transaction with an
optimistic version check; the event is then appended to the stream so the
live aggregates move. The audit row doubles as an outbox: an event whose
append failed stays ``published = false`` and ``relay_unpublished`` sends it
later (the consumers ignore a repeat). So a change made while Redis is down is saved all
the same: its answer says ``relayed: False`` and the screens say the wall follows later.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import select, update

from app.store import db
from app.workflow import Status, aggregate_state, check_transition, parse_status


log = logging.getLogger(__name__)


class FeedUnavailable(RuntimeError):
    """The event stream could not take an event (Redis down); the change waits in the outbox."""


class ReportNotFound(LookupError):
    pass


class VersionConflict(RuntimeError):
    """Someone else changed the report first."""


def change_status(engine, producer, report_id: str, to_status: str, actor: str,
                  note: str | None = None, expected_version: int | None = None,
                  now: datetime | None = None, **fields) -> dict:
    """Apply one status change; raises InvalidTransition, ReportNotFound or VersionConflict."""
    now = now or datetime.now(timezone.utc)
    wanted = parse_status(to_status)
    with engine.begin() as conn:
        row = conn.execute(select(db.reports.c.status, db.reports.c.version, db.reports.c.city,
                                  db.reports.c.resolved_at)
                           .where(db.reports.c.id == report_id)).first()
        if row is None:
            raise ReportNotFound(f"no report {report_id}")
        if expected_version is not None and row.version != expected_version:
            raise VersionConflict(f"report changed meanwhile (version {row.version}, "
                                  f"you had {expected_version}); reload and try again")
        current = Status(row.status)
        check_transition(current, wanted, note)
        version = row.version + 1
        resolved_at = now if aggregate_state(wanted) == "r" and aggregate_state(current) != "r" \
            else (row.resolved_at if aggregate_state(wanted) == "r" else None)
        values = {"status": wanted.value, "version": version, "updated_at": now,
                  "resolved_at": resolved_at, **fields}
        moved = conn.execute(update(db.reports)
                             .where(db.reports.c.id == report_id, db.reports.c.version == row.version)
                             .values(**values)).rowcount
        if moved != 1:
            raise VersionConflict("report changed meanwhile; reload and try again")
        change = {"event_id": f"{report_id}:v{version}", "report_id": report_id, "city": row.city,
                  "from_status": current.value, "to_status": wanted.value, "version": version,
                  "actor": actor, "note": note, "occurred_at": now, "resolved_at": resolved_at,
                  **fields}
        conn.execute(db.report_events.insert().values(
            event_id=change["event_id"], report_id=report_id, city=row.city, kind="status",
            from_status=current.value, to_status=wanted.value, version=version, actor=actor,
            note=note, occurred_at=now, published=False))
    relayed = publish(engine, producer, [change]) == 1
    return {**change, "relayed": relayed}


def publish(engine, producer, changes: list[dict]) -> int:
    """Append each change to the stream and mark it sent; stops at the first the stream refuses
    (that one and the rest stay in the outbox for ``relay_unpublished``). Returns how many went."""
    sent = 0
    for change in changes:
        try:
            producer.emit_status(change)
        except FeedUnavailable as err:
            log.warning("event stream unavailable (%s): %d status events wait in the outbox",
                        err, len(changes) - sent)
            break
        with engine.begin() as conn:
            conn.execute(update(db.report_events)
                         .where(db.report_events.c.event_id == change["event_id"])
                         .values(published=True))
        sent += 1
    return sent


def relay_unpublished(engine, producer, older_than_s: float = 5.0, limit: int = 500) -> int:
    """Send status events whose append to the stream never happened (a crash, Redis down); only
    the producer's own city's (cities may share one database, each with its own stream)."""
    cutoff = datetime.now(timezone.utc).timestamp() - older_than_s
    e, r = db.report_events, db.reports
    with engine.connect() as conn:
        rows = conn.execute(
            select(e.c.event_id, e.c.report_id, e.c.city, e.c.from_status, e.c.to_status, e.c.version,
                   e.c.actor, e.c.note, e.c.occurred_at, r.c.resolved_at, r.c.agency, r.c.team,
                   r.c.priority, r.c.sla_due_at)
            .join(r, r.c.id == e.c.report_id)
            .where(e.c.published.is_(False), e.c.kind == "status", e.c.city == producer.preset.slug)
            .order_by(e.c.occurred_at).limit(limit)).all()
    changes = [dict(row._mapping) for row in rows if row.occurred_at.timestamp() <= cutoff]
    return publish(engine, producer, changes)
