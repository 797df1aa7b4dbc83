"""Sliding-window rate limits in Redis: at most N requests in any window of W seconds.

Each limited subject (a client address, a ticket...) keeps a sorted set of the times of its
counted requests. One Lua script drops the times older than the window, checks every limit the
request falls under, and only when all have room records the request in each: atomic, one round
trip, and exact at every instant (a fixed window lets twice the limit through across a boundary).
Keys come from ``app.store.keys.Keys.rate_sliding``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

SLIDING_LUA = """
-- KEYS: one sorted set per limit; ARGV: 1 now (ms), 2 a unique member, then limit, window (ms) per key
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local limit, window = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local wait = window
    if oldest[2] then wait = tonumber(oldest[2]) + window - now end
    return {i, wait}
  end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 + 2 * i]))
end
return {0, 0}
"""


@dataclass(frozen=True)
class Limit:
    key: str            # from Keys.rate_sliding
    limit: int          # requests allowed...
    window_s: float     # ...in any window this long
    scope: str          # named in the refusal ("address", "ticket")


class Limited(Exception):
    """Past a limit: ``scope``, ``limit``, ``window_s`` and ``retry_after`` (whole seconds, >= 1)."""

    def __init__(self, scope: str, limit: int, window_s: float, retry_after: int):
        super().__init__(f"{scope}: at most {limit} in {window_s:g} s; retry in {retry_after} s")
        self.scope, self.limit, self.window_s, self.retry_after = scope, limit, window_s, retry_after


class SlidingLimiter:
    def __init__(self, redis_client, clock=time.time):
        self.redis = redis_client
        self.clock = clock
        self._script = redis_client.register_script(SLIDING_LUA)

    def hit(self, *limits: Limit) -> None:
        """Count one request under every limit, or none when one is full (raises ``Limited``)."""
        if not limits:
            return
        now_ms = int(self.clock() * 1000)
        args: list = [now_ms, f"{now_ms}:{os.urandom(6).hex()}"]
        for item in limits:
            args += [item.limit, int(item.window_s * 1000)]
        index, wait_ms = self._script(keys=[item.key for item in limits], args=args)
        if int(index):
            item = limits[int(index) - 1]
            raise Limited(item.scope, item.limit, item.window_s, max(1, -(-int(wait_ms) // 1000)))
