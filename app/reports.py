"""A citizen report: its shape, its identity, and the validation that turns raw input into one.

Plain Python: no Flask, Dash or Redis. Sources hand in a ``RawReport``;
``build_report`` answers a ``Report`` or raises ``ReportInvalid`` naming the
field and the rule that failed.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone

import h3

from app import sla
from app.workflow import IMPORTABLE, RESOLVED, Status, aggregate_state
from config.catalogue import BY_CODE
from config.cities import CityPreset, resolve_category

# Every report is indexed once at this fine resolution; map resolutions are its parents.
BASE_RESOLUTION = 12
ID_NAMESPACE = uuid.UUID("6f1c2a4e-3b8d-5e77-9a41-70616e746175")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

MAX_DESCRIPTION = 2000
MAX_NAME = 100
MAX_ADDRESS = 300
MAX_PHOTOS = 5
MAX_PHOTO_REF = 500
MAX_SOURCE_REF = 120
PRIORITIES = ("low", "normal", "high", "urgent")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-.]{5,24}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,24}$")
_SOURCE = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
CLOCK_SKEW = timedelta(minutes=10)


class ReportInvalid(ValueError):
    """Raw input that cannot become a report; ``field`` names what is wrong."""

    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name
        self.rule = rule


@dataclass(frozen=True)
class Contact:
    """The reporter's private contact: never shown publicly, never in a live delta."""
    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def is_empty(self) -> bool:
        return not (self.name or self.phone or self.email)


@dataclass(frozen=True)
class Report:
    id: str
    ticket: str
    city: str
    category: str
    description: str
    lat: float
    lng: float
    h3_cell: str
    created_at: datetime          # UTC
    source: str
    status: str = Status.NEW.value
    source_ref: str | None = None
    kelurahan_code: str | None = None
    kelurahan_name: str | None = None
    kecamatan_code: str | None = None
    kecamatan_name: str | None = None
    address: str | None = None
    contact: Contact = field(default_factory=Contact)
    photos: tuple[str, ...] = ()
    agency: str | None = None
    team: str | None = None
    priority: str = "normal"
    sla_due_at: datetime | None = None
    resolved_at: datetime | None = None
    attributes: dict = field(default_factory=dict)
    version: int = 1
    duplicate_of: tuple[str, ...] = ()   # open reports nearby this one probably repeats (a hint for staff)
    secret_hash: str | None = None       # sha256 of the reporter's secret (app.reporter_secret), if filed with one

    @property
    def state(self) -> str:
        return aggregate_state(self.status)

    def to_dict(self) -> dict:
        """A JSON-ready dict (times as ISO 8601 UTC) for the stream."""
        # Field by field rather than dataclasses.asdict: this runs once per accepted report and
        # asdict deep-copies every value (a quarter of the Open311 POST's CPU time).
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        for key in ("created_at", "sla_due_at", "resolved_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        contact = self.contact
        data["contact"] = {"name": contact.name, "phone": contact.phone, "email": contact.email}
        data["photos"] = list(self.photos)
        data["duplicate_of"] = list(self.duplicate_of)
        data["attributes"] = {k: list(v) if isinstance(v, (list, tuple)) else v
                              for k, v in self.attributes.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        values = dict(data)
        for key in ("created_at", "sla_due_at", "resolved_at"):
            if values.get(key):
                values[key] = datetime.fromisoformat(values[key])
        values["contact"] = Contact(**(values.get("contact") or {}))
        values["photos"] = tuple(values.get("photos") or ())
        values["duplicate_of"] = tuple(values.get("duplicate_of") or ())
        return cls(**values)

    def public_summary(self, language: str = "id") -> dict:
        """What a live screen may show: no contact, no free text, location snapped to a res-9 hex."""
        return public_summary_of({"id": self.id, "ticket": self.ticket, "category": self.category,
                                  "kelurahan_name": self.kelurahan_name, "kecamatan_name": self.kecamatan_name,
                                  "h3_cell": self.h3_cell, "created_at": self.created_at.isoformat(),
                                  "status": self.status})


_FIELD_NAMES = tuple(f.name for f in fields(Report))


def public_summary_of(data: dict) -> dict:
    """``Report.public_summary`` of a report in its ``to_dict`` form (the aggregator reads only these
    fields of a stream event, without building the whole report)."""
    cell9 = h3.cell_to_parent(data["h3_cell"], 9)
    lat, lng = h3.cell_to_latlng(cell9)
    return {
        "id": data["id"], "ticket": data["ticket"], "category": data["category"],
        "kelurahan": data.get("kelurahan_name"), "kecamatan": data.get("kecamatan_name"),
        "cell9": cell9, "lat": round(lat, 5), "lng": round(lng, 5),
        "created_at": data["created_at"], "status": data["status"],
    }


def report_id_for(city: str, source: str, source_ref: str | None) -> str:
    """Deterministic for a source's own id (so replays dedupe), random otherwise."""
    if source_ref:
        return str(uuid.uuid5(ID_NAMESPACE, f"{city}:{source}:{source_ref}"))
    return str(uuid.uuid4())


def ticket_for(preset: CityPreset, report_id: str) -> str:
    """A short, unambiguous ticket number (Crockford base32, 50 bits) derived from the id."""
    bits = uuid.UUID(report_id).int >> 78
    chars = "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(45, -1, -5))
    return f"{preset.code}-{chars[:5]}-{chars[5:]}"


def _clean_text(value: str | None, field_name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReportInvalid(field_name, "must be text")
    text = value.replace("\x00", "").strip()
    if len(text) > limit:
        raise ReportInvalid(field_name, f"at most {limit} characters (got {len(text)})")
    return text or None


def _coordinate(value, field_name: str, low: float, high: float) -> float:
    if value is None or value == "":
        raise ReportInvalid(field_name, "is required")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReportInvalid(field_name, f"must be a number (got {str(value)[:40]!r})") from None
    if not (low <= number <= high) or number != number:
        raise ReportInvalid(field_name, f"must be between {low:g} and {high:g} (got {number:g})")
    return number


def _utc(value: datetime | None, field_name: str, now: datetime) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ReportInvalid(field_name, "must be a timezone-aware date and time")
    value = value.astimezone(timezone.utc)
    if value < EARLIEST or value > now + CLOCK_SKEW:
        raise ReportInvalid(field_name, f"must be between 2000-01-01 and now (got {value.isoformat()})")
    return value


def build_report(raw, preset: CityPreset, areas, now: datetime) -> Report:
    """Validate and normalise a ``RawReport`` into a ``Report`` for ``preset``.

    ``areas`` is an ``AreaIndex`` (empty when the city has no boundary file).
    """
    category = resolve_category(preset, raw.category) if isinstance(raw.category, str) else None
    if category is None:
        raise ReportInvalid("category", f"unknown category {str(raw.category)[:60]!r}")
    lat = _coordinate(raw.lat, "lat", -90.0, 90.0)
    lng = _coordinate(raw.lng, "lng", -180.0, 180.0)
    inside, area = areas.place(lat, lng)
    if not inside:
        raise ReportInvalid("location", f"({lat:.5f}, {lng:.5f}) is outside {preset.name}")

    source = raw.source or "web"
    if not _SOURCE.match(source):
        raise ReportInvalid("source", "must be a short lower-case channel name")
    source_ref = _clean_text(raw.source_ref, "source_ref", MAX_SOURCE_REF)
    description = _clean_text(raw.description, "description", MAX_DESCRIPTION) or ""
    address = _clean_text(raw.address, "address", MAX_ADDRESS)
    contact = Contact(
        name=_clean_text(raw.reporter_name, "reporter_name", MAX_NAME),
        phone=_clean_text(raw.reporter_phone, "reporter_phone", 30),
        email=_clean_text(raw.reporter_email, "reporter_email", 254),
    )
    if contact.phone and not _PHONE.match(contact.phone):
        raise ReportInvalid("reporter_phone", "must be a phone number such as +62 812 3456 7890")
    if contact.email and not _EMAIL.match(contact.email):
        raise ReportInvalid("reporter_email", "must be an e-mail address such as nama@contoh.id")
    photos = tuple(raw.photos or ())
    if len(photos) > MAX_PHOTOS:
        raise ReportInvalid("photos", f"at most {MAX_PHOTOS} photos")
    for ref in photos:
        if not isinstance(ref, str) or not ref or len(ref) > MAX_PHOTO_REF:
            raise ReportInvalid("photos", f"each photo reference is 1 to {MAX_PHOTO_REF} characters")
    priority = raw.priority or "normal"
    if priority not in PRIORITIES:
        raise ReportInvalid("priority", f"must be one of {', '.join(PRIORITIES)}")
    if not isinstance(raw.attributes, dict) or len(str(raw.attributes)) > 2000:
        raise ReportInvalid("attributes", "must be a small mapping of attribute code to value")

    created_at = _utc(raw.created_at, "created_at", now) or now
    status = Status.NEW
    if raw.status:
        try:
            status = Status(raw.status)
        except ValueError:
            raise ReportInvalid("status", f"unknown status {raw.status!r}") from None
        if status not in IMPORTABLE:
            raise ReportInvalid("status", "a new report may only start as new, resolved, closed or rejected")
    resolved_at = _utc(raw.resolved_at, "resolved_at", now)
    if aggregate_state(status) == RESOLVED:
        resolved_at = max(resolved_at or created_at, created_at)
    else:
        resolved_at = None

    entry = BY_CODE[category]
    agency = preset.agency_for(entry.agency_role).code
    report_id = report_id_for(preset.slug, source, source_ref)
    return Report(
        id=report_id, ticket=ticket_for(preset, report_id), city=preset.slug,
        category=category, description=description, lat=lat, lng=lng,
        h3_cell=h3.latlng_to_cell(lat, lng, BASE_RESOLUTION), created_at=created_at,
        source=source, status=status.value, source_ref=source_ref,
        kelurahan_code=area.code if area else None, kelurahan_name=area.name if area else None,
        kecamatan_code=area.district_code if area else None,
        kecamatan_name=area.district_name if area else None,
        address=address, contact=contact, photos=photos, agency=agency, priority=priority,
        sla_due_at=sla.resolution_due(category, priority, created_at), resolved_at=resolved_at,
        attributes=dict(raw.attributes),
    )
