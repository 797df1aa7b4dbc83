"""Replay a file of past reports into the pipeline: LA 311 CSV exports and Open311 dumps.

``read_records`` turns a file into ``RawReport``/``Rejected`` values, streaming,
never raising on a bad record; ``replay`` feeds them to a submit function in
batches, optionally paced so source time runs a fixed factor faster than wall time.
"""
from __future__ import annotations

import csv
import json
import re
import sys
import time
from collections import Counter
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from tqdm import tqdm

from ingest.sources import RawReport, Rejected

SOURCE = "replay"
LA_ZONE = ZoneInfo("America/Los_Angeles")
NOT_RECOGNISED = "not a LA 311 CSV or Open311 JSON/NDJSON file"


@dataclass(frozen=True)
class _LALayout:
    """Column names and time format of one LA 311 export layout."""
    ref: str
    created: str
    closed: str
    updated: str
    request_type: str
    status: str
    request_source: str
    lat: str
    lng: str
    address: str
    nc: str
    time_format: str


LA_2017 = _LALayout("SRNumber", "CreatedDate", "ClosedDate", "UpdatedDate", "RequestType", "Status",
                    "RequestSource", "Latitude", "Longitude", "Address", "NC", "%m/%d/%Y %I:%M:%S %p")
LA_2020 = _LALayout("srnumber", "createddate", "closeddate", "updateddate", "requesttype", "status",
                    "requestsource", "latitude", "longitude", "address", "nc", "%m/%d/%y %H:%M")

# LA status -> our final status; anything else (Open, Pending) stays open
LA_FINAL_STATUS = {"Closed": "closed", "Referred Out": "closed", "Cancelled": "rejected"}


class _BadRecord(Exception):
    """Internal: carries a rejection reason out of a field parser."""


def _with_content_ref(raw: RawReport, record, seen: Counter) -> RawReport:
    """A row without its own id gets one from its content, so replaying the file again files nothing
    new: ``content:<sha1 of the row>:<n>``, n counting identical rows within the file (two rows alike
    in every field stay two reports)."""
    if raw.source_ref:
        return raw
    import hashlib

    digest = hashlib.sha1(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    seen[digest] += 1
    raw.source_ref = f"content:{digest}:{seen[digest]}"
    return raw


# --------------------------------------------------------------------------- detection

def _detect(path: Path) -> tuple[str, _LALayout | None]:
    """Return ("la", layout), ("json", None) or ("ndjson", None); raise ValueError otherwise."""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        lines = [line.strip() for line, _ in zip((ln for ln in handle if ln.strip()), range(20))]
    first = lines[0] if lines else ""
    if first.startswith("["):
        return "json", None
    if first.startswith("{"):
        # NDJSON if any of the first lines is a whole request object on its own
        for line in lines:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return ("json", None) if "service_requests" in obj else ("ndjson", None)
        return "json", None   # a pretty-printed {"service_requests": [...]} document
    header = next(csv.reader([first]), [])
    for layout in (LA_2017, LA_2020):
        if {layout.ref, layout.created, layout.request_type, layout.lat, layout.lng} <= set(header):
            return "la", layout
    raise ValueError(f"{path}: {NOT_RECOGNISED}")


def read_records(path: Path) -> Iterator[RawReport | Rejected]:
    """Records of an LA 311 CSV or Open311 JSON/NDJSON file, format auto-detected.

    Raises ValueError at call time (before anything is yielded) for any other file.
    """
    path = Path(path)
    kind, layout = _detect(path)
    if kind == "la":
        return _read_la(path, layout)
    if kind == "ndjson":
        return _read_ndjson(path)
    return _read_json(path)


# --------------------------------------------------------------------------- shared field parsers

def _coordinates(raw_lat, raw_lng, lat_name: str, lng_name: str) -> tuple[float, float]:
    try:
        lat = float(raw_lat)
    except (TypeError, ValueError):
        raise _BadRecord(f"bad {lat_name} {raw_lat!r}") from None
    try:
        lng = float(raw_lng)
    except (TypeError, ValueError):
        raise _BadRecord(f"bad {lng_name} {raw_lng!r}") from None
    if not -90.0 <= lat <= 90.0:
        raise _BadRecord(f"{lat_name} out of range [-90, 90]: {lat}")
    if not -180.0 <= lng <= 180.0:
        raise _BadRecord(f"{lng_name} out of range [-180, 180]: {lng}")
    return lat, lng


def _not_before(resolved_at: datetime | None, created_at: datetime) -> datetime | None:
    # some exports close a request before it was created; keep the row, clamp the time
    if resolved_at is None:
        return None
    return max(resolved_at, created_at)


# --------------------------------------------------------------------------- LA 311 CSV

def _la_time(value: str, column: str, time_format: str) -> datetime:
    try:
        local = datetime.strptime(value.strip(), time_format)
    except ValueError:
        raise _BadRecord(f"bad {column} {value!r}") from None
    # fold=0: an ambiguous fall-back time is read as the first (daylight) occurrence
    return local.replace(tzinfo=LA_ZONE, fold=0).astimezone(timezone.utc)


def _la_row(row: dict[str, str], layout: _LALayout) -> RawReport:
    text = lambda column: (row.get(column) or "").strip()  # noqa: E731
    raw_lat, raw_lng = text(layout.lat), text(layout.lng)
    if not raw_lat or not raw_lng:
        raise _BadRecord("no coordinates")
    lat, lng = _coordinates(raw_lat, raw_lng, layout.lat, layout.lng)
    if lat == 0.0 or lng == 0.0:
        raise _BadRecord("no coordinates")   # LA exports write 0 for "not geocoded"
    created_at = _la_time(text(layout.created), layout.created, layout.time_format)
    la_status = text(layout.status)
    status = LA_FINAL_STATUS.get(la_status)
    resolved_at = None
    if status is not None:
        # a closed request with no ClosedDate was closed at its last update
        for column in (layout.closed, layout.updated):
            if text(column):
                resolved_at = _la_time(text(column), column, layout.time_format)
                break
    request_type = text(layout.request_type)
    address = text(layout.address) or None
    return RawReport(
        category=request_type,
        lat=lat,
        lng=lng,
        description=f"{request_type} at {address}" if address else request_type,
        created_at=created_at,
        source=SOURCE,
        source_ref=text(layout.ref) or None,
        status=status,
        resolved_at=_not_before(resolved_at, created_at),
        address=address,
        attributes={"la_status": la_status, "request_source": text(layout.request_source),
                    "nc": text(layout.nc)},
    )


def _read_la(path: Path, layout: _LALayout) -> Iterator[RawReport | Rejected]:
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.DictReader(handle)
        seen: Counter = Counter()
        for row in reader:
            ref = (row.get(layout.ref) or "").strip() or None
            try:
                yield _with_content_ref(_la_row(row, layout), row, seen)
            except _BadRecord as bad:
                yield Rejected(reader.line_num, str(bad), ref)


# --------------------------------------------------------------------------- Open311 GeoReport v2

def _iso_time(value, name: str) -> datetime:
    if not isinstance(value, str):
        raise _BadRecord(f"bad {name} {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _BadRecord(f"bad {name} {value!r}") from None
    if parsed.tzinfo is None:
        raise _BadRecord(f"no UTC offset in {name} {value!r}")
    return parsed.astimezone(timezone.utc)


def _optional_text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _open311_request(obj) -> RawReport:
    if not isinstance(obj, dict):
        raise _BadRecord(f"not a service request object: {type(obj).__name__}")
    category = _optional_text(obj.get("service_code")) or _optional_text(obj.get("service_name"))
    if category is None:
        raise _BadRecord("missing service_code/service_name")
    if obj.get("lat") in (None, "") or obj.get("long") in (None, ""):
        raise _BadRecord("missing lat/long")
    lat, lng = _coordinates(obj["lat"], obj["long"], "lat", "long")
    if obj.get("requested_datetime") in (None, ""):
        raise _BadRecord("missing requested_datetime")
    created_at = _iso_time(obj["requested_datetime"], "requested_datetime")
    open311_status = (_optional_text(obj.get("status")) or "open").lower()
    if open311_status not in ("open", "closed"):
        raise _BadRecord(f"bad status {obj.get('status')!r}")
    status, resolved_at = None, None
    if open311_status == "closed":
        status = "closed"
        if obj.get("updated_datetime") not in (None, ""):
            resolved_at = _iso_time(obj["updated_datetime"], "updated_datetime")
    media = obj.get("media_url")
    photos = tuple(m for m in (media if isinstance(media, list) else [media]) if isinstance(m, str) and m)
    name = " ".join(p for p in (_optional_text(obj.get("first_name")), _optional_text(obj.get("last_name"))) if p)
    return RawReport(
        category=category,
        lat=lat,
        lng=lng,
        description=_optional_text(obj.get("description")) or "",
        created_at=created_at,
        source=SOURCE,
        source_ref=_optional_text(obj.get("service_request_id")),
        status=status,
        resolved_at=_not_before(resolved_at, created_at),
        reporter_name=name or None,
        reporter_phone=_optional_text(obj.get("phone")),
        reporter_email=_optional_text(obj.get("email")),
        photos=photos,
        address=_optional_text(obj.get("address")),
    )


def _open311_records(objects: Iterable[tuple[int, object]]) -> Iterator[RawReport | Rejected]:
    seen: Counter = Counter()
    for number, obj in objects:
        ref = _optional_text(obj.get("service_request_id")) if isinstance(obj, dict) else None
        try:
            yield _with_content_ref(_open311_request(obj), obj, seen)
        except _BadRecord as bad:
            yield Rejected(number, str(bad), ref)


@dataclass(frozen=True)
class _BadJSON:
    """Internal: an NDJSON line that is not JSON."""
    reason: str


def _read_ndjson(path: Path) -> Iterator[RawReport | Rejected]:
    def parsed_lines():
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line.rstrip("\r\n"))
                except json.JSONDecodeError as err:
                    yield number, _BadJSON(f"bad JSON at line {number}: {err.msg} (column {err.colno})")

    for number, obj in parsed_lines():
        if isinstance(obj, _BadJSON):
            yield Rejected(number, obj.reason)
        else:
            yield from _open311_records([(number, obj)])


def _read_json(path: Path) -> Iterator[RawReport | Rejected]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig", errors="replace"))
    except json.JSONDecodeError as err:
        # the whole document is unreadable: one rejection that says where, not an exception
        yield Rejected(err.lineno, f"bad JSON at line {err.lineno}: {err.msg} (column {err.colno})")
        return
    requests = document.get("service_requests") if isinstance(document, dict) else document
    if not isinstance(requests, list):
        yield Rejected(1, "bad JSON at line 1: expected an array of service requests")
        return
    yield from _open311_records(enumerate(requests, start=1))


# --------------------------------------------------------------------------- replay

@dataclass
class ReplayStats:
    read: int = 0
    submitted: int = 0
    rejected: int = 0
    rejected_by_reason: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    shift: timedelta | None = None    # what --shift-to-now added to every time in the file


def reason_kind(reason: str) -> str:
    """A rejection reason without its offending value, so counts stay grouped."""
    return re.split(r" '| \"| at line|:| -?\d", reason, maxsplit=1)[0]


def last_created(path: Path) -> datetime | None:
    """The newest ``created_at`` in a file (one pass over it)."""
    newest = None
    for record in read_records(path):
        if isinstance(record, RawReport) and record.created_at is not None:
            newest = record.created_at if newest is None else max(newest, record.created_at)
    return newest


def shifted(records, offset: timedelta):
    """The records with every time moved by ``offset`` (creation and resolution alike)."""
    for record in records:
        if isinstance(record, RawReport) and offset:
            record = dataclasses.replace(
                record, created_at=record.created_at + offset if record.created_at else None,
                resolved_at=record.resolved_at + offset if record.resolved_at else None)
        yield record


def replay(path: Path, submit: Callable[[list[RawReport]], None], speedup: float = 0.0,
           batch: int = 500, progress: bool = True, clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep, shift_to: datetime | None = None) -> ReplayStats:
    """Feed a file's reports to ``submit`` in batches of up to ``batch``.

    ``speedup`` 0 submits as fast as possible; S > 0 paces submissions so that
    source time (``created_at``) passes S times faster than wall time.
    ``shift_to`` (an aware moment, e.g. now) moves every time in the file by one offset so that
    its newest report was filed at that moment: an old file becomes the last days of a live city.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    if speedup < 0:
        raise ValueError(f"speedup must be 0 or positive, got {speedup}")
    if shift_to is not None and shift_to.tzinfo is None:
        raise ValueError("shift_to must be timezone-aware")
    records = read_records(path)
    stats = ReplayStats()
    if shift_to is not None:
        newest = last_created(path)
        stats.shift = (shift_to - newest) if newest is not None else timedelta(0)
        records = shifted(records, stats.shift)
    started = clock()
    pending: list[RawReport] = []
    source_origin: datetime | None = None
    source_now: datetime | None = None
    bar = tqdm(records, unit=" rows", file=sys.stderr, disable=not progress, desc=Path(path).name)

    def flush() -> None:
        if pending:
            submit(list(pending))
            stats.submitted += len(pending)
            pending.clear()
        bar.set_postfix(rejected=stats.rejected, refresh=False)

    try:
        for record in bar:
            stats.read += 1
            if isinstance(record, Rejected):
                stats.rejected += 1
                stats.rejected_by_reason[reason_kind(record.reason)] += 1
                continue
            if speedup > 0 and record.created_at is not None:
                if source_origin is None:
                    source_origin = source_now = record.created_at
                # input is mostly sorted: a late record goes out at once, it never turns the clock back
                source_now = max(source_now, record.created_at)
                due = started + (source_now - source_origin).total_seconds() / speedup
                wait = due - clock()
                if wait > 0:
                    flush()
                    sleep(wait)
            pending.append(record)
            if len(pending) >= batch:
                flush()
        flush()
    finally:
        bar.close()
    stats.seconds = clock() - started
    return stats
