"""Spike alerts for the wall: places where reports pile up far faster than usual there.

The rule (resolution-8 hexes, about 0.7 km² each):

* ``recent`` = reports created in the hex in the last 15 minutes (the three newest 5-minute
  buckets), and ``city`` the same over the whole city;
* the baseline is the last 7 days (the hourly buckets, the last 15 minutes taken out): the hex's
  share of the city's reports, smoothed towards an even share with ``EVIDENCE`` pseudo-reports
  so that a week with few reports (a cold start, a new city) says little and an even spread is
  assumed instead;
* ``expected`` = ``city`` × share: what the hex gets when the city is as busy as it is now and
  the reports fall where they usually do. A cold start after a quiet week, or a quiet night,
  scales every hex's expectation with the city's own level, so neither raises an alarm;
* the hex is a spike when ``recent >= SPIKE_MIN_REPORTS`` (5) **and**
  ``recent >= SPIKE_FACTOR × (expected + 1)`` (4×; the +1 keeps quiet hexes from alarming on a
  couple of reports).

Adjacent spiking hexes are one **incident**, named by its main category; "usually" on the wall
is the hexes' own average per 15 minutes over the week. An incident can be acknowledged (a
category and the resolution-6 area it is in, for ``ACK_TTL_S``), after which walls stop
blinking for it. Pure functions here and Redis reads through ``app.queries``: no web imports.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

import h3

from app import hexagg, queries
from app.hexagg import parse_cell_field
from app.store.keys import Keys

SPIKE_RESOLUTION = 8
SPIKE_MIN_REPORTS = 5
SPIKE_FACTOR = 4.0
BASELINE_HOURS = 7 * 24
QUARTERS_IN_BASELINE = BASELINE_HOURS * 4 - 1
EVIDENCE = 200.0        # pseudo-reports spread evenly: a week needs more than this to say "usual"
ACK_RESOLUTION = 6      # an acknowledgement covers the incident's category in its res-6 area(s)
ACK_TTL_S = 6 * 3600


@dataclass(frozen=True)
class Spike:
    cell: str
    recent: int
    usual: float          # the hex's own average per 15 minutes over the week
    expected: float = 0.0  # what the rule compared with (the city's current level, the hex's share)


@dataclass(frozen=True)
class Incident:
    id: str
    category: str
    category_count: int   # reports of the main category in the last 15 minutes
    recent: int           # every report in the incident's hexes in the last 15 minutes
    usual: float          # the hexes' usual per 15 minutes
    cells: tuple[str, ...]  # strongest first
    ack_keys: tuple[str, ...] = field(default=())
    acknowledged: bool = False


def find_spikes(recent: dict[str, int], baseline: dict[str, int]) -> list[Spike]:
    """Pure: the rule above over per-hex counts (``baseline`` excludes ``recent``); strongest first."""
    city = sum(recent.values())
    total = sum(baseline.values())
    cells = len(set(recent) | {c for c, n in baseline.items() if n}) or 1
    spikes = []
    for cell, count in recent.items():
        if count < SPIKE_MIN_REPORTS:
            continue
        share = (baseline.get(cell, 0) + EVIDENCE / cells) / (total + EVIDENCE)
        expected = city * share
        if count >= SPIKE_FACTOR * (expected + 1):
            spikes.append(Spike(cell, count, round(baseline.get(cell, 0) / QUARTERS_IN_BASELINE, 2),
                                round(expected, 2)))
    return sorted(spikes, key=lambda s: (-s.recent, s.cell))


def group_incidents(spikes: list[Spike], by_category: dict[str, Counter]) -> list[Incident]:
    """Pure: adjacent spiking hexes as one incident, named by the category most reported in them."""
    by_cell = {s.cell: s for s in spikes}
    seen: set[str] = set()
    incidents = []
    for spike in spikes:  # strongest first: each incident starts at its strongest hex
        if spike.cell in seen:
            continue
        group, todo = [], [spike.cell]
        seen.add(spike.cell)
        while todo:
            cell = todo.pop()
            group.append(by_cell[cell])
            for near in h3.grid_disk(cell, 1):
                if near in by_cell and near not in seen:
                    seen.add(near)
                    todo.append(near)
        group.sort(key=lambda s: (-s.recent, s.cell))
        categories: Counter = Counter()
        for s in group:
            categories.update(by_category.get(s.cell, {}))
        category, count = (categories.most_common(1)[0] if categories else ("other", group[0].recent))
        areas = sorted({h3.cell_to_parent(s.cell, ACK_RESOLUTION) for s in group})
        incidents.append(Incident(
            id=f"{category}-{h3.cell_to_parent(group[0].cell, ACK_RESOLUTION)}", category=category,
            category_count=count, recent=sum(s.recent for s in group),
            usual=round(sum(s.usual for s in group), 2), cells=tuple(s.cell for s in group),
            ack_keys=tuple(f"{category}|{a}" for a in areas)))
    return sorted(incidents, key=lambda i: (-i.recent, i.id))


def _per_cell(fields: dict[str, int]) -> tuple[Counter, dict[str, Counter]]:
    cells: Counter = Counter()
    categories: dict[str, Counter] = {}
    for name, count in fields.items():
        cell, category, _state = parse_cell_field(name)
        if count:
            cells[cell] += int(count)
            categories.setdefault(cell, Counter())[category] += int(count)
    return cells, categories


def baseline_counts(client, preset, now: float | None = None) -> dict[str, int]:
    """Reports per res-8 hex over the last 7 days (hourly buckets, the current hour included)."""
    now = time.time() if now is None else now
    keys = Keys.for_city(preset)
    last = int(now // 3600)
    pipe = client.pipeline(transaction=False)
    for bucket in range(last - BASELINE_HOURS + 1, last + 1):
        for part in keys.parts():
            pipe.hgetall(part.hex_counts("h", hexagg.stored_resolution(SPIKE_RESOLUTION), bucket))
    totals: Counter = Counter()
    for mapping in pipe.execute():
        for name, count in mapping.items():
            totals[parse_cell_field(name)[0]] += int(count)
    if hexagg.stored_resolution(SPIKE_RESOLUTION) != SPIKE_RESOLUTION:
        return hexagg.coarsen_cells(totals, SPIKE_RESOLUTION)
    return dict(totals)


def current_spikes(client, preset, now: float | None = None, baseline: dict[str, int] | None = None
                   ) -> list[Spike]:
    return current_incidents(client, preset, now, baseline, with_spikes=True)[1]


def current_incidents(client, preset, now: float | None = None, baseline: dict[str, int] | None = None,
                      with_spikes: bool = False):
    """The incidents now, strongest first, each marked acknowledged or not.

    ``baseline`` (from ``baseline_counts``) may be passed in: it changes slowly and costs 168
    reads, so the wall computes it at most once a minute per process.
    """
    now = time.time() if now is None else now
    keys = Keys.for_city(preset)
    fields = queries.cell_category_counts(client, keys, SPIKE_RESOLUTION, queries.window("15m", preset.timezone, now))
    recent, by_category = _per_cell(fields)
    spikes: list[Spike] = []
    if recent and max(recent.values()) >= SPIKE_MIN_REPORTS:
        week = baseline_counts(client, preset, now) if baseline is None else baseline
        spikes = find_spikes(dict(recent), {c: max(0, n - recent.get(c, 0)) for c, n in week.items()})
    incidents = group_incidents(spikes, by_category)
    if incidents:
        names = [k for i in incidents for k in i.ack_keys]
        acked = dict(zip(names, client.mget([keys.spike_ack(n) for n in names])))
        incidents = [Incident(**{**i.__dict__, "acknowledged": any(acked.get(k) for k in i.ack_keys)})
                     for i in incidents]
    return (incidents, spikes) if with_spikes else incidents


def acknowledge(client, preset, incident: Incident, actor: str, now: float | None = None) -> None:
    """Mark an incident seen: every wall stops blinking for it (its category in its areas) for a while."""
    now = time.time() if now is None else now
    keys = Keys.for_city(preset)
    value = json.dumps({"by": actor, "at": int(now), "incident": incident.id})
    pipe = client.pipeline(transaction=True)
    for name in incident.ack_keys:
        pipe.set(keys.spike_ack(name), value, ex=ACK_TTL_S)
    pipe.execute()


def find_incident(client, preset, incident_id: str, now: float | None = None) -> Incident | None:
    return next((i for i in current_incidents(client, preset, now) if i.id == incident_id), None)


__all__ = ["Spike", "Incident", "find_spikes", "group_incidents", "baseline_counts", "current_spikes",
           "current_incidents", "acknowledge", "find_incident"]
