"""The report form's filing without Dash: a photo upload and a report sent again from the phone.

Two ways reach it (``app/web_lapor.py``): the form's photo, resized in the browser and sent as a
plain multipart upload (a pending upload until its report is filed), and a report made with no
signal, kept on the phone and sent when the connection is back (``assets/lapor-sw.js``,
``assets/lapor-offline.js``). Such a report carries the phone's idempotency key: the report's id is
derived from it, so a resend (the answer lost on a bad network, the page reopened) files it once
and answers the same ticket and tracking secret.

The citizen reads words, never ``field: rule``: ``field_message`` and ``photo_message`` translate
the rules of ``app/reports.py`` and ``app/photos.py`` from the catalogue (the Dash form uses them
too). No Flask here: the blueprint passes plain values in and sends the answer out.
"""
from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass, replace

import redis

from app import citizen_mail, duplicates, photos, reporter_secret
from app.i18n import t
from app.open311.intake import IntakeRefused, RateGate
from app.reports import ReportInvalid
from ingest.sources import RawReport

log = logging.getLogger(__name__)

# The phone's idempotency key of a report kept offline: random, made once per report on the phone.
KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")

# Report fields -> the form's fields (an error's place: ``lapor-error-<field>``).
FIELD = {"category": "category", "lat": "location", "lng": "location", "location": "location",
         "description": "description", "reporter_name": "name", "reporter_phone": "phone",
         "reporter_email": "email", "photos": "photo"}
# What a refused field is set to so the next rule can be checked too (every error shown at once).
NEUTRAL = {"category": {"category": "other"}, "reporter_name": {"reporter_name": None},
           "reporter_phone": {"reporter_phone": None}, "reporter_email": {"reporter_email": None},
           "description": {"description": ""}, "photos": {"photos": ()}}


class Refused(Exception):
    """A request the form's endpoints answer with a 4xx/503: ``status``, the citizen's words, and
    per field (``errors``) when the form's fields were refused."""

    def __init__(self, status: int, message: str, errors: dict | None = None, retry_after: int | None = None,
                 code: str = "refused"):
        super().__init__(message)
        self.status, self.message, self.errors, self.retry_after, self.code = (
            status, message, errors or {}, retry_after, code)

    def body(self) -> dict:
        return {"error": self.code, "message": self.message, **({"errors": self.errors} if self.errors else {})}


def field_message(field: str, lang: str, city: str) -> str:
    if field == "location":
        return t("lapor.error.outside", lang, city=city)
    if field in ("category", "description", "name", "phone", "email", "photo"):
        return t(f"lapor.error.{field}", lang)
    return t("lapor.error.other", lang)


def photo_message(err: Exception, lang: str) -> str:
    """The citizen's words for a refused photo (``photos.PhotoInvalid``'s one line)."""
    text = str(err)
    for needle, key in (("MB", "too_large"), ("JPEG, PNG or WebP", "wrong_type"), ("empty", "empty"),
                        ("megapixels", "too_many_pixels"), ("damaged", "damaged"), ("unreadable", "damaged")):
        if needle in text:
            return t(f"lapor.photo.{key}", lang)
    return t("lapor.error.photo", lang)


def validate_all(validate, raw, errors: dict[str, str], lang: str, city: str):
    """``validate(raw)``, collecting every refused field (not only the first); the report or None."""
    for _ in range(len(FIELD) + 1):
        try:
            report = validate(raw)
            return None if errors else report
        except ReportInvalid as err:
            field = FIELD.get(err.field, "other")
            errors.setdefault(field, field_message(field, lang, city))
            if err.field not in NEUTRAL:
                return None
            raw = replace(raw, **NEUTRAL[err.field])
    return None


def _visit(services, token) -> str:
    visit = duplicates.visit_of(services.settings.resolved_secret_key(), token)
    if visit is None:
        # Only a form this server issued (and not older than a day) may upload or file.
        raise Refused(400, "token: not a form this server issued (ask /lapor/token for a new one)", code="form")
    return visit


def _limited(services, scope: str, address: str, limit: int, lang: str) -> None:
    try:
        RateGate(services.redis, services.keys).hit(scope, address, limit)
    except IntakeRefused as refused:
        raise Refused(429, t("lapor.error.limited", lang, seconds=refused.retry_after),
                      retry_after=refused.retry_after, code="limited") from None
    except (redis.ConnectionError, redis.TimeoutError):
        raise Refused(503, t("lapor.error.busy", lang), retry_after=5, code="busy") from None


def subscribe_updates(services, report, lang: str) -> bool:
    """Record the reporter's opt-in to updates by e-mail, once the report is filed. The report is
    kept whatever happens here: a database away loses the subscription, never the report."""
    try:
        return citizen_mail.subscribe(services.engine, services.settings.resolved_secret_key(), report.id,
                                      services.preset.slug, report.contact.email, lang)
    except Exception as err:    # noqa: BLE001  the filing already succeeded
        log.warning("updates by e-mail not recorded for %s: %s", report.id, err)
        return False


def new_visit(services) -> str:
    return duplicates.visit_token(services.settings.resolved_secret_key())


@dataclass(frozen=True)
class Uploaded:
    ref: str
    preview: str        # the thumbnail as a data: URL (pending photos are never served)
    message: str


def upload_photo(services, token, data: bytes, filename: str | None, address: str, lang: str) -> Uploaded:
    """A photo of the form, kept pending until its report is filed."""
    _visit(services, token)
    _limited(services, "upload", address, services.settings.upload_address_rate, lang)
    if len(data) > photos.MAX_BYTES:
        raise Refused(413, t("lapor.photo.too_large", lang), code="too_large")
    try:
        photo = photos.store_photo(services.settings, data, filename, pending=True)
    except photos.PhotoInvalid as err:
        raise Refused(415 if "JPEG, PNG or WebP" in str(err) else 400, photo_message(err, lang),
                      code="photo") from None
    except photos.PhotoBusy:
        raise Refused(503, t("lapor.error.photo_busy", lang), retry_after=photos.PhotoBusy.retry_after,
                      code="busy") from None
    return Uploaded(photo.ref, "data:image/jpeg;base64," + base64.b64encode(photo.thumb).decode(),
                    t("lapor.photo_ok", lang))


def _text(body: dict, name: str, limit: int = 4000) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(400, f"{name}: must be text of at most {limit} characters", code="invalid")
    return value


def _number(body: dict, name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value \
            or value in (float("inf"), float("-inf")):
        raise Refused(400, f"{name}: must be a number", code="invalid")
    return float(value)


def file_kept_report(services, body: dict, address: str, lang: str) -> dict:
    """File a report the phone kept while it had no signal. ``body``: ``token`` (a form visit),
    ``key`` (the phone's idempotency key), ``category``, ``lat``/``lng``, ``description``, ``photo``
    (a ref from ``upload_photo``), ``name``, ``phone``, ``email``, ``updates`` (true: e-mail the
    reporter each state change, ``app.citizen_mail``; needs ``email``). Answers the ticket, the private
    tracking link and the words to show; the same key answers the same again."""
    if not isinstance(body, dict):
        raise Refused(400, "body: must be a JSON object", code="invalid")
    _visit(services, body.get("token"))
    key = body.get("key")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise Refused(400, "key: 16 to 64 letters, digits, '_' or '-'", code="invalid")
    category, description = _text(body, "category", 40), _text(body, "description")
    name, phone, email = _text(body, "name", 200), _text(body, "phone", 60), _text(body, "email", 400)
    photo = _text(body, "photo", 80)
    lat, lng = _number(body, "lat"), _number(body, "lng")
    updates = body.get("updates", False)
    if not isinstance(updates, bool):
        raise Refused(400, "updates: must be true or false", code="invalid")
    if photo is not None and not photos.is_ref(photo):
        raise Refused(400, "photo: not a photo reference this server gave", code="invalid")
    settings, preset = services.settings, services.preset
    _limited(services, "form", address, settings.form_address_rate, lang)
    errors = {} if category else {"category": t("lapor.error.category", lang)}
    if lat is None or lng is None:
        errors["location"] = t("lapor.error.location", lang)
    if updates and not email:
        errors["email"] = t("lapor.error.updates_email", lang)
    raw = RawReport(category=category or "other", lat=lat if lat is not None else preset.center[0],
                    lng=lng if lng is not None else preset.center[1], description=description or "",
                    source="web", reporter_name=name, reporter_phone=phone, reporter_email=email,
                    photos=(photo,) if photo else (), source_ref=f"kept:{key}")
    report = validate_all(services.producer.validate, raw, errors, lang, preset.name)
    if report is None:
        raise Refused(422, t("lapor.error.summary", lang), errors=errors, code="fields")
    busy = Refused(503, t("lapor.error.busy", lang), retry_after=5, code="busy")
    try:
        near = duplicates.find_likely_duplicates(services.redis, services.keys, preset, report.category,
                                                 report.lat, report.lng, exclude=report.id)
    except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError):
        raise busy from None
    moved = False
    if photo:
        try:
            moved = photos.attach(settings, photo)
        except photos.PhotoInvalid:
            raise Refused(410, t("lapor.error.photo_expired", lang), code="photo_expired") from None
    secret, report = reporter_secret.issue(settings.resolved_secret_key(), report)
    try:
        # No one is there to choose "support it instead": filed, with the link to what it may repeat.
        report = services.producer.append(replace(report, duplicate_of=tuple(d["id"] for d in near)))
    except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError):
        if moved:
            photos.detach(settings, photo)
        raise busy from None
    if updates:
        subscribe_updates(services, report, lang)
    return {"ticket": report.ticket, "track": f"/lacak/{report.ticket}?lang={lang}#k={secret}",
            "again": f"/lapor?lang={lang}", "heading": t("lapor.thanks", lang),
            "track_label": t("lapor.track", lang), "again_label": t("lapor.again", lang),
            "keep": t("lapor.keep_link", lang)}
