"""The staff JSON API under ``/staff/api/``: HTTP in and out of the staff service
(``app.staff.service``, ``app.staff.actions``, ``app.staff.queue``), which the screens call too.

Every change names the version the user saw: a stale one answers 409 with a conflict message,
an illegal transition 422, a missing right 403, another agency's report 404. The auth guard
(``app.auth.web.guard``) has already required a session and, for a change, the CSRF header.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file
from flask_login import current_user

from app import audit, followup, proof, spikes
from app.i18n import t
from app.photos import PhotoBusy, PhotoInvalid
from app.proof import ProofRefused
from app.staff import actions, queue, service
from app.staff.actions import BodyInvalid, error_kind
from app.staff.service import report_detail, resolve_with_upload, start_with_location

blueprint = Blueprint("staff_api", __name__, url_prefix="/staff/api")
BACKGROUND_EXPORT_ROWS = 100_000
EXPORT_TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "geojson": "application/geo+json"}


@blueprint.errorhandler(Exception)
def _error(err):
    kind, status = error_kind(err)
    if kind is None:
        raise err
    message = str(err)
    if kind == "conflict":
        message = "Conflict: someone else changed this report first. " + message
    lang = request.args.get("lang") or (request.form.get("lang") if request.form else None)
    body = {"error": message, "kind": kind, "field": getattr(err, "field", None),
            "message": localized_message(err, kind, lang if lang in ("id", "en") else "id")}
    if kind == "busy":
        return jsonify(body), status, {"Retry-After": str(PhotoBusy.retry_after)}
    return jsonify(body), status


def localized_message(err: Exception, kind: str, lang: str) -> str:
    """The error in the officer's language, through the catalogue (the ``error`` stays English)."""
    if isinstance(err, ProofRefused):
        return t(err.key, lang, **err.values)
    if isinstance(err, PhotoInvalid):
        return t("tugas.err.photo", lang)
    if kind in ("conflict", "invalid_transition", "forbidden", "not_found"):
        return t(f"tugas.err.{kind}", lang)
    field_name = getattr(err, "field", None) or str(err).split(":", 1)[0]
    if field_name == "photo":
        return t("tugas.err.photo_missing", lang)
    if field_name in ("note", "version", "lat", "lng", "accuracy"):
        return t(f"tugas.err.{field_name}", lang)
    return t("tugas.err.invalid", lang, detail=str(err))


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
        out = start_with_location(services, user, report_id, _version(body), body.get("note"), _location(body),
                                  key=_idempotency_key(body))
    elif action == "note":
        out = actions.add_note(services, user, report_id, body.get("text") or body.get("note"))
    elif action == "publish":
        out = actions.publish(services, user, report_id, body.get("public_text"))
    elif action == "unpublish":
        out = actions.unpublish(services, user, report_id)
    elif action == "resolve":
        out = resolve_with_upload(services, user, report_id, _version(body), request.files.get("photo"),
                                  body.get("note"), location=_location(body), key=_idempotency_key(body))
    else:
        return jsonify({"error": f"unknown action {action!r}", "kind": "not_found"}), 404
    return jsonify(out)


def _location(body) -> dict | None:
    return proof.parse_location(body.get("lat"), body.get("lng"), body.get("accuracy"))


def _idempotency_key(body) -> str | None:
    import re

    key = body.get("idempotency_key") or request.headers.get("Idempotency-Key")
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9._-]{8,64}", key):
        raise actions.ActionInvalid("idempotency_key", "8 to 64 letters, digits, '.', '_' or '-'")
    return key


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
    return jsonify({"items": service.escalations(services.engine, services.preset, datetime.now(timezone.utc))})


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
    actions._require(current_user, "view_queue")
    services = _services()
    return jsonify({"incidents": [_incident_json(i) for i in spikes.current_incidents(services.redis, services.preset)]})


@blueprint.post("/incidents/<incident_id>/acknowledge")
def acknowledge_incident(incident_id):
    """An operator has seen the incident: every wall stops blinking for it (audited)."""
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
