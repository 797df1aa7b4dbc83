"""Where reports come from: the simulator, file replay, and (through the producer) the form and API.

A source yields ``RawReport`` values, or ``Rejected`` for input it cannot use;
the producer validates and normalises a ``RawReport`` into a report event.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class RawReport:
    category: str                       # a catalogue code or an alias known to the city preset
    lat: float | None
    lng: float | None
    description: str = ""
    created_at: datetime | None = None  # timezone-aware; None means "now"
    source: str = "web"                 # channel: web, open311, simulator, replay, phone...
    source_ref: str | None = None       # the source's own id (LA SRNumber, Open311 token...): makes ids deterministic
    status: str | None = None           # imports only: a known final status (resolved/closed/rejected)
    resolved_at: datetime | None = None # imports only
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    photos: tuple[str, ...] = ()
    address: str | None = None
    priority: str | None = None
    attributes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """An input row a source could not turn into a RawReport."""
    line: int          # 1-based line or record number in the source
    reason: str        # e.g. "no coordinates", "bad CreatedDate '13/45/2017'"
    source_ref: str | None = None
