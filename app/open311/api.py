"""The Open311 GeoReport v2 blueprint: request parsing, errors in the spec's format, answers.

Reports POSTed here go through the same producer as every other source, so a
201 means the report is in the stream; GET answers read the SQL record.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import logging

import redis
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from app import duplicates, photos
from app.open311 import catalog, keys as api_keys, ratelimit, records
from app.open311.serializers import error, render
from app.reports import ReportInvalid
from config.catalogue import BY_CODE
from ingest.sources import RawReport

log = logging.getLogger(__name__)
blueprint = Blueprint("open311", __name__, url_prefix="/open311/v2")
OPENAPI = Path(__file__).with_name("openapi.json")
FORMATS = ("json", "xml")
_ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_]{1,40})\](\[\])?$")
_URL = re.compile(r"^https?://[^\s\x00-\x1f<>\"]{3,490}$")
_TOKEN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Refused(Exception):
    """An answer in the spec's error format: HTTP status and one precise line."""

    def __init__(self, status: int, description: str, headers: dict | None = None):
        super().__init__(description)
        self.status, self.description, self.headers = status, description, headers


def _services():
    return current_app.extensions["pantau"]


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Refused(400, f"format: use .json or .xml (got .{fmt[:10]})")
    return fmt


def _format_of_path() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


def _language() -> str:
    lang = request.values.get("lang") or _services().settings.language
    if lang not in ("id", "en"):
        raise Refused(400, "lang: must be id or en")
    return lang


def _check_jurisdiction() -> None:
    wanted = request.values.get("jurisdiction_id")
    if wanted and wanted != _services().preset.slug:
        raise Refused(404, f"jurisdiction_id: unknown jurisdiction {wanted[:40]!r} "
                           f"(this server serves {_services().preset.slug!r})")


def _limit(scope: str, subject: str, limit: int) -> None:
    services = _services()
    retry = ratelimit.hit(services.redis, services.keys, scope, subject, limit)
    if retry is not None:
        raise Refused(429, f"rate limit: at most {limit} requests a minute per {scope}; "
                           f"retry in {retry} s", {"Retry-After": str(retry)})


@blueprint.before_request
def _per_address_limit():
    try:
        _limit("address", request.remote_addr or "unknown", _services().settings.open311_address_rate)
    except Refused as refused:
        return error(_format_of_path(), refused.status, refused.description, refused.headers)
    except redis.RedisError:
        return error(_format_of_path(), 503, "service unavailable: try again shortly", {"Retry-After": "5"})
    return None


@blueprint.errorhandler(Refused)
def _refused(refused: Refused):
    return error(_format_of_path(), refused.status, refused.description, refused.headers)


@blueprint.errorhandler(ReportInvalid)
def _invalid(err: ReportInvalid):
    return error(_format_of_path(), 400, str(err))


@blueprint.errorhandler(redis.RedisError)
def _redis_down(_err):
    # Nothing was accepted: the client must retry (a 2xx would be a lie).
    return error(_format_of_path(), 503, "service unavailable: try again shortly", {"Retry-After": "5"})


@blueprint.errorhandler(HTTPException)
def _http(err: HTTPException):
    descriptions = {413: "request too large: at most 16 MB (photos at most 10 MB)",
                    405: "method not allowed", 404: "not found"}
    return error(_format_of_path(), err.code or 400,
                 descriptions.get(err.code, (err.description or err.name or "bad request")[:200]))


@blueprint.get("/openapi.json")
def openapi():
    return Response(OPENAPI.read_text(), mimetype="application/json")


@blueprint.get("/discovery.<fmt>")
def discovery(fmt: str):
    fmt = _fmt(fmt)
    services = _services()
    base = request.url_root.rstrip("/") + "/open311/v2/"
    payload = {
        "changeset": "2026-11-25T00:00:00Z",
        "contact": f"Pantau — {services.preset.name}",
        "key_service": "Ask the city's command center for an API key (python -m app.open311 keys create)",
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                       "changeset": "2026-11-25T00:00:00Z", "type": "production",
                       "formats": ["application/json", "text/xml"]}],
    }
    return render(fmt, "discovery", payload)


@blueprint.get("/services.<fmt>")
def service_list(fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    return render(fmt, "services", catalog.services(_language()))


@blueprint.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    category = BY_CODE.get(code)
    if category is None:
        raise Refused(404, f"service_code: unknown service {code[:40]!r}")
    return render(fmt, "service_definition", catalog.definition(category, _language()))


def _text(form, name: str) -> str | None:
    value = form.get(name)
    return value if value not in (None, "") else None


def _attributes(form) -> dict[str, list[str]]:
    submitted: dict[str, list[str]] = {}
    for name in form.keys():
        if not name.startswith("attribute"):
            continue
        match = _ATTRIBUTE.match(name)
        if not match:
            raise ReportInvalid(name[:60], "attributes are sent as attribute[code]=value "
                                            "(or attribute[code][]=value for lists)")
        submitted.setdefault(match.group(1), []).extend(form.getlist(name))
    return submitted


@blueprint.post("/requests.<fmt>")
def post_request(fmt: str):
    fmt = _fmt(fmt)
    services = _services()
    form = request.form
    raw_key = form.get("api_key") or request.args.get("api_key")
    if not raw_key:
        raise Refused(400, "api_key: is required to submit a request")
    key = api_keys.check_key(services.engine, raw_key)
    if key is None:
        raise Refused(403, "api_key: unknown or revoked key")
    _limit("key", key.key_id, key.rate_per_minute or services.settings.open311_key_rate)
    _check_jurisdiction()

    code = _text(form, "service_code")
    if code is None:
        raise Refused(400, "service_code: is required")
    if code not in BY_CODE:
        raise Refused(400, f"service_code: unknown service {code[:40]!r} (see services.{fmt})")
    lat, lng = _text(form, "lat"), _text(form, "long")
    if lat is None and lng is None:
        if _text(form, "address_string") or _text(form, "address_id"):
            raise Refused(400, "lat/long: required; this jurisdiction cannot place address_string "
                               "or address_id alone")
        raise Refused(400, "location: lat and long are required")
    if lat is None or lng is None:
        raise Refused(400, f"{'lat' if lat is None else 'long'}: is required with "
                           f"{'long' if lat is None else 'lat'}")
    attributes = catalog.check_attributes(code, _attributes(form))

    refs: list[str] = []
    media = _text(form, "media_url")
    if media is not None:
        if not _URL.match(media):
            raise Refused(400, "media_url: must be an http:// or https:// URL of at most 500 characters")
        refs.append(media)
    upload = request.files.get("media")
    if upload is not None and upload.filename:
        try:
            refs.insert(0, photos.store_photo(services.settings, upload.read(photos.MAX_BYTES + 1),
                                              upload.filename).ref)
        except photos.PhotoInvalid as err:
            raise Refused(400, f"media: {str(err).split(': ', 1)[-1]}") from None

    name = " ".join(part.strip() for part in (form.get("first_name") or "", form.get("last_name") or "")
                    if part.strip()) or None
    raw = RawReport(category=code, lat=lat, lng=lng, description=form.get("description") or "",
                    source="open311", reporter_name=name, reporter_phone=_text(form, "phone"),
                    reporter_email=_text(form, "email"), address=_text(form, "address_string"),
                    photos=tuple(refs), attributes=attributes)
    try:
        report = services.producer.validate(raw)
    except ReportInvalid as err:
        field = {"lng": "long", "reporter_name": "first_name/last_name", "reporter_phone": "phone",
                 "reporter_email": "email", "address": "address_string", "category": "service_code",
                 "photos": "media_url"}.get(err.field, err.field)
        raise Refused(400, f"{field}: {err.rule}") from None
    near = duplicates.find_likely_duplicates(services.engine, report.city, report.category,
                                             report.lat, report.lng)
    report = services.producer.append(report)
    try:
        duplicates.link_likely_duplicate(services.engine, report.id, [d["id"] for d in near])
    except SQLAlchemyError:
        # The report is already accepted; a missing staff hint must not turn that into an error.
        log.exception("could not link report %s to its likely duplicates", report.id)
    notice = None
    if near:
        notice = f"possible duplicate of {', '.join(d['ticket'] for d in near)}"
    return render(fmt, "requests", [{"service_request_id": report.ticket, "token": report.id,
                                     "service_notice": notice, "account_id": None}], 201)


@blueprint.get("/requests.<fmt>")
def get_requests(fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    services = _services()
    language = _language()
    wanted = records.parse_filter(request.args, datetime.now(timezone.utc))
    rows = records.find(services.engine, services.preset.slug, wanted)
    notes = records.public_notes(services.engine, [r.id for r in rows])
    return render(fmt, "requests", [records.to_public(r, services.preset, notes, request.url_root, language)
                                    for r in rows])


@blueprint.get("/requests/<request_id>.<fmt>")
def get_request(request_id: str, fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    services = _services()
    row = records.by_ticket(services.engine, services.preset.slug, request_id)
    if row is None:
        raise Refused(404, f"service_request_id: no request {request_id[:40]!r}")
    notes = records.public_notes(services.engine, [row.id])
    return render(fmt, "requests", [records.to_public(row, services.preset, notes, request.url_root,
                                                      _language())])


@blueprint.get("/tokens/<token>.<fmt>")
def get_token(token: str, fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    services = _services()
    if not _TOKEN.match(token):
        raise Refused(400, "token: must be the token a POST requests answered (a UUID)")
    row = records.by_id(services.engine, services.preset.slug, token)
    if row is None:
        raise Refused(404, "token: not found (a request submitted seconds ago may still be on its way)")
    return render(fmt, "requests", [{"service_request_id": row.ticket, "token": token}])
