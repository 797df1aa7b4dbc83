"""The Open311 POST intake: rate limits, revocation, the likely-duplicate probe and the append in one step.

A POST is parsed and validated in Python (no I/O), then one Lua script does,
atomically and in one round trip to Redis:

1. count the request against its client address's sliding one-minute window;
2. refuse a key revoked since this process cached it (``keys.revoke_key``);
3. count it against the key's sliding one-minute window;
4. look for likely duplicates (``app.duplicates.PROBE_LUA``, the rule the
   report form uses too);
5. XADD the ``created`` event, with the duplicates it found, to the stream.

With the embedded Redis's ``appendfsync always`` the answer comes back only
once the event is on disk: a 201 means the report cannot be lost. Requests
refused before the append (a missing or unknown key, a bad field) still run
steps 1-3 through the same script (``gate``), so a flood of bad requests
counts against its limits exactly like good ones; the other Open311 endpoints
count against the address limit through ``gate`` too.

The limiter (``LIMITER_LUA``) is a sliding window: a subject's requests are
counted in twelve buckets of a twelfth of the window each (one Redis hash), and a
request is let through only while the buckets that overlap the last full window
(twelve and the current one) hold fewer than the limit. So no span of one window
ever holds more than the limit (a fixed-window counter let twice the limit through
across a window's edge), and ``Retry-After`` is when the oldest counted bucket
leaves. Refusals by a limit are not counted (a client that waits as told gets in).
``RateGate`` runs the same function alone: the report form's submits, photo
uploads and supports are limited per address through it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import redis

from app import duplicates
from app.reports import Report
from app.store.redis_conn import wait_replicas
from ingest import events

WINDOW_S = 60   # sliding one-minute windows per client address and per API key
BUCKETS = 12

LIMITER_LUA = """
-- Sliding window of window_ms in BUCKETS buckets (hash field: bucket number, value: requests).
-- 0 when counted; otherwise the milliseconds until a request would be let through (not counted).
local function over(key, limit, now_ms, window_ms)
  limit, now_ms, window_ms = tonumber(limit), tonumber(now_ms), tonumber(window_ms)
  local width = math.max(1, math.floor(window_ms / %(buckets)d))
  local current = math.floor(now_ms / width)
  local oldest = current - %(buckets)d
  local counts = redis.call('HGETALL', key)
  local total, stale, live = 0, {}, {}
  for i = 1, #counts, 2 do
    local bucket = tonumber(counts[i])
    if bucket < oldest then stale[#stale + 1] = counts[i]
    else
      total = total + tonumber(counts[i + 1])
      live[#live + 1] = {bucket, tonumber(counts[i + 1])}
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  if total >= limit then
    table.sort(live, function(a, b) return a[1] < b[1] end)
    for _, item in ipairs(live) do
      total = total - item[2]
      if total < limit then return math.max(1, (item[1] + %(buckets)d + 1) * width - now_ms) end
    end
    return window_ms
  end
  redis.call('HINCRBY', key, current, 1)
  redis.call('PEXPIRE', key, window_ms + width)
  return 0
end
""" % {"buckets": BUCKETS}

GATE_LUA = LIMITER_LUA + """
-- KEYS: 1 the subject's window; ARGV: 1 limit, 2 now (ms), 3 window (ms)
local wait = over(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if wait > 0 then return {'limited', wait} end
return {'ok'}
"""

INTAKE_LUA = duplicates.PROBE_LUA + LIMITER_LUA + """
-- KEYS: 1 revoked key ids, 2 address window, 3 key window, 4 aggregate records, 5 stream,
--       6.. likely-duplicate index cells
-- ARGV: 1 key id ('' for none), 2 address limit, 3 key limit, 4 now (ms),
--       5 mode ('gate': count only, 'append': count and append, 'counted': append only),
--       6 duplicates since, 7 duplicates limit, 8 the report's id, 9.. the event's field/value pairs
local window_ms = %(window_ms)d
if ARGV[5] ~= 'counted' then
  local wait = over(KEYS[2], ARGV[2], ARGV[4], window_ms)
  if wait > 0 then return {'limited', 'address', wait} end
  if ARGV[1] ~= '' then
    if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {'revoked'} end
    wait = over(KEYS[3], ARGV[3], ARGV[4], window_ms)
    if wait > 0 then return {'limited', 'key', wait} end
  end
end
if ARGV[5] == 'gate' then return {'ok'} end
local found = likely_duplicates(KEYS[4], ARGV[6], tonumber(ARGV[7]), 6, #KEYS, ARGV[8])
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
if #found > 0 then
  local ids = {}
  for i, item in ipairs(found) do ids[i] = string.match(item, '^([^|]*)') end
  fields[#fields + 1] = 'duplicate_of'
  fields[#fields + 1] = table.concat(ids, ' ')
end
local entry = redis.call('XADD', KEYS[5], '*', unpack(fields))
return {'ok', entry, unpack(found)}
""" % {"window_ms": WINDOW_S * 1000}


class IntakeRefused(Exception):
    """Refused by a limit or a revocation: ``status`` (429/403), ``scope`` and ``retry_after``."""

    def __init__(self, status: int, scope: str, limit: int = 0, retry_after: int = 0, window_s: int = WINDOW_S):
        super().__init__(scope)
        self.status, self.scope, self.limit, self.retry_after = status, scope, limit, retry_after
        self.window_s = window_s


def _retry_after(wait_ms) -> int:
    return max(1, -(-int(wait_ms) // 1000))


class RateGate:
    """The intake's limiter on its own: ``hit(scope, subject, limit)`` counts one request of
    ``subject`` (a client address...) against ``limit`` per ``window_s`` or raises ``IntakeRefused``
    (429). The report form's submits, uploads and supports go through it."""

    def __init__(self, client, keys, clock=time.time):
        self.client, self.keys, self.clock = client, keys, clock
        self._script = client.register_script(GATE_LUA)

    def hit(self, scope: str, subject: str, limit: int, window_s: int = WINDOW_S) -> None:
        answer = self._script(keys=[self.keys.rate_limit(scope, subject)],
                              args=[int(limit), int(self.clock() * 1000), int(window_s * 1000)])
        if answer[0] == "limited":
            raise IntakeRefused(429, scope, int(limit), _retry_after(answer[1]), window_s)


@dataclass(frozen=True)
class Accepted:
    report: Report
    entry_id: str
    duplicates: list[dict]     # {id, ticket, created_at}, newest first


class Intake:
    def __init__(self, services, clock=time.time):
        self.services = services
        self.keys = services.keys
        self.clock = clock
        self._script = services.redis.register_script(INTAKE_LUA)
        self._script_sha = self._script.sha

    def _run(self, address: str, key_id: str | None, key_limit: int, report: Report | None,
             mode: str) -> list:
        settings, keys = self.services.settings, self.keys
        now = self.clock()
        cells = duplicates.probe_keys(keys, report.category, report.lat, report.lng) if report else []
        stream = self.services.producer.stream_for(report.id) if report else keys.stream()
        args = [key_id or "", settings.open311_address_rate, key_limit, int(now * 1000),
                mode, int(now - duplicates.WINDOW.total_seconds()), duplicates.LIMIT, report.id if report else ""]
        if report is not None:
            for name, value in events.created_fields(report).items():
                args += (name, value)
        script_keys = [keys.open311_revoked, keys.rate_limit("address", address),
                       keys.rate_limit("key", key_id or "-")]
        if mode != "gate":
            if keys.partitions > 1:
                return self._append_partitioned(address, key_id, key_limit, report, mode)
            script_keys += [keys.agg_records, stream, *cells]
        try:
            # EVALSHA directly: redis-py's Script wrapper costs a tenth of the request's CPU.
            answer = self.services.redis.execute_command("EVALSHA", self._script_sha, len(script_keys),
                                                         *script_keys, *args)
        except redis.exceptions.NoScriptError:    # a restarted Redis forgot it
            answer = self._script(keys=script_keys, args=args)
        if answer[0] == "limited":
            scope = answer[1]
            limit = settings.open311_address_rate if scope == "address" else key_limit
            raise IntakeRefused(429, scope, limit, _retry_after(answer[2]))
        if answer[0] == "revoked":
            raise IntakeRefused(403, "key")
        return answer

    def _append_partitioned(self, address: str, key_id: str | None, key_limit: int, report: Report,
                            mode: str) -> list:
        """A partitioned stream: the report's partition is another slot than the city's limits, so
        the limits are counted first (``gate``), then the duplicates probed over every partition and
        the event appended to its partition. The probe reads what the aggregators wrote, as in one
        step; only the refusal of a limit and the append are no longer one atomic step."""
        if mode != "counted":
            self._run(address, key_id, key_limit, None, "gate")
        found = duplicates.probe(self.services.redis, self.keys, report.category, report.lat, report.lng,
                                 int(self.clock() - duplicates.WINDOW.total_seconds()), duplicates.LIMIT,
                                 exclude=report.id)
        fields = events.created_fields(report)
        if found:
            fields["duplicate_of"] = " ".join(item.split("|")[0] for item in found)
        entry = self.services.redis.xadd(self.services.producer.stream_for(report.id), fields)
        return ["ok", entry, *found]

    def gate(self, address: str, key_id: str | None = None, key_limit: int = 0) -> None:
        """Count a request that will not be appended; raises ``IntakeRefused`` past a limit."""
        self._run(address, key_id, key_limit, None, "gate")

    def accept(self, address: str, key_id: str, key_limit: int, report: Report,
               count: bool = True) -> Accepted:
        """Count (unless ``gate`` already did), probe and append one validated report; raises
        ``IntakeRefused``."""
        answer = self._run(address, key_id, key_limit, report, "append" if count else "counted")
        producer = self.services.producer
        wait_replicas(self.services.redis, [producer.stream_for(report.id)], producer.wait_replicas)
        found = duplicates.parse_found(self.services.preset, answer[2:])
        if found:
            report = replace(report, duplicate_of=tuple(d["id"] for d in found))
        return Accepted(report, answer[1], found)
