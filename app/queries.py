"""Reads for the screens: hex counts, KPIs and the newest reports, from the live aggregates.

Every figure comes from the same counters, so the hexes, the KPI tiles and
the category breakdown of one window always add up to the same totals.
A window never touches individual reports: it reads a handful of buckets.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import h3

from app import hexagg
from app.hexagg import Record, parse_cell_field
from app.store.keys import Keys
from app.workflow import OPEN

METRICS = ("reports", "open", "breaches")


@lru_cache(maxsize=200_000)
def _center(cell: str) -> tuple[float, float]:
    return h3.cell_to_latlng(cell)


def _in_bbox(cell: str, bbox) -> bool:
    if bbox is None:
        return True
    (south, west), (north, east) = bbox
    lat, lng = _center(cell)
    return south <= lat <= north and west <= lng <= east


@dataclass(frozen=True)
class Window:
    name: str
    granularity: str
    buckets: list[int]
    start_ts: int


def window(name: str, tz_name: str, now: float | None = None) -> Window:
    granularity, buckets, start = hexagg.window_buckets(name, now if now is not None else time.time(),
                                                        tz_name)
    return Window(name, granularity.name, buckets, start)


def hex_count_keys(part: Keys, resolution: int, win: Window | None) -> list[str]:
    """The counter hashes of one partition that hold the reports created in ``win`` (None: all time),
    at the kept resolution ``resolution`` is read from (``hexagg.stored_resolution``)."""
    kept = hexagg.stored_resolution(resolution)
    if win is None:
        return [part.hex_counts("all", kept)]
    return [part.hex_counts(win.granularity, kept, bucket) for bucket in win.buckets]


def cell_category_counts(client, keys: Keys, resolution: int, win: Window | None) -> Counter:
    """(cell|category|state) -> reports created in the window (None: all time)."""
    pipe = client.pipeline(transaction=False)
    for part in keys.parts():         # a partitioned stream's counters are merged here
        for key in hex_count_keys(part, resolution, win):
            pipe.hgetall(key)
    totals: Counter = Counter()
    for mapping in pipe.execute():
        for field, count in mapping.items():
            totals[field] += int(count)
    if hexagg.stored_resolution(resolution) != resolution:
        return Counter(hexagg.coarsen_fields(totals, resolution))
    return totals


def overdue_cells(client, keys: Keys, resolution: int, now: float) -> Counter:
    """(cell|category|o) -> open reports past their SLA deadline now."""
    return overdue_by_resolution(client, keys, (resolution,), now)[resolution]


def overdue_by_resolution(client, keys: Keys, resolutions, now: float, chunk: int = 10000) -> dict[int, Counter]:
    """``overdue_cells`` at several resolutions from one read of the overdue records.

    Breaches depend on the clock, so they are not kept as counters: this reads the ids past
    due in the SLA sorted set and their records, in chunks, once for every resolution asked.
    """
    counts: dict[int, Counter] = {res: Counter() for res in resolutions}
    for part in keys.parts():
        overdue = client.zrangebyscore(part.sla_open, "-inf", int(now))
        for start in range(0, len(overdue), chunk):
            for raw in client.hmget(part.agg_records, overdue[start:start + chunk]):
                if raw:
                    record = Record.decode(raw)
                    for res in resolutions:
                        counts[res][f"{h3.cell_to_parent(record.cell, res)}|{record.category}|o"] += 1
    return counts


def hex_counts(client, preset, resolution: int, window_name: str = "24h", metric: str = "reports",
               bbox=None, categories: set[str] | None = None, now: float | None = None) -> dict[str, int]:
    """cell -> count at ``resolution`` for the map.

    metric ``reports``: reports created in the window; ``open``: the open
    backlog now (all time); ``breaches``: open reports past their SLA now.
    """
    keys = Keys.for_city(preset)
    now = time.time() if now is None else now
    if metric == "reports":
        fields = cell_category_counts(client, keys, resolution, window(window_name, preset.timezone, now))
    elif metric == "open":
        fields = cell_category_counts(client, keys, resolution, None)
    elif metric == "breaches":
        fields = overdue_cells(client, keys, resolution, now)
    else:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    cells: Counter = Counter()
    for field, count in fields.items():
        cell, category, state = parse_cell_field(field)
        if metric == "open" and state != OPEN:
            continue
        if categories and category not in categories:
            continue
        if count and _in_bbox(cell, bbox):
            cells[cell] += count
    return {cell: n for cell, n in cells.items() if n}


def kpis(client, preset, window_name: str = "today", categories: set[str] | None = None,
         now: float | None = None) -> dict:
    """Received, open backlog, resolved, median time to resolve and SLA breaches, with a
    per-category breakdown: all from the counters the map reads (coarsest resolution)."""
    keys = Keys.for_city(preset)
    now = time.time() if now is None else now
    win = window(window_name, preset.timezone, now)
    coarse = hexagg.MAP_RESOLUTIONS[0]
    received: Counter = Counter()
    for field, count in cell_category_counts(client, keys, coarse, win).items():
        _, category, _ = parse_cell_field(field)
        if not categories or category in categories:
            received[category] += count
    backlog: Counter = Counter()
    for field, count in cell_category_counts(client, keys, coarse, None).items():
        _, category, state = parse_cell_field(field)
        if state == OPEN and (not categories or category in categories):
            backlog[category] += count
    resolved, late, histogram = Counter(), 0, Counter()
    pipe = client.pipeline(transaction=False)
    for part in keys.parts():
        for bucket in win.buckets:
            pipe.hgetall(part.resolved_counts(win.granularity, bucket))
    for mapping in pipe.execute():
        for field, count in mapping.items():
            head, tail = field.split("|")
            if head == "ttr":
                if not categories:
                    histogram[int(tail)] += int(count)
            elif not categories or head in categories:
                resolved[head] += int(count)
                late += int(count) if tail == "late" else 0
    overdue = overdue_cells(client, keys, coarse, now)
    breaches = sum(n for f, n in overdue.items() if not categories or parse_cell_field(f)[1] in categories)
    total_resolved = sum(resolved.values())
    return {
        "window": window_name, "window_start": win.start_ts,
        "received": sum(received.values()), "open_backlog": sum(backlog.values()),
        "resolved": total_resolved, "resolved_late": late,
        "sla_compliance": round(100.0 * (total_resolved - late) / total_resolved, 1) if total_resolved else None,
        "median_resolve_s": hexagg.median_from_histogram(dict(histogram)),
        "sla_breaches": breaches,
        "by_category": {c: {"received": received[c], "open": backlog[c], "resolved": resolved[c]}
                        for c in sorted(set(received) | set(backlog) | set(resolved))},
    }


def latest_reports(client, preset, limit: int = 20) -> list[dict]:
    """Public summaries of the newest reports (no contact, no free text), newest first."""
    parts = Keys.for_city(preset).parts()
    summaries = [json.loads(raw) for part in parts for raw in client.lrange(part.recent, 0, max(limit, 1) - 1)]
    if len(parts) > 1:    # each partition's ticker is newest first; merged by creation time
        summaries.sort(key=lambda s: s.get("created_at") or "", reverse=True)
    return summaries[:max(limit, 1)]
