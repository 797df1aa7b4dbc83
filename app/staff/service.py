"""The staff service: what the staff screens (Dash callbacks) and the staff JSON API both call.

The API module (``app.staff.api``) only translates HTTP to these functions and back; the
callbacks call them directly. Changes go through ``app.staff.actions`` (and from there down the
one change path, ``app.followup.change_report``); reads through ``app.staff.queue``.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app import photos, proof, sla
from app.auth import permissions
from app.staff import actions
from app.store import approvals, db
from app import duplicates


def report_detail(services, user, report_id: str, now: datetime | None = None) -> dict:
    """One report as the staff see it (no contact): its SLA view, photos, history, likely duplicates."""
    now = now or datetime.now(timezone.utc)
    row = actions.visible_report(services.engine, user, report_id)
    view = sla.assess(row, services.preset, now)
    data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row._mapping.items()
            if k not in ("reporter_phone", "reporter_email")}
    data["photos"] = json.loads(row.photos)
    data["attributes"] = json.loads(row.attributes)
    data["after_photos"] = actions.after_photos(services.engine, report_id)
    data["history"] = actions.history(services.engine, report_id)

    data["proof_flags"] = proof.flags_of(services.engine, report_id)
    data["sla"] = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in view.items()}
    data["duplicates"] = likely_duplicates(services, user, row)
    data["public"] = approvals.approval_of(services.engine, report_id)
    return data


def likely_duplicates(services, user, row) -> list[dict]:
    """The one likely-duplicate rule (``app.duplicates``), limited to what this user may see."""
    return duplicates.likely_duplicates_of(services.engine, row, permissions.scope_agency(user.role, user.agency))


def _earlier(services, user, report_id: str, action: str, key: str | None) -> dict | None:
    """The outcome of this officer's earlier action with the same idempotency key (a phone resending
    after a lost answer): answered again, filed once."""
    if key is None:
        return None
    a = actions.report_actions
    with services.engine.connect() as conn:
        rows = conn.execute(select(a.c.version, a.c.detail).where(
            a.c.report_id == report_id, a.c.action == action, a.c.actor == user.actor)).all()
    for row in rows:
        detail = json.loads(row.detail)
        if (detail.get("proof") or {}).get("key") == key:
            status = "resolved" if action == "resolve" else "in_progress"
            return {"report_id": report_id, "status": status, "version": row.version, "proof": detail["proof"],
                    "repeated": True}
    return None


def start_with_location(services, user, report_id, version, note=None, location=None, key=None):
    """Start, with the phone's position and its distance to the report kept in the audit row."""
    actions._require(user, "start")
    row = actions.visible_report(services.engine, user, report_id)
    earlier = _earlier(services, user, report_id, "start", key)
    if earlier:
        return earlier
    seen = proof.presence(row, location, services.settings.proof_radius_m)
    summary = {"presence": seen, "flags": [], **({"key": key} if key else {})}
    out = actions.start(services, user, report_id, version, note, proof=summary)
    return {**out, "proof": summary}


def resolve_with_upload(services, user, report_id, version, upload, note=None, data: bytes | None = None,
                        filename: str | None = None, location: dict | None = None, key: str | None = None):
    """Store the after photo (checked, metadata stripped) and resolve; permission checked first.
    The proof checks (``app.proof``) run on the upload's own bytes before anything is stripped: a
    reused photo (or, per the setting, an unverified location) is refused and nothing is kept;
    what is only doubtful is saved and flagged."""
    actions._require(user, "resolve")
    row = actions.visible_report(services.engine, user, report_id)
    earlier = _earlier(services, user, report_id, "resolve", key)
    if earlier:
        return earlier
    if upload is not None:
        # Never more than the photo limit read into memory: one byte more says it is too large.
        data, filename = upload.read(photos.MAX_BYTES + 1), upload.filename
    if not data:
        raise actions.ActionInvalid("photo", "resolving needs an after photo taken from the same spot")
    actions._public_note("note", note)
    seen, flags = proof.check_location(services.settings, row, location)
    # Pending until the resolution is recorded (never served); a refused photo is removed at once.
    photo = photos.store_photo(services.settings, data, filename, pending=True)
    try:
        phash, taken = proof.fingerprint(data)
        flags += proof.check_after_photo(services.engine, services.settings, row, phash, taken, services.preset)
    except proof.ProofRefused:
        for ref in filter(None, (photo.ref, photos.thumb_ref_of(photo.ref))):
            photos.photo_path(services.settings, ref, pending=True).unlink(missing_ok=True)
        raise
    mine = proof.self_service(services.engine, row, user)
    if mine:
        flags.append(("self_service", mine))
    summary = {"presence": seen, "phash": f"{phash:016x}", "flags": [kind for kind, _ in flags],
               **({"key": key} if key else {})}
    out = actions.resolve(services, user, report_id, version, photo.ref, note, proof=summary)
    photos.attach(services.settings, photo.ref)     # kept only once the resolution is recorded
    proof.index_photo(services.engine, row.city, row.id, photo.ref, "after", phash, None)
    proof.record_flags(services.engine, row, "resolve", user.actor, flags)
    return {**out, "proof": summary}


def escalations(engine, preset, now: datetime, agency: str | None = None, limit: int = 200,
                policy: sla.Policy = sla.DEFAULT_POLICY) -> list[dict]:
    """Open reports past a deadline, most overdue first (what a supervisor escalates)."""
    r = db.reports
    # N working days span at least N calendar days: younger reports of a regular category
    # cannot be past a stage deadline unless past their resolution deadline.
    horizon = now - timedelta(days=policy.verification_working_days)
    query = (select(r.c.id, r.c.ticket, r.c.category, r.c.priority, r.c.status, r.c.agency, r.c.team,
                    r.c.created_at, r.c.sla_due_at, r.c.resolved_at, r.c.kelurahan_name)
             .where(r.c.city == preset.slug, r.c.status.in_(list(sla.OPEN_STAGES)))
             .where((r.c.sla_due_at < now) | (r.c.created_at < horizon) | (r.c.category.in_(
                 list(policy.category_working_days)))))
    if agency:
        query = query.where(r.c.agency == agency)
    out = []
    with engine.connect() as conn:
        for row in conn.execute(query.order_by(r.c.sla_due_at).limit(limit * 5)):
            view = sla.assess(row, preset, now, policy)
            if view["overdue"]:
                out.append({"id": row.id, "ticket": row.ticket, "category": row.category,
                            "status": row.status, "agency": row.agency, "stage": view["stage"],
                            "overdue_s": -view["remaining_s"],
                            "expected_datetime": view["expected_datetime"].isoformat()})
    out.sort(key=lambda item: -item["overdue_s"])
    return out[:limit]
