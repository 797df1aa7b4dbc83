"""The report form's plain endpoints beside its Dash page (the filing itself: ``app/lapor_intake``).

* ``POST /lapor/photo``: the form's photo (multipart field ``photo``, field ``token``), resized in
  the browser; answers ``{ref, preview, message}`` or ``{error, message}`` with a 4xx, the message
  in the citizen's language (``?lang=``).
* ``GET /lapor/token``: a new form visit, for a report kept on the phone past its page.
* ``POST /lapor/send``: a report kept on the phone while it had no signal (JSON, see
  ``lapor_intake.file_kept_report``); 201 with the ticket, the same again for the same ``key``.
* ``GET /lapor-sw.js``: the form's service worker (scope ``/lapor``), ``GET /lapor/manifest.webmanifest``:
  the installable form, named in the citizen's language.
* ``GET /lapor/unsubscribe/<token>``: the page of an update e-mail's unsubscribe link (a button,
  so a link scanner opening it changes nothing); ``POST`` the same: unsubscribed (the button, or a
  mail client's RFC 8058 one-click ``List-Unsubscribe=One-Click``). A bad token: 404.
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template_string, request, send_file

from app import citizen_mail, lapor_intake, photos
from app.i18n import t
from app.reports import ticket_for
from app.web_paths import url

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


_UNSUBSCRIBE = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title><style>
body{font-family:system-ui,sans-serif;background:#1b1d21;color:#f1f1f1;margin:0;line-height:1.5}
main{padding:1.5rem;max-width:32rem}a{color:#9ecbff}
button{font:inherit;font-size:1.1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#375a7f;color:#fff}
button:focus-visible,a:focus-visible{outline:3px solid #ffd54f;outline-offset:2px}
</style></head><body><main><h1>{{ title }}</h1>
{% if bad %}<p id="unsub-message" role="alert">{{ bad }}</p>
{% elif done %}<p id="unsub-message" role="status">{{ done }}</p>
{% else %}<p id="unsub-message">{{ ask }}</p><form method="post"><button type="submit" id="unsub-button">{{ button }}</button></form>{% endif %}
{% if track %}<p><a href="{{ track }}" id="unsub-track">{{ track_label }}</a></p>{% endif %}
</main></body></html>"""


@blueprint.route("/lapor/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token):
    lang = _lang()
    services = _services()
    engine = services.engine
    if request.method == "POST":
        row = citizen_mail.unsubscribe(engine, token, address=_address())
    else:
        row = citizen_mail.find(engine, token)
    if row is not None and row["city"] != services.preset.slug:
        row = None      # another city's link under this city's mount
    if row is not None and request.args.get("lang") not in ("id", "en"):
        lang = row["lang"]
    ticket = ticket_for(services.preset, row["report_id"]) if row else None
    done = row is not None and row["unsubscribed_at"] is not None
    page = render_template_string(
        _UNSUBSCRIBE, lang=lang, title=t("unsub.title", lang),
        bad=None if row else t("unsub.bad", lang),
        done=t("unsub.done", lang, ticket=ticket) if done else None,
        ask=t("unsub.ask", lang, ticket=ticket) if row else None, button=t("unsub.button", lang),
        track=url(f"/lacak/{ticket}?lang={lang}") if ticket else None, track_label=t("unsub.track", lang))
    response = _no_store(current_app.response_class(page, mimetype="text/html"))
    response.status_code = 200 if row else 404
    response.headers["Referrer-Policy"] = "no-referrer"     # the token never leaves in a Referer
    return response
