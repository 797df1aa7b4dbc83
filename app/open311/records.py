"""Open311 service requests read from the SQL record: filters, paging and the public shape.

Every spec field is present (None where unknown). Nothing a citizen wrote is ever selected: no
reporter name, phone or e-mail, no ``address_string``; ``description`` is the text staff approved
for the public (``app.store.approvals.approve``), ``address`` the place from the boundaries ("Kel. Pluit,
Kec. Penjaringan, Jakarta Utara"), ``status_notes`` a staff note that passed the public-text
check, ``media_url`` a photo of ours staff approved (never an external URL a POST carried).
Sensitive categories follow the kiosk's rule (only aggregated, at resolution 6 with k >= 5, in
``/api/public/hexes``): Open311 never lists them one by one (not in ``GET requests``, 404 from
``requests/{id}``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select

from app import photos
from app.areas import place_label
from app.auth.permissions import ROLES
from app.reports import ReportInvalid
from app.privacy import has_contact, is_sensitive
from app.store import db
from app.store.tables import public_approved
from app.workflow import CLOSED_STATUSES, Status
from config.catalogue import BY_CODE

DEFAULT_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
MAX_PAGE = 1_000_000
# Notes written for these moves explain the outcome to the public; other notes stay with staff.
PUBLIC_NOTE_STATUSES = (Status.RESOLVED.value, Status.CLOSED.value, Status.REJECTED.value,
                        Status.REOPENED.value)
# Notes by these actors may be public (staff, the automatic closing, the simulator); a citizen's
# own (a rating's comment, a dispute's reason) never are.
PUBLIC_NOTE_ACTORS = (*ROLES, "system", "simulator")
# Listed one by one: the ordinary categories only (the kiosk's rule keeps the sensitive ones aggregated).
ORDINARY_CODES = tuple(code for code in BY_CODE if not is_sensitive(code))
# Free text reaches the public only as staff approved it (a citizen may write a phone number in it).
_PUBLIC_COLUMNS = (db.reports.c.id, db.reports.c.ticket, db.reports.c.category,
                   public_approved.c.public_text.label("description"),
                   public_approved.c.report_id.label("approved_id"), db.reports.c.lat, db.reports.c.lng,
                   db.reports.c.kelurahan_code, db.reports.c.kelurahan_name, db.reports.c.kecamatan_name,
                   db.reports.c.photos, db.reports.c.status, db.reports.c.agency,
                   db.reports.c.created_at, db.reports.c.updated_at, db.reports.c.sla_due_at)


def _public_select():
    return (select(*_PUBLIC_COLUMNS)
            .select_from(db.reports.outerjoin(public_approved, public_approved.c.report_id == db.reports.c.id))
            .where(db.reports.c.category.in_(ORDINARY_CODES)))


def public_note(to_status: str, actor: str | None, note: str | None) -> str | None:
    """The note of a status change as the public may see it, or None: only for outcomes
    (``PUBLIC_NOTE_STATUSES``), only by staff or the system, never with a phone number or an
    e-mail address in it (the check published texts pass, ``app.privacy.has_contact``)."""
    if not note or to_status not in PUBLIC_NOTE_STATUSES:
        return None
    if (actor or "").split(":", 1)[0] not in PUBLIC_NOTE_ACTORS or has_contact(note):
        return None
    return note


@dataclass(frozen=True)
class RequestFilter:
    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()          # open / closed
    start: datetime | None = None
    end: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    page: int = 1
    page_size: int = MAX_RESULTS


# What the OpenAPI document says a date-time parameter is (RFC 3339 with an offset, years 1970-2200).
DATE_TIME = re.compile(r"^(19[7-9][0-9]|2[01][0-9][0-9]|2200)-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]"
                       r":[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
STATUS_LIST = re.compile(r"^(open|closed)(,(open|closed))*$")


def parse_datetime(value: str, field: str) -> datetime:
    text = value
    if len(text) > 40 or not DATE_TIME.match(text):
        raise ReportInvalid(field, "must be an ISO 8601 date and time with an offset, years 1970 to 2200, "
                                   f"such as 2026-11-25T08:00:00+07:00 (got {text[:40]!r})")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ReportInvalid(field, f"must be an ISO 8601 date and time such as 2026-11-25T08:00:00+07:00 "
                                   f"(got {text[:40]!r})") from None
    if moment.tzinfo is None:
        raise ReportInvalid(field, "must carry a time zone offset such as +07:00 or Z")
    if not (1970 <= moment.year <= 2200):
        raise ReportInvalid(field, "must be between 1970 and 2200")
    return moment.astimezone(timezone.utc)


def _positive(value: str, field: str, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise ReportInvalid(field, f"must be a whole number from 1 to {high}")
    number = int(value)
    if not 1 <= number <= high:
        raise ReportInvalid(field, f"must be a whole number from 1 to {high}")
    return number


def parse_filter(args, now: datetime) -> RequestFilter:
    """The filter a GET requests query asks for; ReportInvalid names a bad parameter."""
    def listed(name: str) -> tuple[str, ...]:
        raw = args.get(name)
        return tuple(part.strip() for part in raw.split(",") if part.strip()) if raw else ()

    ids = listed("service_request_id")
    if len(ids) > MAX_RESULTS:
        raise ReportInvalid("service_request_id", f"at most {MAX_RESULTS} ids")
    codes = listed("service_code")
    for code in codes:
        if code not in BY_CODE:
            raise ReportInvalid("service_code", f"unknown service {code[:40]!r}")
    if "status" in args and not STATUS_LIST.match(args["status"]):
        raise ReportInvalid("status", f"must be open, closed or open,closed (got {args['status'][:20]!r})")
    statuses = listed("status")
    # An empty value is refused like any other that is not a date and time (the document says so).
    dates = {name: parse_datetime(args[name], name) for name in
             ("start_date", "end_date", "updated_after", "updated_before") if name in args}
    start, end = dates.get("start_date"), dates.get("end_date")
    if start and end and start > end:
        raise ReportInvalid("start_date", "must not be after end_date")
    if start is None and end is None and not ids:
        start = now - DEFAULT_SPAN        # the spec's default: the last 90 days
    elif start is None and end is not None:
        start = end - DEFAULT_SPAN
    page = _positive(args["page"], "page", MAX_PAGE) if "page" in args else 1
    page_size = _positive(args["page_size"], "page_size", MAX_RESULTS) if "page_size" in args else MAX_RESULTS
    return RequestFilter(ids, codes, statuses, start, end, dates.get("updated_after"),
                         dates.get("updated_before"), page, page_size)


def find(engine, city: str, wanted: RequestFilter) -> list:
    conditions = [db.reports.c.city == city]
    if wanted.ids:
        conditions.append(db.reports.c.ticket.in_(wanted.ids))
    else:
        if wanted.service_codes:
            conditions.append(db.reports.c.category.in_(wanted.service_codes))
        if wanted.statuses == ("open",) or set(wanted.statuses) == {"open"}:
            conditions.append(db.reports.c.status.not_in(CLOSED_STATUSES))
        elif set(wanted.statuses) == {"closed"}:
            conditions.append(db.reports.c.status.in_(CLOSED_STATUSES))
        if wanted.start:
            conditions.append(db.reports.c.created_at >= wanted.start)
        if wanted.end:
            conditions.append(db.reports.c.created_at <= wanted.end)
        if wanted.updated_after:
            conditions.append(db.reports.c.updated_at >= wanted.updated_after)
        if wanted.updated_before:
            conditions.append(db.reports.c.updated_at <= wanted.updated_before)
    query = (_public_select().where(and_(*conditions))
             .order_by(db.reports.c.created_at.desc(), db.reports.c.id)
             .limit(wanted.page_size).offset((wanted.page - 1) * wanted.page_size))
    with engine.connect() as conn:
        return conn.execute(query).all()


def by_ticket(engine, city: str, ticket: str):
    with engine.connect() as conn:
        return conn.execute(_public_select().where(db.reports.c.city == city,
                                                           db.reports.c.ticket == ticket)).first()


def by_id(engine, city: str, report_id: str):
    with engine.connect() as conn:
        return conn.execute(select(db.reports.c.id, db.reports.c.ticket)
                            .where(db.reports.c.city == city, db.reports.c.id == report_id)).first()


def public_notes(engine, report_ids: list[str]) -> dict[str, str]:
    """report id -> the latest note written for a public outcome (resolved, rejected...)."""
    if not report_ids:
        return {}
    notes: dict[str, str] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(db.report_events.c.report_id, db.report_events.c.note,
                                   db.report_events.c.to_status, db.report_events.c.actor)
                            .where(db.report_events.c.report_id.in_(report_ids),
                                   db.report_events.c.to_status.in_(PUBLIC_NOTE_STATUSES),
                                   db.report_events.c.note.is_not(None))
                            .order_by(db.report_events.c.version))
        for row in rows:
            shown = public_note(row.to_status, row.actor, row.note)
            if shown:
                notes[row.report_id] = shown
    return notes


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None


def media_url(refs: list[str], base_url: str) -> str | None:
    """The first photo of ours (an external URL a POST carried is never republished)."""
    for ref in refs:
        if photos.is_ref(ref):
            return f"{base_url.rstrip('/')}/photos/{ref}"
    return None


def to_public(row, preset, notes: dict[str, str], base_url: str, language: str, areas=None) -> dict:
    """One request as the public sees it; ``areas`` (an ``AreaIndex``) names the place."""
    zone = ZoneInfo(preset.timezone)
    category = BY_CODE.get(row.category)
    if category is None or category.sensitive:   # never selected (_public_select); refused if ever given
        raise ValueError("sensitive reports are not listed one by one")
    lat, lng = row.lat, row.lng
    agency = next((a for a in preset.agencies if a.code == row.agency), None)
    place = place_label(areas.by_code(row.kelurahan_code) if areas is not None else None,
                        row.kelurahan_name, row.kecamatan_name, fallback=preset.name)
    approved = row.approved_id is not None
    return {
        "service_request_id": row.ticket,
        "status": "closed" if row.status in CLOSED_STATUSES else "open",
        "status_notes": notes.get(row.id),
        "service_name": category.name(language) if category else row.category,
        "service_code": row.category,
        "description": row.description or None,
        "agency_responsible": agency.name(language) if agency else row.agency,
        "service_notice": None,
        "requested_datetime": _local(row.created_at, zone),
        "updated_datetime": _local(row.updated_at, zone),
        "expected_datetime": _local(row.sla_due_at, zone),
        "address": place,
        "address_id": None,
        "zipcode": None,
        "lat": round(lat, 6),
        "long": round(lng, 6),
        # Photos are public only once staff published the report (app.staff.actions.publish).
        "media_url": media_url(json.loads(row.photos or "[]"), base_url) if approved else None,
    }
