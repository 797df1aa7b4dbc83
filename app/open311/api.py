"""The Open311 GeoReport v2 blueprint: request parsing, errors in the spec's format, answers.

Reports POSTed here go through the same producer as every other source, so a
201 means the report is in the stream; GET answers read the SQL record.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import logging

import redis
from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from app import photos, proof, reporter_secret
from app.open311 import api_keys, intake, records, service_definitions
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
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_:.\-]{1,64}$")
_MAX_LENGTHS = {"description": 2000, "address_string": 300, "media_url": 500, "phone": 30, "email": 254}
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


def _base_url() -> str:
    """Where clients reach this server (``PANTAU_PUBLIC_URL``): never the Host header a client sent."""
    return _services().settings.resolved_public_url()


def _language() -> str:
    lang = request.values.get("lang", _services().settings.language)
    if lang not in ("id", "en"):      # an empty value too, as the document says
        raise Refused(400, "lang: must be id or en")
    return lang


def _check_jurisdiction() -> None:
    wanted = request.values.get("jurisdiction_id")
    if wanted and wanted != _services().preset.slug:
        raise Refused(404, f"jurisdiction_id: unknown jurisdiction {wanted[:40]!r} "
                           f"(this server serves {_services().preset.slug!r})")


@blueprint.before_request
def _per_address_limit():
    """Every request counts against its client address's limit, through the intake script's
    counting step (a POST is counted by the script itself, in the same step as the append)."""
    if request.endpoint == "open311.post_request":
        return None
    try:
        _intake().gate(request.remote_addr or "unknown")
    except intake.IntakeRefused as refused:
        refusal = _refused_by_intake(refused)
        return error(_format_of_path(), refusal.status, refusal.description, refusal.headers)
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
@blueprint.errorhandler(SQLAlchemyError)
def _store_down(err):
    # Nothing was accepted: the client must retry (a 2xx would be a lie). POSTs with a key this
    # process has seen need only Redis; the rest (new keys, reads) need the database too.
    log.warning("Open311 answered 503: %s", type(err).__name__)
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
    base = _base_url() + "/open311/v2/"
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
    return render(fmt, "services", service_definitions.services(_language()))


@blueprint.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    category = BY_CODE.get(code)
    if category is None:
        raise Refused(404, f"service_code: unknown service {code[:40]!r}")
    return render(fmt, "service_definition", service_definitions.definition(category, _language()))


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


def _intake() -> intake.Intake:
    extensions = current_app.extensions
    if "pantau_intake" not in extensions:
        services = _services()
        extensions["pantau_intake"] = intake.Intake(services)
        extensions["pantau_key_cache"] = api_keys.KeyCache(services.engine)
    return extensions["pantau_intake"]


def _refused_by_intake(refused: intake.IntakeRefused) -> Refused:
    if refused.status == 403:
        return Refused(403, "api_key: unknown or revoked key")
    return Refused(429, f"rate limit: at most {refused.limit} requests a minute per {refused.scope}; "
                        f"retry in {refused.retry_after} s", {"Retry-After": str(refused.retry_after)})


def _report_from_form(fmt: str, services, key):
    """The validated report a POST describes (photo stored last); raises Refused with the precise field.

    With an ``Idempotency-Key`` header the report's id is derived from the API key and that
    header, so a client retrying after a timeout files the report once: the retry gets the same
    ticket and token, and the consumers count the repeated event as the same report.
    """
    _check_jurisdiction()
    idempotency = request.headers.get("Idempotency-Key")
    if idempotency is not None and not _IDEMPOTENCY_KEY.match(idempotency):
        raise Refused(400, "Idempotency-Key: 1 to 64 letters, digits, '-', '_', ':' or '.'")
    form = request.form
    for name, most in _MAX_LENGTHS.items():      # as the OpenAPI document says, before any trimming
        if len(form.get(name) or "") > most:
            raise Refused(400, f"{name}: at most {most} characters")
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
    try:
        attributes = service_definitions.check_attributes(code, _attributes(form))
    except ReportInvalid as err:
        raise Refused(400, str(err)) from None
    refs: list[str] = []
    media = _text(form, "media_url")
    if media is not None:
        if not _URL.match(media):
            raise Refused(400, "media_url: must be an http:// or https:// URL of at most 500 characters")
        refs.append(media)
    name = " ".join(part.strip() for part in (form.get("first_name") or "", form.get("last_name") or "")
                    if part.strip()) or None
    raw = RawReport(category=code, lat=lat, lng=lng, description=form.get("description") or "",
                    source="open311", reporter_name=name, reporter_phone=_text(form, "phone"),
                    reporter_email=_text(form, "email"), address=_text(form, "address_string"),
                    photos=tuple(refs), attributes=attributes,
                    source_ref=f"{key.key_id}:{idempotency}" if idempotency else None)
    try:
        return services.producer.validate(raw)
    except ReportInvalid as err:
        field = {"lng": "long", "reporter_name": "first_name/last_name", "reporter_phone": "phone",
                 "reporter_email": "email", "address": "address_string", "category": "service_code",
                 "photos": "media_url"}.get(err.field, err.field)
        raise Refused(400, f"{field}: {err.rule}") from None


@blueprint.post("/requests.<fmt>")
def post_request(fmt: str):
    """Accept one report. Precedence of refusals: address limit, api_key missing/unknown/revoked,
    key limit, then the format and the fields; every refused request counts against its limits too."""
    services, gate = _services(), _intake()
    address = request.remote_addr or "unknown"
    raw_key = request.form.get("api_key") or request.args.get("api_key")
    key = current_app.extensions["pantau_key_cache"].lookup(raw_key) if raw_key else None
    key_limit = (key.rate_per_minute or services.settings.open311_key_rate) if key else 0
    try:
        try:
            if key is None:
                raise Refused(400, "api_key: is required to submit a request") if not raw_key else \
                    Refused(403, "api_key: unknown or revoked key")
            fmt = _fmt(fmt)
            report = _report_from_form(fmt, services, key)
            # The reporter's secret (rating, disputing): derived from the report's id, so a retry with
            # the same Idempotency-Key answers the same one; only its hash travels and is stored.
            secret, report = reporter_secret.issue(current_app.config["SECRET_KEY"], report)
        except Refused:
            # Counted first: past a limit the answer is the 429, whatever else was wrong.
            gate.gate(address, key.key_id if key else None, key_limit)
            raise
        upload = request.files.get("media")
        if upload is not None and upload.filename:
            # Count before writing a file: a refused request leaves nothing on disk.
            gate.gate(address, key.key_id, key_limit)
            try:
                intake.RateGate(services.redis, services.keys).hit("upload", address,
                                                                    services.settings.upload_address_rate)
            except intake.IntakeRefused as refused:
                raise Refused(429, f"media: at most {refused.limit} photo uploads a minute per address; "
                                   f"retry in {refused.retry_after} s", {"Retry-After": str(refused.retry_after)}) from None
            try:
                raw_photo = upload.read(photos.MAX_BYTES + 1)
                # Pending until the report is accepted: a refused append leaves nothing kept.
                stored = photos.store_photo(services.settings, raw_photo, upload.filename, pending=True)
            except photos.PhotoInvalid as err:
                raise Refused(400, f"media: {str(err).split(': ', 1)[-1]}") from None
            except photos.PhotoBusy:
                raise Refused(503, "media: the server is busy with other photos; try again shortly",
                              {"Retry-After": str(photos.PhotoBusy.retry_after)}) from None
            report = replace(report, photos=(stored.ref, *report.photos))
            # Already counted: the append that follows must not count the request a second time.
            accepted = gate.accept(address, key.key_id, key_limit, report, count=False)
            photos.attach(services.settings, stored.ref)
            _index_before_photo(services, accepted.report, stored.ref, raw_photo)
        else:
            accepted = gate.accept(address, key.key_id, key_limit, report)
    except intake.IntakeRefused as refused:
        raise _refused_by_intake(refused) from None
    notice = None
    if accepted.duplicates:
        notice = f"possible duplicate of {', '.join(d['ticket'] for d in accepted.duplicates)}"
    return render(fmt, "requests", [{"service_request_id": accepted.report.ticket, "token": accepted.report.id,
                                     "service_notice": notice, "account_id": None,
                                     "reporter_secret": secret}], 201)


def _index_before_photo(services, report, ref: str, data: bytes) -> None:
    """The before photo's perceptual hash, from the upload's own bytes (``app.proof``): an officer's
    after photo that is this photo again is refused. A failure here never loses the report."""
    try:
        proof.index_photo(services.engine, report.city, report.id, ref, "before", proof.fingerprint(data)[0])
    except Exception:  # noqa: BLE001  hashed again from the stored copy when the report is resolved
        current_app.logger.warning("photo hash of %s not indexed at intake", ref, exc_info=True)


@blueprint.get("/requests.<fmt>")
def get_requests(fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    services = _services()
    language = _language()
    wanted = records.parse_filter(request.args, datetime.now(timezone.utc))
    rows = records.find(services.read_engine, services.preset.slug, wanted)
    notes = records.public_notes(services.read_engine, [r.id for r in rows])
    return render(fmt, "requests", [records.to_public(r, services.preset, notes, _base_url(), language,
                                                      services.areas) for r in rows])


@blueprint.get("/requests/<request_id>.<fmt>")
def get_request(request_id: str, fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    services = _services()
    row = records.by_ticket(services.read_engine, services.preset.slug, request_id)
    if row is None:
        raise Refused(404, f"service_request_id: no request {request_id[:40]!r}")
    notes = records.public_notes(services.read_engine, [row.id])
    return render(fmt, "requests", [records.to_public(row, services.preset, notes, _base_url(),
                                                      _language(), services.areas)])


@blueprint.get("/tokens/<token>.<fmt>")
def get_token(token: str, fmt: str):
    fmt = _fmt(fmt)
    _check_jurisdiction()
    services = _services()
    if not _TOKEN.match(token):
        raise Refused(400, "token: must be the token a POST requests answered (a UUID)")
    row = records.by_id(services.read_engine, services.preset.slug, token)
    if row is None:
        raise Refused(404, "token: not found (a request submitted seconds ago may still be on its way)")
    return render(fmt, "requests", [{"service_request_id": row.ticket, "token": token}])
