"""Spike alerts for the wall: hexes where reports pile up far faster than usual.

The rule (resolution-8 hexes, about 0.7 km² each):

* ``recent`` = reports created in the hex in the last 15 minutes (the three
  newest 5-minute buckets, ``m5``);
* ``usual`` = the hex's average per 15 minutes over the 24 hours before,
  i.e. (reports in the last 24 clock hours − ``recent``) / 95;
* the hex is a spike when ``recent >= SPIKE_MIN_REPORTS`` (5) **and**
  ``recent >= SPIKE_FACTOR × (usual + 1)`` (4×, the +1 keeps quiet hexes
  from alarming on a couple of reports).

A flood burst of a few reports a second within a kilometre trips it within
seconds; a busy market hex that always gets 10 reports per quarter hour does
not until it sees 44.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from app import queries

SPIKE_RESOLUTION = 8
SPIKE_MIN_REPORTS = 5
SPIKE_FACTOR = 4.0
QUARTERS_IN_BASELINE = 24 * 4 - 1


@dataclass(frozen=True)
class Spike:
    cell: str
    recent: int
    usual: float


def find_spikes(recent: dict[str, int], last_24h: dict[str, int]) -> list[Spike]:
    """Pure: the rule above over per-hex counts; strongest first."""
    spikes = []
    for cell, count in recent.items():
        usual = max(0, last_24h.get(cell, 0) - count) / QUARTERS_IN_BASELINE
        if count >= SPIKE_MIN_REPORTS and count >= SPIKE_FACTOR * (usual + 1):
            spikes.append(Spike(cell, count, round(usual, 2)))
    return sorted(spikes, key=lambda s: -s.recent)


def current_spikes(client, preset, now: float | None = None) -> list[Spike]:
    now = time.time() if now is None else now
    recent = queries.hex_counts(client, preset, SPIKE_RESOLUTION, "15m", "reports", now=now)
    if not recent:
        return []
    day = queries.hex_counts(client, preset, SPIKE_RESOLUTION, "24h", "reports", now=now)
    return find_spikes(recent, day)
