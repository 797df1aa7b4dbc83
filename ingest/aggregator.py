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

import orjson

from app import hexagg
from app.hexagg import Effects, Record
from app.reports import public_summary_of
from ingest import events
from ingest.consumer import StreamConsumer
from app.store.keys import AGGREGATOR
from app.store.redis_conn import sharded_pubsub

log = logging.getLogger(__name__)
RECENT_MAX = 200

# Guards hold the records the batch was computed from: if another writer moved one
# meanwhile, nothing is applied and the batch is recomputed.
APPLY_LUA = """
-- KEYS: 1 records, 2 SLA set, 3 ticker, 4 live sequence, 5 stream, then every counter, index and
-- expiring key, named in ARGV by position: a script declares each key it touches (a cluster
-- refuses others), and all of one call share the partition's hash tag (one slot).
-- Commands that take many members get them in chunks of CHUNK (a Lua stack holds ~8000 values).
local CHUNK = 500
local p = cjson.decode(ARGV[1])
local function chunked(command, key, list, step, first)
  for i = 1, #list, CHUNK * step do
    local last = math.min(i + CHUNK * step - 1, #list)
    if first then redis.call(command, key, first, unpack(list, i, last))
    else redis.call(command, key, unpack(list, i, last)) end
  end
end
local g = p.guards            -- id, stored record, id, stored record...
for i = 1, #g, CHUNK * 2 do
  local ids = {}
  for j = i, math.min(i + CHUNK * 2 - 1, #g), 2 do ids[#ids + 1] = g[j] end
  local cur = redis.call('HMGET', KEYS[1], unpack(ids))
  for k = 1, #ids do
    if (cur[k] or '') ~= g[i + 2 * (k - 1) + 1] then return -1 end
  end
end
if #p.set > 0 then chunked('HSET', KEYS[1], p.set, 2) end
-- The counters, key by key: key position, n, then n pairs of field and delta. Each key's fields are
-- read with one HMGET and written with one HSET (and one HDEL for those a decrement brings to 0) a
-- chunk: a few calls for a whole batch instead of an HINCRBY per field, each of which the server
-- runs, checks and appends to its log on its own (the script is atomic: no one writes in between).
local c = p.incr
local i, last = 1, #c
while i <= last do
  local key, n = KEYS[c[i]], c[i + 1]
  i = i + 2
  for s = 0, n - 1, CHUNK do
    local m = math.min(CHUNK, n - s)
    local fields = {}
    for k = 1, m do fields[k] = c[i + 2 * (s + k - 1)] end
    local cur = redis.call('HMGET', key, unpack(fields))
    local set, del = {}, {}
    for k = 1, m do
      local d = c[i + 2 * (s + k - 1) + 1]
      local v = (tonumber(cur[k]) or 0) + d
      if d < 0 and v == 0 then del[#del + 1] = fields[k]
      else set[#set + 1] = fields[k]; set[#set + 1] = string.format('%d', v) end
    end
    if #set > 0 then redis.call('HSET', key, unpack(set)) end
    if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  end
  i = i + 2 * n
end
for _, d in ipairs(p.dup_rem) do chunked('ZREM', KEYS[d[1]], d[2], 1) end
for _, d in ipairs(p.dup) do
  if #d[2] > 0 then chunked('ZADD', KEYS[d[1]], d[2], 2) end
  redis.call('ZREMRANGEBYSCORE', KEYS[d[1]], '-inf', '(' .. p.dup_since)
end
for _, e in ipairs(p.expire) do redis.call('EXPIREAT', KEYS[e[1]], e[2]) end
if #p.zadd > 0 then chunked('ZADD', KEYS[2], p.zadd, 2) end
if #p.zrem > 0 then chunked('ZREM', KEYS[2], p.zrem, 1) end
if #p.recent > 0 then
  chunked('LPUSH', KEYS[3], p.recent, 1)
  redis.call('LTRIM', KEYS[3], 0, p.recent_max - 1)
end
local seq = tonumber(redis.call('GET', KEYS[4]) or '0')
if p.delta ~= '' then
  seq = redis.call('INCR', KEYS[4])
  redis.call(p.publish, p.channel, '{"seq":' .. seq .. ',' .. string.sub(p.delta, 2))
end
if #p.ack > 0 then chunked('XACK', KEYS[5], p.ack, 1, p.group) end
return seq
"""


class Aggregator(StreamConsumer):
    group = AGGREGATOR
    full_reports = False     # the record and the public summary are read from the event's dict

    def __init__(self, client, keys, name, preset, clock=time.time, **options):
        super().__init__(client, keys, name, **options)
        self.preset = preset
        self.tz = preset.timezone
        self.clock = clock
        self._apply = client.register_script(APPLY_LUA)
        # Sharded pub/sub where the server has it: the partition's own channel, on its own shard.
        self.sharded = sharded_pubsub(client, self.keys)
        self.publish_command = "SPUBLISH" if self.sharded else "PUBLISH"

    def handle(self, entries) -> None:
        batch = self.decode_batch(entries)
        readable = {e.entry_id for e in batch}
        ack = [entry_id for entry_id, _ in entries if entry_id in readable]
        for attempt in range(5):
            payload = self.plan(batch, ack)
            script_keys = payload.pop("keys")
            if self._apply(keys=script_keys, args=[orjson.dumps(payload)]) != -1:
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
                record = Record.decode(event.record) if event.record else hexagg.record_from_dict(event.data)
                updated = hexagg.apply_created(effects, self.keys, event.report_id, existing, record, now,
                                               self.tz)
                if updated is not None:
                    summaries.append(event.summary or json.dumps(public_summary_of(event.data),
                                                                 separators=(",", ":")))
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
        # Each new report's public summary is encoded once (by the producer): the ticker's entries and
        # the delta's "new".
        encoded = summaries
        delta = ""
        if effects.transitions:
            head = json.dumps({"ts": now, "city": self.preset.slug,
                               **({"part": self.partition} if self.keys.partitions > 1 else {}),
                               "transitions": effects.transitions}, separators=(",", ":"))
            delta = head[:-1] + ',"new":[' + ",".join(encoded) + "]}"
        script_keys = [self.keys.agg_records, self.keys.sla_open, self.keys.recent, self.keys.live_seq,
                       self.stream]
        position: dict[str, int] = {}

        def at(key: str) -> int:     # the key's 1-based position in KEYS
            if key not in position:
                script_keys.append(key)
                position[key] = len(script_keys)
            return position[key]

        by_key: dict[int, list] = {}
        for (key, field_name), change in effects.incr.items():
            if change:
                where = position.get(key) or at(key)
                pairs = by_key.get(where)
                if pairs is None:
                    pairs = by_key[where] = []
                pairs += (field_name, change)
        incr: list = []        # key position, n, then n (field, delta) pairs
        for where, pairs in by_key.items():
            incr += (where, len(pairs) // 2, *pairs)
        return {
            "keys": script_keys,
            "guards": [x for rid in ids for x in (rid, stored.get(rid) or "")],
            "set": [x for rid, rec in effects.records.items() for x in (rid, rec)],
            "incr": incr,
            "expire": [[at(k), ts] for k, ts in effects.expire.items()],
            "zadd": [x for rid, due in effects.sla_add.items() for x in (due, rid)],
            "zrem": sorted(effects.sla_remove),
            # ZADD arguments score, member, score, member...; entries a day old drop out.
            "dup": [[at(key), [x for rid, ts in members.items() for x in (ts, rid)]]
                    for key, members in effects.dup_add.items()],
            "dup_rem": [[at(key), sorted(ids)] for key, ids in effects.dup_remove.items() if ids],
            "dup_since": now - hexagg.DAY,
            "recent_max": RECENT_MAX,
            "recent": encoded[-RECENT_MAX:],
            "channel": self.keys.live_shard_channel if self.sharded else self.keys.live_channel,
            "delta": delta, "publish": self.publish_command,
            "group": self.group, "ack": ack,
        }
