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

from app import sla
from app.reports import PRIORITIES
from app.store import db
from app.workflow import RESOLVED, Status, aggregate_state, check_transition, parse_status


log = logging.getLogger(__name__)


class FeedUnavailable(RuntimeError):
    """The event stream could not take an event (Redis down); the change waits in the outbox."""


class ReportNotFound(LookupError):
    pass


class VersionConflict(RuntimeError):
    """Someone else changed the report first."""


# What every change event carries besides the status: the report's fields the consumers keep
# (the aggregator's deadline, the persister's row), as they stand after the change.
CARRIED = ("agency", "team", "priority", "sla_due_at")
STATUS, PRIORITY = "status", "priority"     # report_events.kind of a change (``created`` is the intake's)
CHANGE_KINDS = (STATUS, PRIORITY)


def change_status(engine, producer, report_id: str, to_status: str, actor: str,
                  note: str | None = None, expected_version: int | None = None,
                  now: datetime | None = None, also=None, **fields) -> dict:
    """Apply one status change; raises InvalidTransition, ReportNotFound or VersionConflict."""
    return change_report(engine, producer, report_id, actor, to_status=to_status, note=note,
                         expected_version=expected_version, now=now, also=also, **fields)


def change_report(engine, producer, report_id: str, actor: str, *, to_status: str | None = None,
                  priority: str | None = None, note: str | None = None,
                  expected_version: int | None = None, now: datetime | None = None, also=None,
                  **fields) -> dict:
    """The one path of a change to a report the aggregates or the public see.

    A status change (``to_status``, checked against the transition table) and/or a new
    ``priority`` (which moves the SLA deadline, computed by ``app.sla``), plus report fields
    (``agency``, ``team``). In one transaction: the row (optimistic version check), the audit
    row in ``report_events`` (which is also the outbox) and, through ``also(conn, change)``, the
    caller's own detail row; then one event on the stream carrying the status, the new version
    and every field in ``CARRIED`` as it now stands, so no consumer keeps a stale deadline.
    Raises InvalidTransition, ReportNotFound, VersionConflict, or ValueError (unknown priority).
    """
    now = now or datetime.now(timezone.utc)
    r = db.reports
    with engine.begin() as conn:
        row = conn.execute(select(r.c.status, r.c.version, r.c.city, r.c.resolved_at, r.c.category,
                                  r.c.created_at, *[r.c[name] for name in CARRIED])
                           .where(r.c.id == report_id)).first()
        if row is None:
            raise ReportNotFound(f"no report {report_id}")
        if expected_version is not None and row.version != expected_version:
            raise VersionConflict(f"report changed meanwhile (version {row.version}, "
                                  f"you had {expected_version}); reload and try again")
        current = Status(row.status)
        if to_status is None:
            wanted, kind = current, PRIORITY
        else:
            wanted, kind = parse_status(to_status), STATUS
            check_transition(current, wanted, note)
        if priority is not None:
            if priority not in PRIORITIES:
                raise ValueError(f"priority: must be one of {', '.join(PRIORITIES)}")
            fields.update(priority=priority,
                          sla_due_at=sla.resolution_due(row.category, priority, row.created_at))
        elif kind == PRIORITY:
            raise ValueError("a change needs a status or a priority")
        version = row.version + 1
        resolved_at = now if aggregate_state(wanted) == RESOLVED and aggregate_state(current) != RESOLVED \
            else (row.resolved_at if aggregate_state(wanted) == RESOLVED else None)
        values = {"status": wanted.value, "version": version, "updated_at": now,
                  "resolved_at": resolved_at, **fields}
        moved = conn.execute(update(r)
                             .where(r.c.id == report_id, r.c.version == row.version)
                             .values(**values)).rowcount
        if moved != 1:
            raise VersionConflict("report changed meanwhile; reload and try again")
        carried = {name: getattr(row, name) for name in CARRIED}
        carried.update({k: v for k, v in fields.items() if k in CARRIED})
        change = {"event_id": f"{report_id}:v{version}", "report_id": report_id, "city": row.city,
                  "kind": kind, "from_status": current.value, "to_status": wanted.value, "version": version,
                  "actor": actor, "note": note, "occurred_at": now, "resolved_at": resolved_at,
                  **carried, **fields}
        conn.execute(db.report_events.insert().values(
            event_id=change["event_id"], report_id=report_id, city=row.city, kind=kind,
            from_status=current.value, to_status=wanted.value, version=version, actor=actor,
            note=note, occurred_at=now, published=False))
        if also is not None:
            also(conn, change)
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
            select(e.c.event_id, e.c.report_id, e.c.city, e.c.kind, e.c.from_status, e.c.to_status, e.c.version,
                   e.c.actor, e.c.note, e.c.occurred_at, r.c.resolved_at, r.c.agency, r.c.team,
                   r.c.priority, r.c.sla_due_at)
            .join(r, r.c.id == e.c.report_id)
            .where(e.c.published.is_(False), e.c.kind.in_(CHANGE_KINDS), e.c.city == producer.preset.slug)
            .order_by(e.c.occurred_at).limit(limit)).all()
    changes = [dict(row._mapping) for row in rows if row.occurred_at.timestamp() <= cutoff]
    return publish(engine, producer, changes)
