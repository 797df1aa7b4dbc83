"""H3 hexbin aggregation as pure functions: events in, counter increments out.

Redis only stores what these functions compute (``ingest.aggregator`` applies
them atomically); ``rebuild`` feeds the same functions from SQL, so the
incremental state and a from-scratch recount are equal by construction.

Counts are kept per H3 cell at each map resolution, per category and per
state (o open, r resolved, x rejected), in time buckets of the report's
creation time: ``all`` (no bucket), ``m5`` (5 minutes), ``h`` (UTC hour) and
``d`` (the city's local calendar day). Resolutions are also counted city-wide
in buckets of the resolution time, with a time-to-resolve histogram.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import h3

from app.workflow import OPEN, RESOLVED, aggregate_state

MAP_RESOLUTIONS = (6, 7, 8, 9, 10)     # what the maps show
# What the counters keep: every report is counted at these three, and a resolution between two is
# the next finer kept one summed by parent cell as it is read (``coarsen_fields``: app.queries,
# app.live). Counting all five cost 13 HINCRBY a report in the aggregator's script after a batch's
# increments are combined; these three cost 8 (bench/cluster.py). 6 is what the KPIs and the
# overview read, 8 what spikes are found at; 7 and 9 are read at the map's middle zooms only.
STORED_RESOLUTIONS = (6, 8, 10)
DAY = 86400


@dataclass(frozen=True)
class Granularity:
    name: str
    seconds: int | None      # None: the city's local calendar day
    retention_s: int | None  # None: kept for ever


GRANULARITIES = (
    Granularity("all", None, None),
    Granularity("m5", 300, 2 * DAY),
    Granularity("h", 3600, 8 * DAY),
    Granularity("d", None, 400 * DAY),
)
BUCKETED = tuple(g for g in GRANULARITIES if g.name != "all")
BY_NAME = {g.name: g for g in GRANULARITIES}


@lru_cache(maxsize=4096)
def _local_day_end(ordinal: int, tz_name: str) -> int:
    midnight = datetime.combine(date.fromordinal(ordinal + 1), time(0), ZoneInfo(tz_name))
    return int(midnight.timestamp())


def local_day(ts: float, tz_name: str) -> int:
    """The city's local calendar day of a UTC timestamp, as a date ordinal."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz_name)).date().toordinal()


def bucket_of(granularity: Granularity, ts: float, tz_name: str) -> int:
    if granularity.seconds is None:
        return local_day(ts, tz_name)
    return int(ts // granularity.seconds)


def bucket_end(granularity: Granularity, bucket: int, tz_name: str) -> int:
    if granularity.seconds is None:
        return _local_day_end(bucket, tz_name)
    return (bucket + 1) * granularity.seconds


def bucket_start(granularity: Granularity, bucket: int, tz_name: str) -> int:
    if granularity.seconds is None:
        return _local_day_end(bucket - 1, tz_name)
    return bucket * granularity.seconds


def expiry(granularity: Granularity, bucket: int, tz_name: str) -> int | None:
    """When a bucket's key expires (and from then on is neither written nor rebuilt)."""
    if granularity.retention_s is None:
        return None
    return bucket_end(granularity, bucket, tz_name) + granularity.retention_s


def stored_resolution(resolution: int) -> int:
    """The kept resolution a map resolution is read from: itself, or the next finer kept one."""
    for kept in STORED_RESOLUTIONS:
        if kept >= resolution:
            return kept
    raise ValueError(f"resolution {resolution} is finer than any kept ({STORED_RESOLUTIONS[-1]})")


@lru_cache(maxsize=1 << 18)
def parent_of(cell: str, resolution: int) -> str:
    """``h3.cell_to_parent``, remembered: a read at a derived resolution asks it of every kept cell."""
    return h3.cell_to_parent(cell, resolution)


def coarsen_fields(fields: dict[str, int], resolution: int) -> dict[str, int]:
    """``cell|category|state`` counts at a finer kept resolution, summed by their ``resolution`` parent."""
    out: dict[str, int] = {}
    for name, count in fields.items():
        cell, rest = name.split("|", 1)
        key = f"{parent_of(cell, resolution)}|{rest}"
        out[key] = out.get(key, 0) + count
    return out


def coarsen_cells(cells: dict[str, int], resolution: int) -> dict[str, int]:
    """cell -> count at a finer kept resolution, summed by their ``resolution`` parent."""
    out: dict[str, int] = {}
    for cell, count in cells.items():
        parent = parent_of(cell, resolution)
        out[parent] = out.get(parent, 0) + count
    return out


def cell_field(cell: str, category: str, state: str) -> str:
    return f"{cell}|{category}|{state}"


def parse_cell_field(field: str) -> tuple[str, str, str]:
    cell, category, state = field.split("|")
    return cell, category, state


# Time-to-resolve histogram: log bins of 12.5% width, from one minute up.
_TTR_BASE = 1.125


def ttr_bin(seconds: float) -> int:
    minutes = max(seconds, 0.0) / 60.0
    return 0 if minutes < 1 else 1 + int(math.log(minutes) / math.log(_TTR_BASE))


def ttr_bin_seconds(bin_index: int) -> float:
    """The geometric middle of a bin, in seconds."""
    if bin_index == 0:
        return 30.0
    low = _TTR_BASE ** (bin_index - 1)
    return 60.0 * low * math.sqrt(_TTR_BASE)


def median_from_histogram(histogram: dict[int, int]) -> float | None:
    total = sum(histogram.values())
    if total <= 0:
        return None
    half, seen = total / 2.0, 0
    for bin_index in sorted(histogram):
        seen += histogram[bin_index]
        if seen >= half:
            return ttr_bin_seconds(bin_index)
    return None


@dataclass(frozen=True)
class Record:
    """What the aggregates count for one report; stored per report id."""
    cell: str            # the report's base-resolution H3 cell
    category: str
    created_ts: int
    state: str           # o / r / x
    version: int
    resolved_ts: int = 0
    due_ts: int = 0

    def encode(self) -> str:
        return "|".join((self.cell, self.category, str(self.created_ts), self.state,
                         str(self.version), str(self.resolved_ts), str(self.due_ts)))

    @classmethod
    def decode(cls, raw: str) -> "Record":
        cell, category, created, state, version, resolved, due = raw.split("|")
        return cls(cell, category, int(created), state, int(version), int(resolved), int(due))


@dataclass
class Effects:
    """Counter changes for a batch, merged so each (key, field) is written once."""
    incr: dict[tuple[str, str], int]
    expire: dict[str, int]
    records: dict[str, str]
    sla_add: dict[str, int]
    sla_remove: set[str]
    transitions: list[list]      # [cell, category, from_state, to_state, created_ts] for live screens
    dup_add: dict[str, dict[str, int]] = field(default_factory=dict)   # dup index key -> {report id: created}
    dup_remove: dict[str, set[str]] = field(default_factory=dict)      # dup index key -> report ids

    @classmethod
    def empty(cls) -> "Effects":
        return cls({}, {}, {}, {}, set(), [])

    def add(self, key: str, field: str, delta: int, expires_at: int | None) -> None:
        self.incr[(key, field)] = self.incr.get((key, field), 0) + delta
        if expires_at is not None:
            self.expire[key] = expires_at

    def nonzero_incr(self) -> list[tuple[str, str, int]]:
        return [(key, field, delta) for (key, field), delta in self.incr.items() if delta]


SLOT_S = 300   # every bucket boundary (5 min, hour, local midnight: zones are offset by whole 5 min) is one


@lru_cache(maxsize=65536)
def _buckets_of_slot(slot: int, tz_name: str) -> tuple:
    """(granularity, bucket, expires_at) of every granularity for a moment in 5-minute slot ``slot``."""
    ts = slot * SLOT_S
    out = [(GRANULARITIES[0], None, None)]
    for granularity in BUCKETED:
        bucket = bucket_of(granularity, ts, tz_name)
        out.append((granularity, bucket, expiry(granularity, bucket, tz_name)))
    return tuple(out)


def _live_buckets(ts: int, now: int, tz_name: str):
    """(granularity, bucket, expires_at) for every granularity whose bucket of ``ts`` is still kept."""
    return [b for b in _buckets_of_slot(int(ts // SLOT_S), tz_name) if b[2] is None or b[2] > now]


@lru_cache(maxsize=16384)
def _hex_keys(keys, granularity: str, bucket: int | None) -> tuple:
    """The hex counter keys of one bucket, one per kept resolution (built once, read per report)."""
    return tuple(keys.hex_counts(granularity, res, bucket) for res in STORED_RESOLUTIONS)


def _count_created(effects: Effects, keys, record: Record, delta: int, state: str,
                   now: int, tz_name: str) -> None:
    cell, tail = record.cell, f"|{record.category}|{state}"
    fields = [h3.cell_to_parent(cell, res) + tail for res in STORED_RESOLUTIONS]
    incr, expire = effects.incr, effects.expire
    for granularity, bucket, expires_at in _live_buckets(record.created_ts, now, tz_name):
        names = _hex_keys(keys, granularity.name, bucket)
        for key, field_name in zip(names, fields):
            pair = (key, field_name)
            incr[pair] = incr.get(pair, 0) + delta
        if expires_at is not None:
            for key in names:
                expire[key] = expires_at


def _count_resolved(effects: Effects, keys, record: Record, delta: int, now: int, tz_name: str) -> None:
    late = record.due_ts and record.resolved_ts > record.due_ts
    ttr = f"ttr|{ttr_bin(record.resolved_ts - record.created_ts)}"
    for granularity, bucket, expires_at in _live_buckets(record.resolved_ts, now, tz_name):
        key = keys.resolved_counts(granularity.name, bucket)
        effects.add(key, f"{record.category}|{'late' if late else 'ontime'}", delta, expires_at)
        effects.add(key, ttr, delta, expires_at)


def apply_created(effects: Effects, keys, report_id: str, current: Record | None, record: Record,
                  now: int, tz_name: str) -> Record | None:
    """Count a new report once; a report already counted is left alone (replays, redelivery)."""
    if current is not None:
        return None
    _count_created(effects, keys, record, +1, record.state, now, tz_name)
    if record.state == RESOLVED:
        _count_resolved(effects, keys, record, +1, now, tz_name)
    _track_sla(effects, report_id, record)
    _index_for_duplicates(effects, keys, report_id, record, now)
    effects.transitions.append([record.cell, record.category, "", record.state, record.created_ts])
    return record


DUPLICATE_RESOLUTION = 9   # ~175 m cells: "near" is the same or an adjacent one (app.duplicates)


def _dup_key(keys, record: Record) -> str:
    return keys.dup_index(record.category, h3.cell_to_parent(record.cell, DUPLICATE_RESOLUTION))


def _index_for_duplicates(effects: Effects, keys, report_id: str, record: Record, now: int) -> None:
    """An open report of the last day joins the likely-duplicate index of its res-9 cell.

    The index holds exactly the open reports of the last day (as ``rebuild``
    computes it): a report leaves when it stops being open, and comes back if reopened.
    """
    if record.state != OPEN or record.created_ts <= now - DAY:
        return
    key = _dup_key(keys, record)
    effects.dup_remove.get(key, set()).discard(report_id)
    effects.dup_add.setdefault(key, {})[report_id] = record.created_ts
    # Every member is older than ``now``, so one day from now outlives them all.
    effects.expire[key] = max(effects.expire.get(key, 0), now + DAY + 60)


def _track_sla(effects: Effects, report_id: str, record: Record) -> None:
    if record.state == OPEN and record.due_ts:
        effects.sla_add[report_id] = record.due_ts
        effects.sla_remove.discard(report_id)
    else:
        effects.sla_add.pop(report_id, None)
        effects.sla_remove.add(report_id)


def apply_status(effects: Effects, keys, report_id: str, current: Record | None, status: str, version: int,
                 changed_ts: int, due_ts: int | None, now: int, tz_name: str) -> Record | None:
    """Move a counted report to its new state; stale or repeated events change nothing."""
    if current is None or version <= current.version:
        return None
    new_state = aggregate_state(status)
    updated = replace(current, version=version, state=new_state,
                      due_ts=due_ts if due_ts is not None else current.due_ts)
    if new_state != current.state:
        _count_created(effects, keys, current, -1, current.state, now, tz_name)
        _count_created(effects, keys, current, +1, new_state, now, tz_name)
        if current.state == RESOLVED:
            _count_resolved(effects, keys, current, -1, now, tz_name)
        if new_state == RESOLVED:
            updated = replace(updated, resolved_ts=max(changed_ts, current.created_ts))
            _count_resolved(effects, keys, updated, +1, now, tz_name)
        else:
            updated = replace(updated, resolved_ts=0)
        if current.state == OPEN:
            _unindex_for_duplicates(effects, keys, report_id, current)
        _index_for_duplicates(effects, keys, report_id, updated, now)
        effects.transitions.append([current.cell, current.category, current.state, new_state,
                                    current.created_ts])
    _track_sla(effects, report_id, updated)
    return updated


def _unindex_for_duplicates(effects: Effects, keys, report_id: str, record: Record) -> None:
    key = _dup_key(keys, record)
    effects.dup_add.get(key, {}).pop(report_id, None)
    effects.dup_remove.setdefault(key, set()).add(report_id)


def record_for_report(report) -> Record:
    """The aggregate record of a freshly created ``app.reports.Report``."""
    return Record(
        cell=report.h3_cell, category=report.category,
        created_ts=int(report.created_at.timestamp()), state=report.state, version=report.version,
        resolved_ts=int(report.resolved_at.timestamp()) if report.resolved_at else 0,
        due_ts=int(report.sla_due_at.timestamp()) if report.sla_due_at else 0,
    )


def _ts(iso: str | None) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) if iso else 0


def record_from_dict(data: dict) -> Record:
    """``record_for_report`` of a report in its ``to_dict`` form (a stream event's data)."""
    return Record(cell=data["h3_cell"], category=data["category"], created_ts=_ts(data["created_at"]),
                  state=aggregate_state(data["status"]), version=int(data.get("version", 1)),
                  resolved_ts=_ts(data.get("resolved_at")), due_ts=_ts(data.get("sla_due_at")))


def count_cells(reports, resolution: int) -> dict[tuple[str, str, str], int]:
    """From-scratch all-time counts of (cell, category, state) at ``resolution``: the reference."""
    counts: dict[tuple[str, str, str], int] = {}
    for cell, category, state in reports:
        key = (h3.cell_to_parent(cell, resolution), category, state)
        counts[key] = counts.get(key, 0) + 1
    return counts


def window_buckets(window: str, now: float, tz_name: str) -> tuple[Granularity, list[int], int]:
    """The buckets a named window reads, and its start as a UTC timestamp.

    Windows end now and are bucket-aligned: ``15m``/``60m`` in 5-minute
    buckets, ``6h``/``24h``/``48h`` in clock hours, ``today``/``7d``/``30d``
    in the city's local days (``today`` = 1 local day).
    """
    spec = WINDOWS.get(window)
    if spec is None:
        raise ValueError(f"unknown window {window!r}; choose one of {', '.join(WINDOWS)}")
    granularity, count = BY_NAME[spec[0]], spec[1]
    last = bucket_of(granularity, now, tz_name)
    buckets = list(range(last - count + 1, last + 1))
    return granularity, buckets, bucket_start(granularity, buckets[0], tz_name)


WINDOWS = {
    "15m": ("m5", 3), "60m": ("m5", 12),
    "6h": ("h", 6), "24h": ("h", 24), "48h": ("h", 48),
    "today": ("d", 1), "7d": ("d", 7), "30d": ("d", 30),
}


def utc_from_ts(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def local_midnight_ts(ts: float, tz_name: str) -> int:
    return bucket_start(BY_NAME["d"], local_day(ts, tz_name), tz_name)


def cell_range(cell: str, fine: int) -> tuple[str, str]:
    """All res-``fine`` descendants of ``cell`` form one contiguous range of H3 ids (the unused
    finer digits are fixed): a range scan on the h3_cell index, however coarse the cell."""
    res = h3.get_resolution(cell)
    if res >= fine:
        parent = h3.cell_to_parent(cell, fine) if res > fine else cell
        return parent, parent
    value = h3.str_to_int(cell)
    value = (value & ~(0xF << 52)) | (fine << 52)
    low = high = value
    for r in range(res + 1, fine + 1):
        shift = (15 - r) * 3
        low &= ~(0b111 << shift)          # digit 0
        high = (high & ~(0b111 << shift)) | (0b110 << shift)   # digit 6
    return h3.int_to_str(low), h3.int_to_str(high)
