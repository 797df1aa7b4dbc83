"""The staff JSON API under ``/staff/api/`` (the screens use the same functions).

Every change names the version the user saw: a stale one answers 409 with a conflict message,
an illegal transition 422, a missing right 403, another agency's report 404. The auth guard
(``app.auth.web.guard``) has already required a session and, for a change, the CSRF header.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file
from flask_login import current_user
from sqlalchemy import select

from app import followup, sla
from app.auth import permissions
from app.staff import actions, queue
from app.store import db
from app.workflow import InvalidTransition

blueprint = Blueprint("staff_api", __name__, url_prefix="/staff/api")
BACKGROUND_EXPORT_ROWS = 100_000
EXPORT_TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "geojson": "application/geo+json"}


class BodyInvalid(actions.ActionInvalid):
    """A request body that is not a JSON object (or a form): 400, before any field is looked at."""


def error_kind(err: Exception) -> tuple[str | None, int]:
    from app.photos import PhotoBusy, PhotoInvalid

    if isinstance(err, BodyInvalid):
        return "invalid", 400
    if isinstance(err, followup.VersionConflict):
        return "conflict", 409
    if isinstance(err, InvalidTransition):
        return "invalid_transition", 422
    if isinstance(err, actions.Forbidden):
        return "forbidden", 403
    if isinstance(err, followup.ReportNotFound):
        return "not_found", 404
    if isinstance(err, (actions.ActionInvalid, PhotoInvalid, ValueError, KeyError)):
        return "invalid", 422
    if isinstance(err, PhotoBusy):
        return "busy", 503
    return None, 500


@blueprint.errorhandler(Exception)
def _error(err):
    from app.photos import PhotoBusy

    kind, status = error_kind(err)
    if kind is None:
        raise err
    message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    if kind == "conflict":
        message = "Conflict: someone else changed this report first. " + message
    if kind == "busy":
        return jsonify({"error": message, "kind": kind}), status, {"Retry-After": str(PhotoBusy.retry_after)}
    return jsonify({"error": message, "kind": kind}), status


def _services():
    return current_app.extensions["pantau"]


def _json_object(default=None) -> dict | None:
    """The JSON body when one is sent: an object, or a 400 naming the rule (``[1]``, ``"x"``,
    ``null`` or broken JSON are refused, never looked into)."""
    if not request.is_json:
        return default
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BodyInvalid("body", "must be a JSON object ({\"field\": value, ...})")
    return body


def _body() -> dict:
    body = _json_object()
    return body if body is not None else request.form.to_dict()


def _version(body) -> int:
    try:
        return int(body["version"])
    except (KeyError, TypeError, ValueError):
        raise actions.ActionInvalid("version", "send the report version you saw (an integer)") from None


@blueprint.get("/queue")
def queue_page():
    actions._require(current_user, "view_queue")
    flt = queue.QueueFilter.from_params(request.args)
    page_no = int(request.args.get("page", 0) or 0)
    return jsonify(queue.page(_services().engine, _services().preset, flt, current_user, page_no))


def report_detail(services, user, report_id: str, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    row = actions.visible_report(services.engine, user, report_id)
    view = sla.assess(row, services.preset, now)
    data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row._mapping.items()
            if k not in ("reporter_phone", "reporter_email")}
    data["photos"] = json.loads(row.photos)
    data["attributes"] = json.loads(row.attributes)
    data["after_photos"] = actions.after_photos(services.engine, report_id)
    data["history"] = actions.history(services.engine, report_id)
    data["sla"] = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in view.items()}
    data["duplicates"] = likely_duplicates(services, user, row)
    from app import public

    data["public"] = public.approval_of(services.engine, report_id)
    return data


def likely_duplicates(services, user, row, days: int = 14, limit: int = 10) -> list[dict]:
    """Open reports of the same category within ~500 m (the res-9 cell and its ring) lately."""
    import h3

    r = db.reports
    cells = h3.grid_disk(h3.cell_to_parent(row.h3_cell, 9), 1)
    conds = [r.c.city == row.city, r.c.category == row.category, r.c.id != row.id,
             r.c.created_at >= row.created_at - timedelta(days=days),
             r.c.status.in_(list(sla.OPEN_STAGES))]
    scoped = permissions.scope_agency(user.role, user.agency)
    if scoped:
        conds.append(r.c.agency == scoped)
    ranges = [queue._cell_range(c, 12) for c in cells]
    from sqlalchemy import or_

    conds.append(or_(*[r.c.h3_cell.between(lo, hi) for lo, hi in ranges]))
    with services.engine.connect() as conn:
        rows = conn.execute(select(r.c.id, r.c.ticket, r.c.status, r.c.created_at, r.c.version)
                            .where(*conds).order_by(r.c.created_at).limit(limit)).all()
    return [{"id": x.id, "ticket": x.ticket, "status": x.status, "created_at": x.created_at.isoformat(),
             "version": x.version} for x in rows]


@blueprint.get("/reports/<report_id>")
def detail(report_id):
    actions._require(current_user, "view_queue")
    return jsonify(report_detail(_services(), current_user, report_id))


@blueprint.post("/reports/<report_id>/<action>")
def act(report_id, action):
    services, user, body = _services(), current_user, _body()
    if action == "verify":
        out = actions.verify(services, user, report_id, _version(body), body.get("note"))
    elif action == "reject":
        out = actions.reject(services, user, report_id, _version(body), body.get("reason", ""))
    elif action == "merge":
        out = actions.merge(services, user, report_id, _version(body), body.get("into", ""))
    elif action == "assign":
        out = actions.assign(services, user, report_id, _version(body), body.get("agency"), body.get("team"))
    elif action == "priority":
        out = actions.change_priority(services, user, report_id, _version(body), body.get("priority"))
    elif action == "start":
        out = actions.start(services, user, report_id, _version(body), body.get("note"))
    elif action == "note":
        out = actions.add_note(services, user, report_id, body.get("text") or body.get("note"))
    elif action == "publish":
        out = actions.publish(services, user, report_id, body.get("public_text"))
    elif action == "unpublish":
        out = actions.unpublish(services, user, report_id)
    elif action == "resolve":
        out = resolve_with_upload(services, user, report_id, _version(body), request.files.get("photo"),
                                  body.get("note"))
    else:
        return jsonify({"error": f"unknown action {action!r}", "kind": "not_found"}), 404
    return jsonify(out)


def resolve_with_upload(services, user, report_id, version, upload, note=None, data: bytes | None = None,
                        filename: str | None = None):
    """Store the after photo (checked, metadata stripped) and resolve; permission checked first."""
    from app import photos

    actions._require(user, "resolve")
    actions.visible_report(services.engine, user, report_id)
    if upload is not None:
        # Never more than the photo limit read into memory: one byte more says it is too large.
        data, filename = upload.read(photos.MAX_BYTES + 1), upload.filename
    if not data:
        raise actions.ActionInvalid("photo", "resolving needs an after photo taken from the same spot")
    photo = photos.store_photo(services.settings, data, filename, pending=True)
    out = actions.resolve(services, user, report_id, version, photo.ref, note)
    photos.attach(services.settings, photo.ref)     # kept only once the resolution is recorded
    return out


@blueprint.post("/bulk-assign")
def bulk_assign():
    body = _json_object({})
    items = body.get("items")
    if not isinstance(items, list) or not items or len(items) > 500:
        raise actions.ActionInvalid("items", "a list of 1 to 500 {id, version}")
    results = actions.bulk_assign(_services(), current_user, items, body.get("agency"), body.get("team"))
    return jsonify({"results": results, "assigned": sum(1 for r in results if r["ok"])})


@blueprint.post("/bulk-verify")
def bulk_verify():
    """Verify a list of {id, version}; with ``"route": true`` also assign each to ``agency`` or, when
    none is named, to the agency it was routed to on arrival."""
    body = request.get_json(silent=True) or {}
    items = body.get("items")
    if not isinstance(items, list) or not items or len(items) > 500:
        raise actions.ActionInvalid("items", "a list of 1 to 500 {id, version}")
    results = actions.bulk_verify(_services(), current_user, items, bool(body.get("route")), body.get("agency"),
                                  body.get("team"))
    return jsonify({"results": results, "done": sum(1 for r in results if r["ok"])})


@blueprint.get("/escalations")
def escalation_list():
    actions._require(current_user, "escalations")
    services = _services()
    return jsonify({"items": sla.escalations(services.engine, services.preset, datetime.now(timezone.utc))})


# ---- exports -------------------------------------------------------------------------------------

def _export_dir(services) -> Path:
    folder = Path(services.settings.data_dir) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _format() -> str:
    fmt = request.args.get("format") or (_json_object({}) if request.method == "POST" else {}).get("format") or "csv"
    if not isinstance(fmt, str) or fmt not in EXPORT_TYPES:
        raise actions.ActionInvalid("format", "one of csv, xlsx, geojson")
    return fmt


def _export_lang(services) -> str:
    lang = request.args.get("lang") or (request.get_json(silent=True) or {}).get("lang") or services.settings.language
    if lang not in ("id", "en"):
        raise actions.ActionInvalid("lang", "one of id, en")
    return lang


def _delimiter() -> str:
    sep = {"semicolon": ";", "comma": ",", "tab": "\t", None: ";"}.get(request.args.get("sep"))
    if sep is None:
        raise actions.ActionInvalid("sep", "one of semicolon, comma, tab")
    return sep


@blueprint.get("/export")
def export_now():
    """The filtered set as a download; sets of 100,000 rows and more must use a background job."""
    actions._require(current_user, "export")
    services, fmt = _services(), _format()
    flt = queue.QueueFilter.from_params(request.args)
    total = queue.count(services.engine, services.preset, flt, current_user)
    if total >= current_app.config.get("PANTAU_BACKGROUND_EXPORT_ROWS", BACKGROUND_EXPORT_ROWS):
        return jsonify({"error": f"{total} rows: start a background export (POST /staff/api/exports)",
                        "kind": "too_large", "rows": total}), 413
    path = _export_dir(services) / f"now-{secrets.token_hex(8)}.{fmt}"
    with open(path, "wb") as out:
        queue.write_export(queue.iter_rows(services.engine, services.preset, flt, current_user), fmt, out,
                           preset=services.preset, lang=_export_lang(services), delimiter=_delimiter())
    response = send_file(path, mimetype=EXPORT_TYPES[fmt], as_attachment=True,
                         download_name=queue.export_name(services.preset, fmt))
    response.call_on_close(lambda: path.unlink(missing_ok=True))
    return response


def _job_file(services, job_id: str) -> Path:
    if not (len(job_id) == 24 and all(c in "0123456789abcdef" for c in job_id)):
        raise followup.ReportNotFound("no such export")
    return _export_dir(services) / f"{job_id}.json"


def run_export_job(services, user, flt, fmt: str, job_id: str, lang: str | None = None) -> None:
    folder = _export_dir(services)
    status_path = folder / f"{job_id}.json"
    total = queue.count(services.engine, services.preset, flt, user)

    def write_status(**values):
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"job": job_id, "owner": user.username, "format": fmt, "total": total,
                                   **values}))
        tmp.replace(status_path)

    write_status(state="running", done=0)
    try:
        with open(folder / f"{job_id}.{fmt}", "wb") as out:
            n = queue.write_export(queue.iter_rows(services.engine, services.preset, flt, user), fmt, out,
                                   progress=lambda done: write_status(state="running", done=done),
                                   preset=services.preset, lang=lang or services.settings.language)
        write_status(state="ready", done=n)
    except Exception as err:  # noqa: BLE001  the job's owner sees why it failed
        write_status(state="failed", done=0, error=str(err)[:300])


@blueprint.post("/exports")
def export_start():
    actions._require(current_user, "export")
    services, fmt = _services(), _format()
    body = _json_object({})
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise BodyInvalid("filters", "must be an object of queue filters")
    flt = queue.QueueFilter.from_params(filters)
    job_id = secrets.token_hex(12)
    user = current_user._get_current_object()
    thread = threading.Thread(target=run_export_job, args=(services, user, flt, fmt, job_id,
                                                           _export_lang(services)), daemon=True,
                              name=f"export-{job_id}")
    thread.start()
    return jsonify({"job": job_id, "status_url": f"/staff/api/exports/{job_id}"}), 202


def _job(job_id):
    services = _services()
    path = _job_file(services, job_id)
    for _ in range(20):       # the thread writes its first status within moments of starting
        if path.exists():
            break
        time.sleep(0.05)
    if not path.exists():
        raise followup.ReportNotFound("no such export")
    status = json.loads(path.read_text())
    if status["owner"] != current_user.username:
        raise followup.ReportNotFound("no such export")
    return services, status


@blueprint.get("/exports/<job_id>")
def export_status(job_id):
    _, status = _job(job_id)
    status["progress"] = round(status["done"] / status["total"], 3) if status["total"] else 1.0
    if status["state"] == "ready":
        status["download_url"] = f"/staff/api/exports/{job_id}/file"
    return jsonify(status)


@blueprint.get("/exports/<job_id>/file")
def export_file(job_id):
    services, status = _job(job_id)
    if status["state"] != "ready":
        return jsonify({"error": "not ready yet", "kind": "not_ready", **status}), 409
    return send_file(_export_dir(services) / f"{job_id}.{status['format']}",
                     mimetype=EXPORT_TYPES[status["format"]], as_attachment=True,
                     download_name=queue.export_name(services.preset, status["format"]))


# -- wall incidents (spikes): seen on the wall, acknowledged here -------------------------------
def _incident_json(incident) -> dict:
    return {"id": incident.id, "category": incident.category, "count": incident.category_count,
            "recent": incident.recent, "usual": incident.usual, "cells": list(incident.cells),
            "acknowledged": incident.acknowledged}


@blueprint.get("/incidents")
def incidents():
    from app import spikes

    actions._require(current_user, "view_queue")
    services = _services()
    return jsonify({"incidents": [_incident_json(i) for i in spikes.current_incidents(services.redis, services.preset)]})


@blueprint.post("/incidents/<incident_id>/acknowledge")
def acknowledge_incident(incident_id):
    """An operator has seen the incident: every wall stops blinking for it (audited)."""
    from app import audit, spikes

    actions._require(current_user, "acknowledge_incident")
    services = _services()
    incident = spikes.find_incident(services.redis, services.preset, incident_id[:80])
    if incident is None:
        return jsonify({"error": f"incident: no current incident {incident_id[:80]!r} (it may have ended)",
                        "kind": "not_found"}), 404
    spikes.acknowledge(services.redis, services.preset, incident, current_user.username)
    audit.record(services.engine, current_user.username, "incident.acknowledge", incident.id, origin="web",
                 address=request.remote_addr, detail={"category": incident.category, "cells": list(incident.cells),
                                                      "count": incident.category_count})
    return jsonify(_incident_json(spikes.find_incident(services.redis, services.preset, incident.id) or incident))
