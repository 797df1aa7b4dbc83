"""The aggregator: keeps the H3 hexbin counts, exactly once, and publishes live deltas.

For each batch it reads the current records of the reports involved,
computes the counter changes with the pure functions of ``app.hexagg``, and
applies them in one Lua script that also acknowledges the batch and
publishes the delta. Effect and acknowledgement are one atomic step, and the
records make a repeated event a no-op, so a crash at any instant neither
loses nor double-counts a report.
"""
from __future__ import annotations

import json
import logging
import time

from app import hexagg
from app.hexagg import Effects, Record
from ingest import events
from ingest.consumer import StreamConsumer
from app.store.keys import AGGREGATOR

log = logging.getLogger(__name__)
RECENT_MAX = 200

# Guards hold the records the batch was computed from: if another writer moved one
# meanwhile, nothing is applied and the batch is recomputed.
APPLY_LUA = """
-- KEYS: 1 records, 2 SLA set, 3 ticker, 4 live sequence, 5 stream, then every counter, index and
-- expiring key, named in ARGV by position: a script declares each key it touches (a cluster
-- refuses others), and all of one call share the partition's hash tag (one slot).
local p = cjson.decode(ARGV[1])
for _, g in ipairs(p.guards) do
  local cur = redis.call('HGET', KEYS[1], g[1])
  if (cur or '') ~= g[2] then return -1 end
end
for _, r in ipairs(p.set) do redis.call('HSET', KEYS[1], r[1], r[2]) end
for _, c in ipairs(p.incr) do
  local v = redis.call('HINCRBY', KEYS[c[1]], c[2], c[3])
  if v == 0 then redis.call('HDEL', KEYS[c[1]], c[2]) end
end
for _, d in ipairs(p.dup_rem) do redis.call('ZREM', KEYS[d[1]], unpack(d[2])) end
for _, d in ipairs(p.dup) do
  if #d[2] > 0 then redis.call('ZADD', KEYS[d[1]], unpack(d[2])) end
  redis.call('ZREMRANGEBYSCORE', KEYS[d[1]], '-inf', '(' .. p.dup_since)
end
for _, e in ipairs(p.expire) do redis.call('EXPIREAT', KEYS[e[1]], e[2]) end
for _, z in ipairs(p.zadd) do redis.call('ZADD', KEYS[2], z[2], z[1]) end
for _, z in ipairs(p.zrem) do redis.call('ZREM', KEYS[2], z) end
for _, s in ipairs(p.recent) do redis.call('LPUSH', KEYS[3], s) end
if #p.recent > 0 then redis.call('LTRIM', KEYS[3], 0, p.recent_max - 1) end
local seq = tonumber(redis.call('GET', KEYS[4]) or '0')
if p.delta ~= '' then
  seq = redis.call('INCR', KEYS[4])
  redis.call('PUBLISH', p.channel, '{"seq":' .. seq .. ',' .. string.sub(p.delta, 2))
end
if #p.ack > 0 then redis.call('XACK', KEYS[5], p.group, unpack(p.ack)) end
return seq
"""


class Aggregator(StreamConsumer):
    group = AGGREGATOR

    def __init__(self, client, keys, name, preset, clock=time.time, **options):
        super().__init__(client, keys, name, **options)
        self.preset = preset
        self.tz = preset.timezone
        self.clock = clock
        self._apply = client.register_script(APPLY_LUA)

    def handle(self, entries) -> None:
        batch = self.decode_batch(entries)
        readable = {e.entry_id for e in batch}
        ack = [entry_id for entry_id, _ in entries if entry_id in readable]
        for attempt in range(5):
            payload = self.plan(batch, ack)
            script_keys = payload.pop("keys")
            if self._apply(keys=script_keys, args=[json.dumps(payload, separators=(",", ":"))]) != -1:
                return
            log.info("%s: records moved under the batch, recomputing (attempt %d)", self.name, attempt + 1)
        raise RuntimeError("aggregate records kept changing under the batch")

    def plan(self, batch: list[events.Event], ack: list[str]) -> dict:
        """Everything the Lua script will do for this batch (pure apart from one HMGET)."""
        ids = sorted({e.report_id for e in batch})
        stored = dict(zip(ids, self.redis.hmget(self.keys.agg_records, ids))) if ids else {}
        current = {rid: Record.decode(raw) for rid, raw in stored.items() if raw}
        now = int(self.clock())
        effects, summaries = Effects.empty(), []
        for event in batch:
            existing = current.get(event.report_id)
            if event.kind == events.CREATED:
                updated = hexagg.apply_created(effects, self.keys, event.report_id, existing,
                                               hexagg.record_for_report(event.report), now, self.tz)
                if updated is not None:
                    summaries.append(event.report.public_summary())
            else:
                change = event.change
                due = change.get("sla_due_at")
                updated = hexagg.apply_status(
                    effects, self.keys, event.report_id, existing, change["to_status"],
                    int(change["version"]), int(change["occurred_at"].timestamp()),
                    int(due.timestamp()) if due else None, now, self.tz)
                if existing is None:
                    log.warning("%s: status event for unknown report %s skipped", self.name,
                                event.report_id)
            if updated is not None:
                current[event.report_id] = updated
                effects.records[event.report_id] = updated.encode()
        delta = ""
        if effects.transitions:
            delta = json.dumps({"ts": now, "city": self.preset.slug,
                                **({"part": self.partition} if self.keys.partitions > 1 else {}),
                                "transitions": effects.transitions,
                                "new": summaries}, separators=(",", ":"))
        script_keys = [self.keys.agg_records, self.keys.sla_open, self.keys.recent, self.keys.live_seq,
                       self.stream]
        position: dict[str, int] = {}

        def at(key: str) -> int:     # the key's 1-based position in KEYS
            if key not in position:
                script_keys.append(key)
                position[key] = len(script_keys)
            return position[key]

        return {
            "keys": script_keys,
            "guards": [[rid, stored.get(rid) or ""] for rid in ids],
            "set": [[rid, rec] for rid, rec in effects.records.items()],
            "incr": [[at(k), f, d] for k, f, d in effects.nonzero_incr()],
            "expire": [[at(k), ts] for k, ts in effects.expire.items()],
            "zadd": [[rid, due] for rid, due in effects.sla_add.items()],
            "zrem": sorted(effects.sla_remove),
            # ZADD arguments score, member, score, member...; entries a day old drop out.
            "dup": [[at(key), [x for rid, ts in members.items() for x in (ts, rid)]]
                    for key, members in effects.dup_add.items()],
            "dup_rem": [[at(key), sorted(ids)] for key, ids in effects.dup_remove.items() if ids],
            "dup_since": now - hexagg.DAY,
            "recent_max": RECENT_MAX,
            "recent": [json.dumps(s, separators=(",", ":")) for s in summaries],
            "channel": self.keys.live_channel, "delta": delta,
            "group": self.group, "ack": ack,
        }
