"""Recompute every aggregate of a city from the SQL system of record.

Feeds the same pure functions the aggregator uses, so the result equals the
incremental state. Run it with the consumers caught up (``healthz`` shows
lag 0); it replaces the aggregates in one transaction.
"""
from __future__ import annotations

import time

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
    for row in db.iter_aggregate_rows(engine, preset.slug):
        record = Record(
            cell=row.h3_cell, category=row.category, created_ts=int(row.created_at.timestamp()),
            state=aggregate_state(row.status), version=row.version,
            resolved_ts=int(row.resolved_at.timestamp()) if row.resolved_at else 0,
            due_ts=int(row.sla_due_at.timestamp()) if row.sla_due_at else 0)
        index = keys.partition_of(row.id)
        hexagg.apply_created(effects[index], parts[index], row.id, None, record, now, preset.timezone)
        effects[index].records[row.id] = record.encode()
    return effects


def rebuild(client, engine, preset, now: int | None = None, chunk: int = 5000) -> dict:
    """Replace the aggregates, one transaction per partition (a partition is one slot)."""
    keys = Keys.for_city(preset)
    summary = {"reports": 0, "counters": 0, "keys_replaced": 0}
    for part, effects in zip(keys.parts(), compute_parts(engine, preset, now)):
        for name, value in _replace(client, part, effects, chunk).items():
            summary[name] += value
    return summary


def _replace(client, keys: Keys, effects: Effects, chunk: int) -> dict:
    # The recent-reports ticker is a log of what arrived, not a count: it is kept.
    old_keys = [k for k in client.scan_iter(match=keys.agg_pattern(), count=1000) if k != keys.recent]
    pipe = client.pipeline(transaction=True)
    if old_keys:
        pipe.delete(*old_keys)
    records = list(effects.records.items())
    for start in range(0, len(records), chunk):
        pipe.hset(keys.agg_records, mapping=dict(records[start:start + chunk]))
    by_key: dict[str, dict[str, int]] = {}
    for key, field, delta in effects.nonzero_incr():     # one HSET per key, not one per counter
        by_key.setdefault(key, {})[field] = delta
    for key, fields in by_key.items():
        items = list(fields.items())
        for start in range(0, len(items), chunk):
            pipe.hset(key, mapping=dict(items[start:start + chunk]))
    for key, members in effects.dup_add.items():
        if members:
            pipe.zadd(key, members)
    for key, expires_at in effects.expire.items():
        pipe.expireat(key, expires_at)
    if effects.sla_add:
        pipe.zadd(keys.sla_open, effects.sla_add)
    pipe.execute()
    return {"reports": len(records), "counters": len(effects.incr), "keys_replaced": len(old_keys)}
