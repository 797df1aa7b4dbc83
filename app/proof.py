"""Proof of work for a field officer's start and resolve: presence, original photos, time, self-service.

* **Presence**: the phone's position and accuracy sent with start/resolve; the distance to the report
  is computed here. Within ``proof_radius_m`` (plus the accuracy; an accuracy worse than the radius
  never verifies) it is verified; otherwise, or with no position at all, "lokasi tidak terverifikasi"
  — flagged or refused per ``proof_location``.
* **Original photos**: a perceptual hash (pHash, 64 bits, ``imagehash``) of every before and after
  photo, computed from the uploaded bytes before ``app.photos`` strips their metadata. An after photo
  within ``proof_hash_refuse`` bits of the report's own before photo or of any earlier photo in the
  city is refused; within ``proof_hash_near`` it is saved and flagged.
* **Time**: the upload's own capture time (EXIF DateTimeOriginal, read before stripping, in the
  city's zone) earlier than the assignment is flagged.
* **Self-service**: a report filed by a staff account (its creation actor is ``role:username``, or
  its ``attributes.filed_by`` names one) resolved by the same person or agency is flagged.

The hash index: the 64 bits are cut into four 16-bit bands, each its own indexed column. Two hashes
within 7 bits differ in at most 1 bit in at least one band (pigeonhole), so looking up each band's
value and its 16 one-bit neighbours (4 x 17 indexed equality lookups) finds *every* stored hash within
7 bits; the candidates are then checked exactly. At a million photos a band value holds ~15 rows, so a
lookup reads ~1,000 rows (bench/tugas.py measures it).
"""
from __future__ import annotations

import io
import json
import math
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text

from app import photos
from app.store import db
from app.store.tables import (PHASH_BANDS as BANDS, photo_hashes, proof_flags, staff_memberships,
                              staff_users)

BAND_BITS = 16
MAX_INDEXED_DISTANCE = 7      # what the band lookup guarantees to find (see the module's text)
TIME_TOLERANCE = timedelta(minutes=5)   # phone clocks drift; a photo minutes before is not a fake


FLAG_KINDS = ("location_unverified", "photo_near_match", "photo_before_assignment", "self_service")


class ProofRefused(ValueError):
    """Refused for proof reasons; ``key`` names the catalogue text the screens show."""

    def __init__(self, field_name: str, rule: str, key: str, **values):
        super().__init__(f"{field_name}: {rule}")
        self.field, self.key, self.values = field_name, key, values


# ---- hashes --------------------------------------------------------------------------------------

def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def bands_of(phash: int) -> list[int]:
    value = _unsigned(phash)
    return [(value >> (BAND_BITS * i)) & 0xFFFF for i in range(BANDS)]


def distance(a: int, b: int) -> int:
    return (_unsigned(a) ^ _unsigned(b)).bit_count()


def fingerprint(data: bytes) -> tuple[int, datetime | None]:
    """(pHash as an unsigned 64-bit int, EXIF capture time as a naive local time or None) of an upload
    ``app.photos`` has already checked; the orientation is applied first, as in the stored copy."""
    import imagehash
    from PIL import Image, ImageOps

    image = Image.open(io.BytesIO(data))
    taken = None
    try:
        raw = image.getexif().get_ifd(0x8769).get(36867) or image.getexif().get(306)
        if raw:
            taken = datetime.strptime(str(raw).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except (ValueError, TypeError, OSError):
        taken = None
    upright = ImageOps.exif_transpose(image) or image
    value = int(str(imagehash.phash(upright.convert("RGB"))), 16)
    return value, taken


def fingerprint_file(path) -> int | None:
    try:
        with open(path, "rb") as handle:
            return fingerprint(handle.read())[0]
    except OSError:
        return None


def index_photo(engine, city: str, report_id: str, ref: str, kind: str, phash: int,
                taken_at: datetime | None = None, now: datetime | None = None, conn=None) -> None:
    if conn is None:
        with engine.begin() as conn:
            return index_photo(engine, city, report_id, ref, kind, phash, taken_at, now, conn)
    if conn.execute(select(photo_hashes.c.ref).where(photo_hashes.c.ref == ref)).first():
        return None
    conn.execute(photo_hashes.insert().values(
        ref=ref, city=city, report_id=report_id, kind=kind, phash=_signed(phash), taken_at=taken_at,
        created_at=now or datetime.now(timezone.utc), **{f"band{i}": b for i, b in enumerate(bands_of(phash))}))
    return None


def _candidates_sql():
    """One fixed-shape statement (4 bands x 17 values, bound by name) so its compiled form is cached
    and reused by every lookup; an expanding IN would be rendered again each time."""
    parts = []
    for i in range(BANDS):
        names = ", ".join(f":b{i}_{k}" for k in range(BAND_BITS + 1))
        parts.append(f"SELECT phash FROM photo_hashes WHERE city = :city AND band{i} IN ({names})")
    return text(" UNION ALL ".join(parts))


_CANDIDATES = _candidates_sql()
_MATCH = text("SELECT ref, report_id, kind, phash FROM photo_hashes "
              "WHERE city = :city AND band0 = :band0 AND phash = :phash")


_COMPILED: dict[str, object] = {}


def _driver_rows(conn, statement, params: dict) -> list[tuple]:
    """The rows of a textual statement straight from the driver's cursor, in the driver's own
    parameter style. The candidate lookup reads ~1,000 index entries; SQLAlchemy's per-row result
    processing cost more than the index lookups themselves (bench/tugas.py)."""
    dialect = conn.dialect
    compiled = _COMPILED.get(dialect.name)
    if compiled is None:
        compiled = _COMPILED[dialect.name] = statement.compile(dialect=dialect)
    args = [params[name] for name in compiled.positiontup] if compiled.positional else params
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, args)
        return cursor.fetchall()
    finally:
        cursor.close()


def similar(engine, city: str, phash: int, max_distance: int = MAX_INDEXED_DISTANCE) -> list[dict]:
    """Every stored photo of the city within ``max_distance`` bits (at most 7), nearest first.

    First the candidates' hashes only, from the covering band indexes (one statement); the rows of
    the few that are really within the distance are then read by their hash (band0 + phash)."""
    max_distance = min(max_distance, MAX_INDEXED_DISTANCE)
    params = {"city": city}
    for i, band in enumerate(bands_of(phash)):
        params[f"b{i}_0"] = band
        for k in range(BAND_BITS):
            params[f"b{i}_{k + 1}"] = band ^ (1 << k)
    target = _unsigned(phash)
    with engine.connect() as conn:
        candidates = {value for (value,) in _driver_rows(conn, _CANDIDATES, params)}
        close = [value for value in candidates if ((value & 0xFFFFFFFFFFFFFFFF) ^ target).bit_count() <= max_distance]
        rows = [row for value in close
                for row in conn.execute(_MATCH, {"city": city, "band0": bands_of(value)[0], "phash": value})]
    out = [{"ref": row.ref, "report_id": row.report_id, "kind": row.kind, "distance": distance(row.phash, phash)}
           for row in rows]
    return sorted(out, key=lambda m: m["distance"])


def ensure_before_indexed(engine, settings, report) -> None:
    """Hash the report's before photos from their stored copies if intake did not (older reports)."""
    refs = [ref for ref in json.loads(report.photos or "[]") if photos.is_ref(ref)]
    if not refs:
        return
    with engine.connect() as conn:
        known = {r.ref for r in conn.execute(select(photo_hashes.c.ref).where(photo_hashes.c.ref.in_(refs)))}
    for ref in refs:
        if ref not in known:
            value = fingerprint_file(photos.photo_path(settings, ref))
            if value is not None:
                index_photo(engine, report.city, report.id, ref, "before", value)


# ---- presence ------------------------------------------------------------------------------------

def parse_location(lat, lng, accuracy) -> dict | None:
    """The phone's position from a form/JSON body; None when none was sent. Raises ValueError
    naming the field for a malformed one."""
    if lat in (None, "") and lng in (None, ""):
        return None
    out = {}
    for name, raw, low, high in (("lat", lat, -90, 90), ("lng", lng, -180, 180), ("accuracy", accuracy, 0, 1e7)):
        if raw in (None, "") and name == "accuracy":
            out[name] = None
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: must be a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(f"{name}: must be between {low} and {high:g}")
        out[name] = value
    return out


def metres_between(lat1, lng1, lat2, lng2) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def presence(report, location: dict | None, radius_m: float) -> dict:
    """{verified, distance_m, accuracy_m, radius_m, reason} of a position against the report's point."""
    if location is None:
        return {"verified": False, "distance_m": None, "accuracy_m": None, "radius_m": radius_m,
                "reason": "no_location"}
    dist = metres_between(location["lat"], location["lng"], report.lat, report.lng)
    acc = location.get("accuracy")
    if acc is None or acc > radius_m:
        return {"verified": False, "distance_m": round(dist, 1), "accuracy_m": acc, "radius_m": radius_m,
                "reason": "imprecise"}
    ok = dist <= radius_m + acc
    return {"verified": ok, "distance_m": round(dist, 1), "accuracy_m": acc, "radius_m": radius_m,
            "reason": None if ok else "too_far"}


# ---- the checks of one action ----------------------------------------------------------------------

def assigned_at(engine, report) -> datetime:
    e = db.report_events
    with engine.connect() as conn:
        at = conn.execute(select(e.c.occurred_at).where(e.c.report_id == report.id, e.c.to_status == "dispatched")
                          .order_by(e.c.occurred_at.desc()).limit(1)).scalar()
    return at or report.created_at


def _filed_by(engine, report) -> str | None:
    """The staff username that filed the report, if a staff account did."""
    e = db.report_events
    with engine.connect() as conn:
        actor = conn.execute(select(e.c.actor).where(e.c.report_id == report.id, e.c.kind == "created")).scalar()
    if actor and ":" in actor and not actor.startswith("citizen:"):
        return actor.split(":", 1)[1]
    try:
        return (json.loads(report.attributes or "{}") or {}).get("filed_by") or None
    except (ValueError, AttributeError):
        return None


def _agency_in(engine, username: str, city: str) -> str | None:
    """The account's agency in ``city`` (its membership there: an account works in several cities,
    with an agency in each); an account written before memberships (0005) has its own city only."""
    m = staff_memberships
    with engine.connect() as conn:
        row = conn.execute(select(m.c.agency).where(m.c.username == username, m.c.city == city)).first()
        if row is not None:
            return row.agency
        return conn.execute(select(staff_users.c.agency).where(
            staff_users.c.username == username, staff_users.c.city == city,
            staff_users.c.username.notin_(select(m.c.username)))).scalar()


def self_service(engine, report, user) -> dict | None:
    """The report was filed by this person, or by someone of the agency this person works for in the
    report's city (both agencies read from the memberships of the report's city, never the city an
    account was first made in)."""
    filer = _filed_by(engine, report)
    if not filer:
        return None
    if filer == user.username:
        return {"filed_by": filer, "same": "person"}
    agency = _agency_in(engine, filer, report.city)
    if agency and agency == user.agency and user.city == report.city:
        return {"filed_by": filer, "same": "agency"}
    return None


def check_location(settings, report, location) -> tuple[dict, list[tuple[str, dict]]]:
    seen = presence(report, location, settings.proof_radius_m)
    if seen["verified"]:
        return seen, []
    if settings.proof_location == "refuse":
        raise ProofRefused("location", f"not verified at the site ({seen['reason']}): be within "
                                       f"{settings.proof_radius_m:g} m of the report with location allowed",
                           "proof.refused.location", radius=f"{settings.proof_radius_m:g}")
    return seen, [("location_unverified", seen)]


def check_after_photo(engine, settings, report, phash: int, taken_at: datetime | None, preset) -> list:
    """Refuses a reused after photo (ProofRefused); answers the flags of a near match and of a capture
    time before the assignment."""
    ensure_before_indexed(engine, settings, report)
    flags = []
    matches = similar(engine, report.city, phash, max(settings.proof_hash_refuse, settings.proof_hash_near))
    for match in matches:
        if match["distance"] <= settings.proof_hash_refuse:
            ticket = _ticket(engine, match["report_id"])
            own = match["report_id"] == report.id and match["kind"] == "before"
            raise ProofRefused("photo", f"this photo was used before (report {ticket}, {match['kind']} photo, "
                                        f"{match['distance']} bits apart): take a new photo at the site",
                               "proof.refused.own_before" if own else "proof.refused.reused", ticket=ticket)
    if matches:
        near = matches[0]
        flags.append(("photo_near_match", {"ref": near["ref"], "ticket": _ticket(engine, near["report_id"]),
                                           "distance": near["distance"]}))
    if taken_at is not None:
        from zoneinfo import ZoneInfo

        taken_utc = taken_at.replace(tzinfo=ZoneInfo(preset.timezone)).astimezone(timezone.utc)
        assigned = assigned_at(engine, report)
        assigned = assigned if assigned.tzinfo else assigned.replace(tzinfo=timezone.utc)
        if taken_utc < assigned - TIME_TOLERANCE:
            flags.append(("photo_before_assignment", {"taken_at": taken_utc.isoformat(),
                                                      "assigned_at": assigned.isoformat()}))
    return flags


def _ticket(engine, report_id: str) -> str:
    r = db.reports
    with engine.connect() as conn:
        return conn.execute(select(r.c.ticket).where(r.c.id == report_id)).scalar() or report_id[:8]


def record_flags(engine, report, action: str, actor: str, flags: list[tuple[str, dict]],
                 now: datetime | None = None) -> None:
    if not flags:
        return
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(proof_flags.insert(), [
            {"flag_id": f"{report.id}:{kind}:{uuid.uuid4().hex[:12]}", "report_id": report.id, "city": report.city,
             "action": action, "kind": kind, "actor": actor, "detail": json.dumps(detail, separators=(",", ":"),
                                                                                  default=str),
             "occurred_at": now} for kind, detail in flags])


def flags_of(engine, report_id: str) -> list[dict]:
    f = proof_flags
    with engine.connect() as conn:
        rows = conn.execute(select(f).where(f.c.report_id == report_id).order_by(f.c.occurred_at)).all()
    return [{"action": r.action, "kind": r.kind, "actor": r.actor, "detail": json.loads(r.detail),
             "at": r.occurred_at.isoformat()} for r in rows]
