"""Recompute every aggregate of a city from the SQL system of record.

Feeds the same pure functions the aggregator uses, so the result equals the
incremental state. Run it with the consumers caught up (``healthz`` shows
lag 0); it replaces the aggregates in one transaction.
"""
from __future__ import annotations

import time

from sqlalchemy import text

from app import hexagg
from app.hexagg import Effects, Record
from app.store import db
from app.store.keys import Keys
from app.workflow import aggregate_state


def compute(engine, preset, now: int | None = None) -> Effects:
    return compute_parts(engine, preset, now)[0]


def compute_parts(engine, preset, now: int | None = None) -> list[Effects]:
    """The aggregates of every stream partition (one with an unpartitioned stream): each report
    counts in the partition its events go to."""
    keys = Keys.for_city(preset)
    parts = keys.parts()
    now = int(now if now is not None else time.time())
    effects = [Effects.empty() for _ in parts]
    states: dict[str, str] = {}
    partition_of, tz, apply_created = keys.partition_of, preset.timezone, hexagg.apply_created
    for rid, cell, category, created_ts, status, version, resolved_ts, due_ts in _aggregate_rows(engine, preset.slug):
        state = states.get(status)
        if state is None:
            state = states[status] = aggregate_state(status)
        record = Record(cell=cell, category=category, created_ts=created_ts, state=state, version=version,
                        resolved_ts=resolved_ts or 0, due_ts=due_ts or 0)
        part = effects[partition_of(rid)]
        apply_created(part, parts[partition_of(rid)], rid, None, record, now, tz)
        part.records[rid] = record.encode()
        if len(part.transitions) > 10_000:   # for live screens: a rebuild publishes none
            part.transitions.clear()
    return effects


# Seconds since the epoch computed by the database (the same whole seconds as ``int(datetime.timestamp())``
# for any moment after 1970): no datetime is built per row, the rows come as the driver gives them.
_EPOCH = {
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" (UTC); its date functions round to the millisecond, so
    # the fraction is cut off first (…:18.9996 is second 18, as in Python, not 19).
    "sqlite": "CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER)",
    "postgresql": "CAST(FLOOR(EXTRACT(EPOCH FROM {c})) AS BIGINT)",
}


def _aggregate_rows(engine, city: str, chunk: int = 50_000):
    """(id, h3_cell, category, created_ts, status, version, resolved_ts, due_ts) of every report of
    the city, in no particular order (a report counts on its own: the order changes nothing)."""
    epoch = _EPOCH.get(engine.dialect.name)
    if epoch is None:      # another database: through SQLAlchemy's types
        for row in db.iter_aggregate_rows(engine, city, chunk):
            yield (row.id, row.h3_cell, row.category, int(row.created_at.timestamp()), row.status, row.version,
                   int(row.resolved_at.timestamp()) if row.resolved_at else 0,
                   int(row.sla_due_at.timestamp()) if row.sla_due_at else 0)
        return
    query = text(f"SELECT id, h3_cell, category, {epoch.format(c='created_at')}, status, version, "
                 f"{epoch.format(c='resolved_at')}, {epoch.format(c='sla_due_at')} "
                 f"FROM {db.reports.name} WHERE city = :city")
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query, {"city": city})
        for rows in result.tuples().partitions(chunk):
            yield from rows


def rebuild(client, engine, preset, now: int | None = None, chunk: int = 5000) -> dict:
    """Replace the aggregates, one transaction per partition (a partition is one slot)."""
    keys = Keys.for_city(preset)
    summary = {"reports": 0, "counters": 0, "keys_replaced": 0}
    for part, effects in zip(keys.parts(), compute_parts(engine, preset, now)):
        for name, value in _replace(client, part, effects, chunk).items():
            summary[name] += value
    return summary


STAGE = ":rebuild:"   # where a rebuild writes before the swap: the same hash tag (slot), outside ``agg:*``
PIPELINE = 200_000     # members sent at once while staging (one MULTI of everything would pass Redis's
                       # 1 GB query buffer at a million reports, and the server drops the client)


SWAP_LUA = """
-- KEYS: the old keys to drop, the staged keys, their real names, the keys to expire;
-- ARGV: how many of each of the first three groups, then each expiry's time.
local gone, staged, expiring = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, gone do redis.call('DEL', KEYS[i]) end
for i = 1, staged do redis.call('RENAME', KEYS[gone + i], KEYS[gone + staged + i]) end
for i = 1, expiring do redis.call('EXPIREAT', KEYS[gone + 2 * staged + i], ARGV[3 + i]) end
return staged
"""


def _staged(key: str) -> str:
    return key.replace(":agg:", STAGE, 1)


def _replace(client, keys: Keys, effects: Effects, chunk: int) -> dict:
    """Write the new aggregates under staging names in as many pipelines as they need, then swap
    them in with one transaction (the old keys deleted, each staged key renamed, the expiries set):
    readers see the old aggregates or the new ones, never a mix. A rebuild that died while staging
    leaves staged keys only, dropped by the next one."""
    for stale in client.scan_iter(match=_staged(keys.agg_pattern()), count=1000):
        client.delete(stale)
    written: set[str] = set()
    pipe, queued = client.pipeline(transaction=False), 0

    def send(command, key, members: dict) -> None:
        nonlocal pipe, queued
        if command == "hset":
            pipe.hset(_staged(key), mapping=members)
        else:
            pipe.zadd(_staged(key), members)
        written.add(key)
        queued += len(members)
        if queued >= PIPELINE:
            pipe.execute()
            pipe, queued = client.pipeline(transaction=False), 0

    records = list(effects.records.items())
    for start in range(0, len(records), chunk):
        send("hset", keys.agg_records, dict(records[start:start + chunk]))
    by_key: dict[str, dict[str, int]] = {}
    for key, field, delta in effects.nonzero_incr():     # one HSET per key, not one per counter
        by_key.setdefault(key, {})[field] = delta
    for key, fields in by_key.items():
        items = list(fields.items())
        for start in range(0, len(items), chunk):
            send("hset", key, dict(items[start:start + chunk]))
    for key, members in effects.dup_add.items():
        items = list(members.items())
        for start in range(0, len(items), chunk):
            send("zadd", key, dict(items[start:start + chunk]))
    sla = list(effects.sla_add.items())
    for start in range(0, len(sla), chunk):
        send("zadd", keys.sla_open, dict(sla[start:start + chunk]))
    pipe.execute()
    # The swap. The recent-reports ticker is a log of what arrived, not a count: it is kept.
    old_keys = [k for k in client.scan_iter(match=keys.agg_pattern(), count=1000) if k != keys.recent]
    gone = [k for k in old_keys if k not in written]
    staged = sorted(written)
    expiring = list(effects.expire.items())
    # One script, every key declared (a cluster pipeline refuses RENAME; a script is atomic anyway).
    client.register_script(SWAP_LUA)(
        keys=[*gone, *(_staged(k) for k in staged), *staged, *(k for k, _ in expiring)],
        args=[len(gone), len(staged), len(expiring), *(ts for _, ts in expiring)])
    return {"reports": len(records), "counters": len(effects.incr), "keys_replaced": len(old_keys)}
