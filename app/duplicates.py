"""Likely duplicates: a new report near an open one of the same category within a day.

One rule (``RULE``), read two ways: at intake from Redis (the form and Open311 offer the citizen an
existing report) and by staff from SQL (``likely_duplicates_of``: the console's detail lists them
by ticket and shows them on its map). "Near" is the same or an adjacent H3 resolution-9 cell
(~175 m across); "within a day" is 24 hours either side of the report; "open" any state before
resolved. The
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

Support is only for what the server offered: each form visit carries a signed
token (``visit_token``), the offer of a likely duplicate is signed over (report
id, visit) (``offer_token``), and the supporter's key is derived on the server
from the visit and the client's address (``supporter_key``), never from
anything the client picks alone (a User-Agent). A report no longer open in the
aggregates (closed, rejected, unknown) is refused (``SupportRefused``).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta, timezone

import h3
from sqlalchemy import func, or_, select

from app.hexagg import DUPLICATE_RESOLUTION as RESOLUTION
from app.reports import ticket_for
from app.store import db
from app.store.db import report_links  # links: written by the persister
from app.store.tables import report_supporters
from app.workflow import OPEN
from app.workflow import OPEN_STATUSES
from app.hexagg import cell_range

WINDOW = timedelta(hours=24)
RING = 1            # the res-9 cell and its neighbours
LIMIT = 3           # offered to a citizen
STAFF_LIMIT = 10    # listed for staff
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

def neighbourhood(lat: float, lng: float) -> list[str]:
    """The res-9 cell of a point and its ring of neighbours."""
    return sorted(h3.grid_disk(h3.latlng_to_cell(lat, lng, RESOLUTION), RING))


def cell_neighbourhood(cell: str) -> list[str]:
    """The same neighbourhood for a report's own (finer) H3 cell."""
    return sorted(h3.grid_disk(h3.cell_to_parent(cell, RESOLUTION), RING))


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    from math import asin, cos, radians, sin, sqrt

    dlat, dlng = radians(lat2 - lat1), radians(lng2 - lng1)
    a = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlng / 2) ** 2
    return 2 * 6_371_000 * asin(sqrt(a))


def likely_duplicates_of(engine, row, agency: str | None = None, limit: int = STAFF_LIMIT) -> list[dict]:
    """The rule read from SQL for a stored report ``row``: open reports of its category in its
    neighbourhood created within ``WINDOW`` of it (before or after), nearest in time first, each with
    its distance in metres and first photo; ``agency`` limits them to one agency's (an officer)."""
    import json

    r = db.reports
    ranges = [cell_range(c, h3.get_resolution(row.h3_cell)) for c in cell_neighbourhood(row.h3_cell)]
    conds = [r.c.city == row.city, r.c.category == row.category, r.c.id != row.id,
             r.c.created_at.between(row.created_at - WINDOW, row.created_at + WINDOW),
             r.c.status.in_(list(OPEN_STATUSES)), or_(*[r.c.h3_cell.between(lo, hi) for lo, hi in ranges])]
    if agency:
        conds.append(r.c.agency == agency)
    with engine.connect() as conn:
        found = conn.execute(select(r.c.id, r.c.ticket, r.c.category, r.c.status, r.c.created_at, r.c.version,
                                    r.c.lat, r.c.lng, r.c.photos).where(*conds).limit(limit * 5)).all()
    found.sort(key=lambda x: (abs((x.created_at - row.created_at).total_seconds()), x.id))
    return [{"id": x.id, "ticket": x.ticket, "category": x.category, "status": x.status,
             "created_at": x.created_at.isoformat(), "version": x.version, "lat": x.lat, "lng": x.lng,
             "distance_m": round(distance_m(row.lat, row.lng, x.lat, x.lng)),
             "photo": (json.loads(x.photos or "[]") or [None])[0]} for x in found[:limit]]


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


VISIT_TTL_S = 24 * 3600    # a form visit's token is good for a day


class SupportRefused(ValueError):
    """A support that cannot be counted: ``field`` and the rule, in one line."""

    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name


def _mac(secret: str, *parts: str) -> str:
    return hmac.new(secret.encode(), "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def visit_token(secret: str, now: float | None = None) -> str:
    """A new form visit: "<random>.<issued>.<mac>", so a client cannot make one up."""
    visit, issued = secrets.token_urlsafe(16), str(int(time.time() if now is None else now))
    return f"{visit}.{issued}.{_mac(secret, 'visit', visit, issued)}"


def visit_of(secret: str, token, now: float | None = None) -> str | None:
    """The visit a token names, or None for one the server did not issue (or older than a day)."""
    if not isinstance(token, str) or len(token) > 120 or token.count(".") != 2:
        return None
    visit, issued, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(secret, "visit", visit, issued)) or not issued.isdigit():
        return None
    now = time.time() if now is None else now
    return visit if 0 <= now - int(issued) <= VISIT_TTL_S else None


def offer_token(secret: str, report_id: str, visit: str) -> str:
    """Signs "this visit was shown report ``report_id`` as a likely duplicate"."""
    return _mac(secret, "offer", report_id, visit)


def offer_ok(secret: str, report_id, visit: str, token) -> bool:
    return (isinstance(report_id, str) and isinstance(token, str)
            and hmac.compare_digest(token, offer_token(secret, report_id, visit)))


def is_open(client, keys, report_id: str) -> bool:
    """Whether the aggregates hold ``report_id`` as an open report (what the probe offers)."""
    record = client.hget(keys.agg_records, report_id)
    if record is None:
        return False
    record = record.decode() if isinstance(record, bytes) else record
    parts = record.split("|")
    return len(parts) > 3 and parts[3] == OPEN


def supporter_key(secret: str, who: str) -> str:
    """A one-way key for a supporter (a form visit and address, a key id): counts, never identifies."""
    return hashlib.sha256(f"{secret}:{who}".encode()).hexdigest()


def support(engine, report_id: str, supporter: str, now: datetime | None = None,
            client=None, keys=None) -> int:
    """Add one supporter (repeats change nothing); the new count. With ``client``/``keys`` (Redis),
    a report that is not open in the aggregates is refused (``SupportRefused``) before anything is
    written."""
    if not isinstance(report_id, str) or not report_id or len(report_id) > 36:
        raise SupportRefused("report", "not a report id")
    if client is not None and not is_open(client, keys, report_id):
        raise SupportRefused("report", "only an open report can be supported")
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(db._insert_ignore(engine, report_supporters),
                     [{"report_id": report_id, "supporter": supporter, "created_at": now}])
    return supporter_count(engine, report_id)


def has_supported(engine, report_id: str, supporter: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(report_supporters.c.supporter).where(
            report_supporters.c.report_id == report_id, report_supporters.c.supporter == supporter)).first() is not None


def supporter_count(engine, report_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(report_supporters)
                            .where(report_supporters.c.report_id == report_id)).scalar_one()
