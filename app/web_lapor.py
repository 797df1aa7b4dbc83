"""The report form's plain endpoints beside its Dash page (the filing itself: ``app/lapor_intake``).

* ``POST /lapor/photo``: the form's photo (multipart field ``photo``, field ``token``), resized in
  the browser; answers ``{ref, preview, message}`` or ``{error, message}`` with a 4xx, the message
  in the citizen's language (``?lang=``).
* ``GET /lapor/token``: a new form visit, for a report kept on the phone past its page.
* ``POST /lapor/send``: a report kept on the phone while it had no signal (JSON, see
  ``lapor_intake.file_kept_report``); 201 with the ticket, the same again for the same ``key``.
* ``GET /lapor-sw.js``: the form's service worker (scope ``/lapor``), ``GET /lapor/manifest.webmanifest``:
  the installable form, named in the citizen's language.
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file

from app import lapor_intake, photos
from app.i18n import t

blueprint = Blueprint("lapor", __name__)
ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _services():
    return current_app.extensions["pantau"]


def _lang() -> str:
    lang = request.args.get("lang")
    return lang if lang in ("id", "en") else _services().settings.language


def _address() -> str:
    return request.remote_addr or "unknown"


def _refused(refused: lapor_intake.Refused):
    response = jsonify(refused.body())
    response.status_code = refused.status
    if refused.retry_after:
        response.headers["Retry-After"] = str(refused.retry_after)
    return response


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/lapor/photo")
def photo():
    lang = _lang()
    upload = request.files.get("photo")
    if upload is None:
        return _refused(lapor_intake.Refused(400, "photo: a multipart file field 'photo' is required",
                                             code="invalid"))
    # Read at most one byte past the limit: a larger file is refused without reading the rest.
    data = upload.stream.read(photos.MAX_BYTES + 1)
    try:
        uploaded = lapor_intake.upload_photo(_services(), request.form.get("token"), data, upload.filename,
                                             _address(), lang)
    except lapor_intake.Refused as refused:
        return _refused(refused)
    return _no_store(jsonify({"ref": uploaded.ref, "preview": uploaded.preview, "message": uploaded.message}))


@blueprint.get("/lapor/token")
def token():
    return _no_store(jsonify({"token": lapor_intake.new_visit(_services())}))


@blueprint.post("/lapor/send")
def send():
    body = request.get_json(silent=True)
    try:
        answer = lapor_intake.file_kept_report(_services(), body, _address(), _lang())
    except lapor_intake.Refused as refused:
        return _refused(refused)
    response = _no_store(jsonify(answer))
    response.status_code = 201
    return response


@blueprint.get("/lapor-sw.js")
def service_worker():
    response = send_file(ASSETS / "lapor-sw.js", mimetype="text/javascript", max_age=0)
    # Checked on every visit: a new form version reaches the phones on their next load.
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/lapor/manifest.webmanifest")
def manifest():
    lang = _lang()
    services = _services()
    body = {
        "name": t("lapor.app_name", lang, city=services.preset.name),
        "short_name": t("lapor.app_short", lang),
        "lang": lang,
        "start_url": f"/lapor?lang={lang}",
        "scope": "/lapor",
        "display": "standalone",
        "background_color": "#222222",
        "theme_color": "#375a7f",
        "icons": [{"src": f"/assets/icons/pantau-{size}.png", "sizes": f"{size}x{size}", "type": "image/png",
                   "purpose": "any"} for size in (192, 512)],
    }
    response = current_app.response_class(json.dumps(body, ensure_ascii=False),
                                          mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
