"""Likely duplicates: a new report near an open one of the same category within a day.

"Near" is the same or an adjacent H3 resolution-9 cell (~175 m across). The
aggregator keeps an index of the last day's open reports per category and
res-9 cell in Redis (``Keys.dup_index``, written in the same atomic step as
the counters); the probe below reads the seven cells around a point and keeps
the members whose aggregate record is still open. It is one Lua function,
run alone (the report form) or inside the Open311 intake script, so both
channels apply the same rule in one round trip.

A link is recorded for staff (``report_links``, written by the persister from
the report's ``duplicate_of``); a citizen shown the existing report may
support it instead of filing again (``report_supporters``, one row per
supporter so a count cannot be inflated by repeats).
"""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone

import h3
from sqlalchemy import Column, Index, String, Table, func, select

from app.hexagg import DUPLICATE_RESOLUTION as RESOLUTION
from app.reports import ticket_for
from app.store import db
from app.store.db import UTCDateTime, metadata

WINDOW = timedelta(hours=24)
LIMIT = 3
# Newest first; per cell at most 20 candidates are looked at (a burst of one category in one
# block is one incident: its newest reports are the ones worth showing).
PROBE_LUA = """
local function likely_duplicates(records, since, limit, first, last, exclude)
  local found = {}
  for i = first, last do
    local ids = redis.call('ZREVRANGEBYSCORE', KEYS[i], '+inf', since, 'WITHSCORES', 'LIMIT', 0, 20)
    for j = 1, #ids, 2 do
      local rec = redis.call('HGET', records, ids[j])
      if ids[j] ~= exclude and rec and string.match(rec, '^[^|]*|[^|]*|[^|]*|([^|]*)|') == 'o' then
        found[#found + 1] = {tonumber(ids[j + 1]), ids[j]}
      end
    end
  end
  table.sort(found, function(a, b) if a[1] ~= b[1] then return a[1] > b[1] end return a[2] < b[2] end)
  local out = {}
  for i = 1, math.min(limit, #found) do out[i] = found[i][2] .. '|' .. found[i][1] end
  return out
end
"""
FIND_LUA = PROBE_LUA + """
return likely_duplicates(KEYS[1], ARGV[1], tonumber(ARGV[2]), 2, #KEYS, ARGV[3])
"""

report_links = Table(
    "report_links", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("linked_id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),           # likely_duplicate
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_report_links_linked", "linked_id"),
)

report_supporters = Table(
    "report_supporters", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("supporter", String(64), primary_key=True),    # a hash: never who they are
    Column("created_at", UTCDateTime, nullable=False),
)


def neighbourhood(lat: float, lng: float) -> list[str]:
    """The res-9 cell of a point and its ring of neighbours."""
    return sorted(h3.grid_disk(h3.latlng_to_cell(lat, lng, RESOLUTION), 1))


def probe_keys(keys, category: str, lat: float, lng: float) -> list[str]:
    """The index keys the probe reads for a report of ``category`` at (lat, lng)."""
    return [keys.dup_index(category, cell) for cell in neighbourhood(lat, lng)]


def parse_found(preset, found) -> list[dict]:
    """The probe's "id|created" answers as {id, ticket, created_at}, newest first."""
    out = []
    for item in found:
        report_id, created = (item.decode() if isinstance(item, bytes) else item).split("|")
        out.append({"id": report_id, "ticket": ticket_for(preset, report_id),
                    "created_at": datetime.fromtimestamp(int(created), timezone.utc)})
    return out


def find_likely_duplicates(client, keys, preset, category: str, lat: float, lng: float,
                           now: float | None = None, limit: int = LIMIT, exclude: str = "") -> list[dict]:
    """Open reports of ``category`` near (lat, lng) created in the last 24 h, newest first;
    ``exclude`` is the report being filed (a form or a POST sent again is not its own duplicate)."""
    now = time.time() if now is None else now
    return parse_found(preset, probe(client, keys, category, lat, lng, int(now - WINDOW.total_seconds()),
                                     limit, exclude))


def probe(client, keys, category: str, lat: float, lng: float, since: int, limit: int = LIMIT,
          exclude: str = "") -> list[str]:
    """The probe's raw "id|created" answers, newest first: one script call per stream partition
    (each partition's index and records share its slot), merged."""
    found = []
    for part in keys.parts():
        cells = probe_keys(part, category, lat, lng)
        found += client.eval(FIND_LUA, 1 + len(cells), part.agg_records, *cells, since, limit, exclude)
    if len(found) > 1 and keys.partitions > 1:
        found.sort(key=lambda item: (-int(item.rsplit("|", 1)[1]), item))
    return found[:limit]


def links_of(engine, report_id: str) -> list[str]:
    with engine.connect() as conn:
        return [r.linked_id for r in conn.execute(
            select(report_links.c.linked_id).where(report_links.c.report_id == report_id))]


def supporter_key(secret: str, who: str) -> str:
    """A one-way key for a supporter (a browser session id, a key id): counts, never identifies."""
    return hashlib.sha256(f"{secret}:{who}".encode()).hexdigest()


def support(engine, report_id: str, supporter: str, now: datetime | None = None) -> int:
    """Add one supporter (repeats change nothing); the new count."""
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(db._insert_ignore(engine, report_supporters),
                     [{"report_id": report_id, "supporter": supporter, "created_at": now}])
    return supporter_count(engine, report_id)


def supporter_count(engine, report_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(report_supporters)
                            .where(report_supporters.c.report_id == report_id)).scalar_one()
