"""Staff actions on reports: permission and agency scope checked, then applied through
``app.followup.change_report`` (status and priority changes alike), and recorded.

``report_actions`` holds what the audit trail in ``report_events`` has no column for: the
action's name, the rejection reason, the merge target, the assigned team, the after photo.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from app import followup, privacy
from app.auth import permissions
from app.photos import PhotoBusy, PhotoInvalid
from app.reports import PRIORITIES
from app.store import approvals, db
from app.store.tables import report_actions
from app.workflow import RESOLVED_STATUSES, InvalidTransition, Status


FEED_PENDING = "saved; the wall updates when the feed is back"


class Forbidden(PermissionError):
    pass


class ActionInvalid(ValueError):
    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name


class BodyInvalid(ActionInvalid):
    """A request body that is not a JSON object (or a form): 400, before any field is looked at."""


def error_kind(err: Exception) -> tuple[str | None, int]:
    """The kind of a staff action's failure and its HTTP status (None, 500: not the user's)."""
    if isinstance(err, BodyInvalid):
        return "invalid", 400
    if isinstance(err, followup.VersionConflict):
        return "conflict", 409
    if isinstance(err, InvalidTransition):
        return "invalid_transition", 422
    if isinstance(err, Forbidden):
        return "forbidden", 403
    if isinstance(err, followup.ReportNotFound):
        return "not_found", 404
    if isinstance(err, (ActionInvalid, PhotoInvalid, ValueError)):
        return "invalid", 422
    if isinstance(err, PhotoBusy):
        return "busy", 503
    return None, 500


def _item_id(item) -> str:
    """The report id of one item of a bulk action ({id, version})."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise ActionInvalid("items", "each item is {id, version}")
    return item["id"]


def _require(user, action: str) -> None:
    if not permissions.can(user.role, action):
        raise Forbidden(f"role {user.role} may not {action.replace('_', ' ')}")


def visible_report(engine, user, report_id: str):
    """The report row if this user may see it; ReportNotFound otherwise (other agencies' and other
    cities' too: cities may share one database, and a user belongs to one city)."""
    r = db.reports
    query = select(r).where(r.c.id == report_id, r.c.city == user.city)
    agency = permissions.scope_agency(user.role, user.agency)
    if agency is not None:
        query = query.where(r.c.agency == agency)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise followup.ReportNotFound(f"no report {report_id}")
    return row


def _record(engine, report_id, action, actor, version, detail, event_id=None, now=None, conn=None) -> None:
    """One audit row of a staff action; ``conn`` joins the caller's transaction."""
    if conn is None:
        with engine.begin() as conn:
            return _record(engine, report_id, action, actor, version, detail, event_id, now, conn)
    conn.execute(report_actions.insert().values(
        action_id=event_id or f"{report_id}:{action}:{uuid.uuid4().hex[:12]}", report_id=report_id,
        event_id=event_id, action=action, actor=actor, version=version,
        detail=json.dumps(detail, separators=(",", ":")), occurred_at=now or datetime.now(timezone.utc)))
    return None


def _changed(services, user, action, report_id, expected_version, detail=None, **change) -> dict:
    """Apply a change through ``app.followup.change_report``, the action's detail row in the same
    transaction; answers the change."""
    _require(user, action)
    visible_report(services.engine, user, report_id)

    def record(conn, event):
        _record(services.engine, report_id, action, event["actor"], event["version"],
                {**(detail or {}), **{k: v for k, v in change.items() if k in ("agency", "team")}},
                event_id=event["event_id"], now=event["occurred_at"], conn=conn)

    return followup.change_report(services.engine, services.producer, report_id,
                                  user.actor, expected_version=expected_version,
                                  also=record, **change)


def _answer(change: dict, **out) -> dict:
    if not change["relayed"]:    # saved; the outbox sends it when Redis is back (the persister relays)
        out.update(feed="pending", message=FEED_PENDING)
    return out


def _status(services, user, action, report_id, to_status, expected_version, note=None, detail=None,
            **fields) -> dict:
    change = _changed(services, user, action, report_id, expected_version, detail, to_status=to_status,
                      note=note, **fields)
    return _answer(change, report_id=report_id, status=change["to_status"], version=change["version"])


def verify(services, user, report_id, expected_version, note=None):
    return _status(services, user, "verify", report_id, Status.VERIFIED.value, expected_version, note)


def _public_note(field_name: str, text: str | None) -> None:
    """Resolve and reject notes are shown to the public (Open311 status_notes, /lacak): the same
    check as a published text."""
    if privacy.has_contact(text):
        raise ActionInvalid(field_name, "is shown to the public: must not contain a phone number or an e-mail "
                                        "address")


def reject(services, user, report_id, expected_version, reason):
    if not (reason and reason.strip()):
        raise ActionInvalid("reason", "a rejection needs a reason")
    _public_note("reason", reason)
    return _status(services, user, "reject", report_id, Status.REJECTED.value, expected_version,
                   reason.strip(), {"reason": reason.strip()})


def merge(services, user, report_id, expected_version, into_id):
    if into_id == report_id:
        raise ActionInvalid("into", "a report cannot be merged into itself")
    target = visible_report(services.engine, user, into_id)
    return _status(services, user, "merge", report_id, Status.REJECTED.value, expected_version,
                   f"duplicate of {target.ticket}", {"merged_into": into_id, "merged_ticket": target.ticket})


def assign(services, user, report_id, expected_version, agency, team=None, action="assign"):
    codes = {a.code for a in services.preset.agencies}
    if agency not in codes:
        raise ActionInvalid("agency", f"unknown agency {agency!r}; one of {', '.join(sorted(codes))}")
    team = (team or "").strip()[:80] or None
    return _status(services, user, action, report_id, Status.DISPATCHED.value, expected_version,
                   f"assigned to {agency}" + (f" / {team}" if team else ""), agency=agency, team=team)


def bulk_assign(services, user, items: list[dict], agency, team=None) -> list[dict]:
    """Assign each {id, version}; one failure does not stop the others (each answers its outcome)."""
    _require(user, "bulk_assign")
    results = []
    for item in items:
        try:
            results.append({"ok": True, **assign(services, user, _item_id(item), item.get("version"), agency,
                                                 team, action="bulk_assign")})
        except Exception as err:  # noqa: BLE001  reported per item, by kind
            kind, status = error_kind(err)
            if kind is None:
                raise
            results.append({"ok": False, "report_id": item.get("id") if isinstance(item, dict) else None,
                            "error": str(err), "kind": kind, "http_status": status})
    return results


def start(services, user, report_id, expected_version, note=None, proof=None):
    """``proof``: what ``app.proof`` found (the phone's position and its distance), kept in the audit row."""
    return _status(services, user, "start", report_id, Status.IN_PROGRESS.value, expected_version, note,
                   {"proof": proof} if proof else None)


def resolve(services, user, report_id, expected_version, photo_ref: str, note=None, proof=None):
    if not photo_ref:
        raise ActionInvalid("photo", "resolving needs an after photo taken from the same spot")
    _public_note("note", note)
    return _status(services, user, "resolve", report_id, Status.RESOLVED.value, expected_version, note,
                   {"after_photo": photo_ref, **({"proof": proof} if proof else {})})


def change_priority(services, user, report_id, expected_version, priority, now=None):
    """A new priority moves the SLA deadline: down the same change path as a status, so the wall's
    breaches and the dispatch queue's follow it at once."""
    _require(user, "priority")
    if priority not in PRIORITIES:
        raise ActionInvalid("priority", f"must be one of {', '.join(PRIORITIES)}")
    row = visible_report(services.engine, user, report_id)
    change = _changed(services, user, "priority", report_id, expected_version,
                      {"from": row.priority, "to": priority}, priority=priority, now=now)
    return _answer(change, report_id=report_id, priority=priority, version=change["version"])


def add_note(services, user, report_id, text):
    _require(user, "note")
    if not (text and text.strip()):
        raise ActionInvalid("note", "is empty")
    row = visible_report(services.engine, user, report_id)
    _record(services.engine, report_id, "note", user.actor, row.version,
            {"note": text.strip()[:2000]})
    return {"report_id": report_id, "version": row.version}


PUBLISHABLE = RESOLVED_STATUSES


def publish(services, user, report_id, public_text=None, now=None) -> dict:
    """Put a resolved report in public view (kiosk, Open311 description): its before/after photos
    and, if given, a short text staff wrote for the public — never the citizen's own words."""
    _require(user, "publish")
    row = visible_report(services.engine, user, report_id)
    return publish_row(services.engine, row, user.actor, public_text, now)


def publish_row(engine, row, actor: str, public_text=None, now=None) -> dict:
    """The checks, the approval and its audit row, in one transaction: the one path to public view
    (the staff screens and API above, and ``python -m app.public approve`` for shell access)."""
    if row.status not in PUBLISHABLE:
        raise ActionInvalid("status", f"only resolved or closed reports are published (this one is {row.status})")
    if privacy.is_sensitive(row.category):
        raise ActionInvalid("category", "reports of a sensitive category are never published one by one")
    text = (public_text or "").strip()
    if len(text) > privacy.PUBLIC_TEXT_MAX:
        raise ActionInvalid("public_text", f"at most {privacy.PUBLIC_TEXT_MAX} characters (got {len(text)})")
    if privacy.has_contact(text):
        raise ActionInvalid("public_text", "must not contain a phone number or an e-mail address")
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        approvals.approve(engine, row.id, actor, text or None, now, conn=conn)
        _record(engine, row.id, "publish", actor, row.version, {"public_text": text or None}, now=now, conn=conn)
    return {"report_id": row.id, "version": row.version, "published": True}


def unpublish(services, user, report_id, now=None) -> dict:
    """Take a report out of public view again."""
    _require(user, "publish")
    row = visible_report(services.engine, user, report_id)
    return unpublish_row(services.engine, row, user.actor, now)


def unpublish_row(engine, row, actor: str, now=None) -> dict:
    with engine.begin() as conn:
        if not approvals.revoke(engine, row.id, conn=conn):
            raise ActionInvalid("report", "is not in public view")
        _record(engine, row.id, "unpublish", actor, row.version, {}, now=now, conn=conn)
    return {"report_id": row.id, "version": row.version, "published": False}


def history(engine, report_id: str) -> list[dict]:
    """The report's audit trail (status events) joined with the staff actions' details, oldest first."""
    e, a = db.report_events, report_actions
    with engine.connect() as conn:
        events = conn.execute(select(e).where(e.c.report_id == report_id).order_by(e.c.version)).all()
        acts = conn.execute(select(a).where(a.c.report_id == report_id).order_by(a.c.occurred_at)).all()
    by_event = {x.event_id: x for x in acts if x.event_id}
    out = [{"at": ev.occurred_at.isoformat(), "actor": ev.actor,   # a priority change moves no status
            "from": None if ev.kind == followup.PRIORITY else ev.from_status,
            "to": None if ev.kind == followup.PRIORITY else ev.to_status,
            "note": ev.note, "version": ev.version,
            "action": by_event[ev.event_id].action if ev.event_id in by_event else ev.kind,
            "detail": json.loads(by_event[ev.event_id].detail) if ev.event_id in by_event else {}}
           for ev in events]
    out += [{"at": x.occurred_at.isoformat(), "actor": x.actor, "from": None, "to": None,
             "note": json.loads(x.detail).get("note"), "version": x.version, "action": x.action,
             "detail": json.loads(x.detail)} for x in acts if not x.event_id]
    return sorted(out, key=lambda item: item["at"])


def after_photos(engine, report_id: str) -> list[str]:
    """References of the after photos an officer attached when resolving (newest last)."""
    a = report_actions
    with engine.connect() as conn:
        rows = conn.execute(select(a.c.detail).where(a.c.report_id == report_id, a.c.action == "resolve")
                            .order_by(a.c.occurred_at)).all()
    return [json.loads(r.detail)["after_photo"] for r in rows if "after_photo" in json.loads(r.detail)]


def verify_and_assign(services, user, report_id, expected_version, agency=None, team=None) -> dict:
    """Verify a new or reopened report and assign it in one move: to ``agency``, or to the agency the
    report was routed to on arrival when none is named. Two audited changes (verify, then assign)."""
    _require(user, "verify")
    _require(user, "assign")
    row = visible_report(services.engine, user, report_id)
    target = agency or row.agency
    if not target:
        raise ActionInvalid("agency", "this report has no suggested agency: choose one")
    version = expected_version
    if row.status in (Status.NEW.value, Status.REOPENED.value):
        version = verify(services, user, report_id, expected_version)["version"]
    out = assign(services, user, report_id, version, target, team)
    return {**out, "agency": target}


def bulk_verify(services, user, items: list[dict], route: bool = False, agency=None, team=None) -> list[dict]:
    """Verify each {id, version} (and, with ``route``, assign it to ``agency`` or its suggested agency);
    one failure does not stop the others (each answers its outcome)."""
    _require(user, "verify")
    if route:
        _require(user, "bulk_assign")
    results = []
    for item in items:
        try:
            if route:
                out = verify_and_assign(services, user, _item_id(item), item.get("version"), agency, team)
            else:
                out = verify(services, user, _item_id(item), item.get("version"))
            results.append({"ok": True, **out})
        except Exception as err:  # noqa: BLE001  reported per item, by kind
            kind, status = error_kind(err)
            if kind is None:
                raise
            results.append({"ok": False, "report_id": item.get("id") if isinstance(item, dict) else None,
                            "error": str(err), "kind": kind, "http_status": status})
    return results
