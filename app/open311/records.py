"""Open311 service requests read from the SQL record: filters, paging and the public shape.

Every spec field is present (None where unknown). Nothing personal is ever
selected: no reporter name, phone or e-mail; ``description`` is the text staff
approved for the public (``app.public.approve``), never the citizen's own words.
Sensitive categories are shown at the centre of their H3 resolution-7 cell,
without description or address.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import h3
from sqlalchemy import and_, select

from app import photos
from app.reports import ReportInvalid
from app.public import public_approved
from app.store import db
from app.workflow import Status
from config.catalogue import BY_CODE

DEFAULT_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
CLOSED = (Status.RESOLVED.value, Status.CLOSED.value, Status.REJECTED.value)
# Notes written for these moves explain the outcome to the public; other notes stay with staff.
PUBLIC_NOTE_STATUSES = (Status.RESOLVED.value, Status.CLOSED.value, Status.REJECTED.value,
                        Status.REOPENED.value)
COARSE_RESOLUTION = 7
# Free text reaches the public only as staff approved it (a citizen may write a phone number in it).
_PUBLIC_COLUMNS = (db.reports.c.id, db.reports.c.ticket, db.reports.c.category,
                   public_approved.c.public_text.label("description"), db.reports.c.lat, db.reports.c.lng, db.reports.c.h3_cell, db.reports.c.address,
                   db.reports.c.photos, db.reports.c.status, db.reports.c.agency,
                   db.reports.c.created_at, db.reports.c.updated_at, db.reports.c.sla_due_at)


def _public_select():
    return select(*_PUBLIC_COLUMNS).select_from(
        db.reports.outerjoin(public_approved, public_approved.c.report_id == db.reports.c.id))


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


def parse_datetime(value: str, field: str) -> datetime:
    text = value.strip()
    if len(text) > 40:
        raise ReportInvalid(field, "must be an ISO 8601 date and time such as 2026-11-25T08:00:00+07:00")
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
    if not value.strip().isdigit() or len(value.strip()) > 9:
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
    statuses = listed("status")
    for status in statuses:
        if status not in ("open", "closed"):
            raise ReportInvalid("status", f"must be open or closed (got {status[:20]!r})")
    dates = {name: parse_datetime(args[name], name) for name in
             ("start_date", "end_date", "updated_after", "updated_before") if args.get(name)}
    start, end = dates.get("start_date"), dates.get("end_date")
    if start and end and start > end:
        raise ReportInvalid("start_date", "must not be after end_date")
    if start is None and end is None and not ids:
        start = now - DEFAULT_SPAN        # the spec's default: the last 90 days
    elif start is None and end is not None:
        start = end - DEFAULT_SPAN
    page = _positive(args["page"], "page", 1_000_000) if args.get("page") else 1
    page_size = _positive(args["page_size"], "page_size", MAX_RESULTS) if args.get("page_size") else MAX_RESULTS
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
            conditions.append(db.reports.c.status.not_in(CLOSED))
        elif set(wanted.statuses) == {"closed"}:
            conditions.append(db.reports.c.status.in_(CLOSED))
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
        rows = conn.execute(select(db.report_events.c.report_id, db.report_events.c.note)
                            .where(db.report_events.c.report_id.in_(report_ids),
                                   db.report_events.c.to_status.in_(PUBLIC_NOTE_STATUSES),
                                   db.report_events.c.note.is_not(None))
                            .order_by(db.report_events.c.version))
        for row in rows:
            notes[row.report_id] = row.note
    return notes


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None


def media_url(refs: list[str], base_url: str) -> str | None:
    for ref in refs:
        if photos.is_ref(ref):
            return f"{base_url.rstrip('/')}/photos/{ref}"
        if isinstance(ref, str) and ref.startswith(("https://", "http://")):
            return ref
    return None


def to_public(row, preset, notes: dict[str, str], base_url: str, language: str) -> dict:
    zone = ZoneInfo(preset.timezone)
    category = BY_CODE.get(row.category)
    sensitive = bool(category and category.sensitive)
    if sensitive:
        lat, lng = h3.cell_to_latlng(h3.cell_to_parent(row.h3_cell, COARSE_RESOLUTION))
    else:
        lat, lng = row.lat, row.lng
    agency = next((a for a in preset.agencies if a.code == row.agency), None)
    return {
        "service_request_id": row.ticket,
        "status": "closed" if row.status in CLOSED else "open",
        "status_notes": notes.get(row.id),
        "service_name": category.name(language) if category else row.category,
        "service_code": row.category,
        "description": None if sensitive else (row.description or None),
        "agency_responsible": agency.name(language) if agency else row.agency,
        "service_notice": None,
        "requested_datetime": _local(row.created_at, zone),
        "updated_datetime": _local(row.updated_at, zone),
        "expected_datetime": _local(row.sla_due_at, zone),
        "address": None if sensitive else row.address,
        "address_id": None,
        "zipcode": None,
        "lat": round(lat, 5 if sensitive else 6),
        "long": round(lng, 5 if sensitive else 6),
        "media_url": None if sensitive else media_url(json.loads(row.photos or "[]"), base_url),
    }
