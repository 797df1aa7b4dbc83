"""The Open311 POST intake: rate limits, revocation, the likely-duplicate probe and the append in one step.

A POST is parsed and validated in Python (no I/O), then one Lua script does,
atomically and in one round trip to Redis:

1. count the request against its client address's per-minute window;
2. refuse a key revoked since this process cached it (``keys.revoke_key``);
3. count it against the key's per-minute window;
4. look for likely duplicates (``app.duplicates.PROBE_LUA``, the rule the
   report form uses too);
5. XADD the ``created`` event, with the duplicates it found, to the stream.

With the embedded Redis's ``appendfsync always`` the answer comes back only
once the event is on disk: a 201 means the report cannot be lost. Requests
refused before the append (a missing or unknown key, a bad field) still run
steps 1-3 through the same script (``gate``), so a flood of bad requests
counts against its limits exactly like good ones; the other Open311 endpoints
count against the address limit through ``gate`` too.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import redis

from app import duplicates
from app.reports import Report
from app.store.redis_conn import wait_replicas
from ingest import events

WINDOW_S = 60   # fixed one-minute windows per client address and per API key

INTAKE_LUA = duplicates.PROBE_LUA + """
-- KEYS: 1 revoked key ids, 2 address window, 3 key window, 4 aggregate records, 5 stream,
--       6.. likely-duplicate index cells
-- ARGV: 1 key id ('' for none), 2 address limit, 3 key limit, 4 window ttl,
--       5 mode ('gate': count only, 'append': count and append, 'counted': append only),
--       6 duplicates since, 7 duplicates limit, 8 the report's id, 9.. the event's field/value pairs
local function over(key, limit)
  redis.call('SET', key, 0, 'EX', ARGV[4], 'NX')
  return redis.call('INCR', key) > tonumber(limit)
end
if ARGV[5] ~= 'counted' then
  if over(KEYS[2], ARGV[2]) then return {'limited', 'address'} end
  if ARGV[1] ~= '' then
    if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {'revoked'} end
    if over(KEYS[3], ARGV[3]) then return {'limited', 'key'} end
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
"""


class IntakeRefused(Exception):
    """Refused by a limit or a revocation: ``status`` (429/403), ``scope`` and ``retry_after``."""

    def __init__(self, status: int, scope: str, limit: int = 0, retry_after: int = 0):
        super().__init__(scope)
        self.status, self.scope, self.limit, self.retry_after = status, scope, limit, retry_after


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
        window = int(now // WINDOW_S)
        cells = duplicates.probe_keys(keys, report.category, report.lat, report.lng) if report else []
        stream = self.services.producer.stream_for(report.id) if report else keys.stream()
        args = [key_id or "", settings.open311_address_rate, key_limit, WINDOW_S * 2,
                mode, int(now - duplicates.WINDOW.total_seconds()), duplicates.LIMIT, report.id if report else ""]
        if report is not None:
            for name, value in events.created_fields(report).items():
                args += (name, value)
        script_keys = [keys.open311_revoked, keys.rate_window("address", address, window),
                       keys.rate_window("key", key_id or "-", window)]
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
            raise IntakeRefused(429, scope, limit, max(1, int((window + 1) * WINDOW_S - now)))
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
