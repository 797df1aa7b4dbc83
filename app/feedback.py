"""The citizen closes the loop: after resolution, rate the result (1-5, which closes the report)
or dispute it (which reopens it); with neither, the report closes by itself after N working days.

Keyed by ticket, and only for the holder of the reporter's secret (``app.reporter_secret``): a
stranger who knows a ticket can neither rate nor dispute it, nor read what the reporter wrote.
``python -m app.feedback autoclose`` runs the automatic closing (cron, or the jobs
process ``python -m ingest jobs``, which ``app run`` starts).
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone

from sqlalchemy import select

from app import followup, reporter_secret, sla
from app.services import Services
from app.store import db
from app.store.tables import report_feedback
from app.workflow import RESOLVED_STATUSES, Status

AUTO_CLOSE_WORKING_DAYS = 10
CITIZEN = "citizen"
SYSTEM = "system:autoclose"


class FeedbackInvalid(ValueError):
    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name


class NotHolder(PermissionError):
    """The request does not carry the reporter's secret of this ticket."""


def _report(engine, ticket: str, city: str):
    r = db.reports
    with engine.connect() as conn:
        row = conn.execute(select(r.c.id, r.c.status, r.c.version)
                           .where(r.c.ticket == ticket, r.c.city == city)).first()
    if row is None:
        raise followup.ReportNotFound(f"no report with ticket {str(ticket)[:24]}")
    return row


def holder_report(engine, ticket: str, secret, *, city: str):
    """The city's report of ``ticket`` when ``secret`` is its reporter's; NotHolder (or ReportNotFound) otherwise."""
    row = _report(engine, ticket, city)
    if not reporter_secret.holds(engine, row.id, secret):
        raise NotHolder("secret: rating or disputing a report needs the reporter's secret from the "
                        "tracking link given when it was filed (/lacak/<ticket>#k=...)")
    return row


def is_holder(engine, ticket: str, secret, *, city: str) -> bool:
    try:
        holder_report(engine, ticket, secret, city=city)
    except (NotHolder, followup.ReportNotFound):
        return False
    return True


def _record(engine, row, ticket, kind, rating, comment, version, now) -> None:
    with engine.begin() as conn:
        conn.execute(report_feedback.insert().values(report_id=row.id, ticket=ticket, kind=kind, rating=rating,
                                                     comment=comment, version=version, occurred_at=now))


def rate(engine, producer, ticket: str, rating, comment: str | None = None, *, secret, city: str,
         now: datetime | None = None) -> dict:
    """Rate a resolved report 1-5; this closes it. Only the holder of the reporter's secret may."""
    now = now or datetime.now(timezone.utc)
    row = holder_report(engine, ticket, secret, city=city)
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise FeedbackInvalid("rating", "a whole number from 1 to 5")
    if comment is not None and not isinstance(comment, str):
        raise FeedbackInvalid("comment", "must be text")
    comment = (comment or "").strip()[:1000] or None
    if row.status != Status.RESOLVED.value:
        raise FeedbackInvalid("ticket", f"only a resolved report can be rated (this one is {row.status})")
    change = followup.change_status(engine, producer, row.id, Status.CLOSED.value, CITIZEN,
                                    note=f"rated {rating}/5" + (f": {comment}" if comment else ""),
                                    expected_version=row.version, now=now)
    _record(engine, row, ticket, "rating", rating, comment, change["version"], now)
    return {"ticket": ticket, "status": change["to_status"], "rating": rating}


def dispute(engine, producer, ticket: str, reason: str, *, secret, city: str,
            now: datetime | None = None) -> dict:
    """The citizen says the problem is not solved: the report reopens with the reason (kept for
    staff; never public). Only the holder of the reporter's secret may."""
    now = now or datetime.now(timezone.utc)
    row = holder_report(engine, ticket, secret, city=city)
    if not isinstance(reason, str):
        raise FeedbackInvalid("dispute", "must be text saying what is still wrong")
    reason = reason.strip()[:1000]
    if not reason:
        raise FeedbackInvalid("dispute", "say what is still wrong")
    if row.status not in RESOLVED_STATUSES:
        raise FeedbackInvalid("ticket", f"only a resolved or closed report can be disputed (this one is "
                                        f"{row.status})")
    change = followup.change_status(engine, producer, row.id, Status.REOPENED.value, CITIZEN,
                                    note=f"disputed: {reason}", expected_version=row.version, now=now)
    _record(engine, row, ticket, "dispute", None, reason, change["version"], now)
    return {"ticket": ticket, "status": change["to_status"]}


def feedback_of(engine, ticket: str, holder: bool = False, *, city: str) -> list[dict]:
    """What was given on the city's ticket; the reporter's own words (comments, dispute reasons)
    only for the holder of the secret (``comment`` is null for everybody else)."""
    f, r = report_feedback, db.reports
    with engine.connect() as conn:
        rows = conn.execute(select(f).join(r, r.c.id == f.c.report_id)
                            .where(f.c.ticket == ticket, r.c.city == city).order_by(f.c.occurred_at)).all()
    return [{"kind": r.kind, "rating": r.rating, "comment": r.comment if holder else None,
             "at": r.occurred_at.isoformat()} for r in rows]


def auto_close(engine, producer, preset, now: datetime | None = None,
               working_days: int = AUTO_CLOSE_WORKING_DAYS, limit: int = 1000) -> int:
    """Close resolved reports nobody disputed within ``working_days`` working days; returns how many."""
    now = now or datetime.now(timezone.utc)
    r = db.reports
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.id, r.c.version, r.c.resolved_at)
                            .where(r.c.city == preset.slug, r.c.status == Status.RESOLVED.value)
                            .order_by(r.c.resolved_at).limit(limit)).all()
    closed = 0
    for row in rows:
        if row.resolved_at is None:
            continue
        if sla.add_working_days(row.resolved_at, working_days, preset.timezone) > now:
            break  # ordered by resolution time: the rest are younger
        try:
            followup.change_status(engine, producer, row.id, Status.CLOSED.value, SYSTEM,
                                   note=f"no dispute within {working_days} working days",
                                   expected_version=row.version, now=now)
            closed += 1
        except followup.VersionConflict:
            continue  # the citizen acted meanwhile: their action stands
    return closed


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m app.feedback")
    parser.add_argument("command", choices=["autoclose"])
    parser.add_argument("--working-days", type=int, help="default: PANTAU_AUTOCLOSE_WORKING_DAYS")
    args = parser.parse_args(argv)

    services = Services.open_for_command()
    days = args.working_days or services.settings.autoclose_working_days
    try:
        print(f"closed {auto_close(services.engine, services.producer, services.preset, working_days=days)}")
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
