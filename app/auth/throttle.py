"""Sign-in throttling: counted in Redis before any password is checked, and a bound on the
Argon2 work one web process does at once.

No account is ever locked. A try is *reserved* atomically (one Lua script) before Argon2 runs, so
parallel guesses cannot pass a limit, and it is given back when the password was right:

* per (account name, client address): ``login_free_attempts`` wrong passwords, then each further
  try waits ``login_delay_s``, doubling every time up to ``login_max_delay_s``. A stranger guessing
  from one address slows down only their own pair: the owner signs in from their own address.
* per client address, whatever the account names (unknown ones too): at most
  ``login_address_limit`` failed sign-ins in a sliding window of ``login_address_window_s``.
  IPv6 addresses count by their /64 network (what one subscriber usually gets).

An unknown account name is counted exactly like a real one and its password is checked against a
fixed hash (``app.auth.users``), so neither the answer nor its timing tells which names exist.
Then at most ``login_concurrency`` password checks run at once per process: a sign-in waits up to
``login_wait_s`` for a free one, else it is refused (503, Retry-After) and its try given back.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
import uuid
from contextlib import contextmanager

import redis

PAIR_MEMORY_S = 86_400   # a (name, address) pair's count is forgotten a day after its last failure

RESERVE_LUA = """
-- KEYS: 1 the (address, account) pair hash, 2 the address's sorted set of failures
-- ARGV: 1 now (ms), 2 this try's id, 3 free attempts, 4 first delay (ms), 5 longest delay (ms),
--       6 address limit, 7 address window (ms), 8 pair memory (s)
local now = tonumber(ARGV[1])
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local nxt = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
if nxt > now then return {'wait', 'account', tostring(nxt - now)} end
local window = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {'wait', 'address', tostring(tonumber(oldest[2]) + window - now)}
end
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('PEXPIRE', KEYS[2], window)
local free = tonumber(ARGV[3])
local delay = 0
if n + 1 >= free then delay = math.min(tonumber(ARGV[5]), tonumber(ARGV[4]) * 2 ^ (n + 1 - free)) end
-- 'next' moves only when this try makes the next one wait: parallel tries read the clock in an
-- order that is not the order they reach Redis, so a try stamped a millisecond earlier than the
-- one before it must not find itself 'waiting' for that millisecond.
if delay > 0 then
  redis.call('HSET', KEYS[1], 'n', n + 1, 'next', now + delay)
else
  redis.call('HSET', KEYS[1], 'n', n + 1)
end
redis.call('EXPIRE', KEYS[1], ARGV[8])
return {'ok', tostring(n), tostring(nxt)}
"""

# A try given back: the password was right (the pair starts afresh), or it was never checked
# (no free password check; the pair goes back to what it was, unless another try moved it since).
RELEASE_LUA = """
-- KEYS: 1 the pair hash, 2 the address's sorted set; ARGV: 1 the try's id, 2 'success' or 'unchecked',
--       3 the pair's count before the try, 4 its 'next' before the try
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == 'success' then
  redis.call('DEL', KEYS[1])
elseif tonumber(redis.call('HGET', KEYS[1], 'n') or '0') == tonumber(ARGV[3]) + 1 then
  redis.call('HSET', KEYS[1], 'n', ARGV[3], 'next', ARGV[4])
end
return 1
"""


class LoginThrottled(Exception):
    """Too many failed sign-ins: ``scope`` 'account' (this name from this address) or 'address'."""

    def __init__(self, scope: str, retry_after: int):
        super().__init__(f"too many failed sign-ins ({scope}); retry after {retry_after} s")
        self.scope, self.retry_after = scope, retry_after


class LoginBusy(Exception):
    """No password check free (a flood, or Redis unreachable): nothing was checked or counted."""

    def __init__(self, retry_after: int):
        super().__init__(f"sign-in busy; retry after {retry_after} s")
        self.retry_after = retry_after


def address_subject(address: str | None) -> str:
    """The client address as counted: IPv4 as is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address) + "/64"
    return str(ip)


def account_digest(name: str) -> str:
    """The typed account name as a fixed-length digest (no free text inside a key)."""
    return hashlib.sha256((name or "").strip().lower().encode()).hexdigest()[:32]


class Attempt:
    def __init__(self, throttle: "Throttle", keys: list[str], try_id: str, before: tuple[str, str]):
        self._throttle, self._keys, self._id, self._before = throttle, keys, try_id, before
        self._done = False

    def succeeded(self) -> None:
        """The password was right: this pair starts afresh and the try is not a failure of the address."""
        self._release("success")

    def _release(self, how: str) -> None:
        if not self._done:
            self._done = True
            self._throttle._release(self._keys, self._id, how, self._before)


class Throttle:
    """One per web process (its semaphore bounds that process's Argon2 work)."""

    def __init__(self, client, keys, settings, clock=time.time):
        self.redis, self.keys, self.settings, self.clock = client, keys, settings, clock
        self._reserve = client.register_script(RESERVE_LUA)
        self._release_script = client.register_script(RELEASE_LUA)
        self._checks = threading.BoundedSemaphore(settings.login_concurrency)

    def _release(self, keys: list[str], try_id: str, how: str, before: tuple[str, str]) -> None:
        try:
            self._release_script(keys=keys, args=[try_id, how, *before])
        except redis.exceptions.RedisError:
            pass   # the try stays counted: errs on the side of the limit

    @contextmanager
    def attempt(self, account: str, address: str | None):
        """Reserve one try for ``account`` from ``address`` and hold a password check for it.
        Raises ``LoginThrottled`` (nothing checked) or ``LoginBusy`` (nothing checked or counted).
        The try counts as a failure unless ``succeeded()`` is called on what this yields."""
        s = self.settings
        subject = address_subject(address)
        keys = [self.keys.login_pair(subject, account_digest(account)), self.keys.login_address(subject)]
        try_id = uuid.uuid4().hex
        try:
            answer = self._reserve(keys=keys, args=[
                int(self.clock() * 1000), try_id, s.login_free_attempts, int(s.login_delay_s * 1000),
                int(s.login_max_delay_s * 1000), s.login_address_limit, s.login_address_window_s * 1000,
                PAIR_MEMORY_S])
        except redis.exceptions.RedisError:
            raise LoginBusy(5) from None
        answer = [a.decode() if isinstance(a, bytes) else str(a) for a in answer]
        if answer[0] == "wait":
            raise LoginThrottled(answer[1], max(1, math.ceil(float(answer[2]) / 1000)))
        attempt = Attempt(self, keys, try_id, (answer[1], answer[2]))
        if not self._checks.acquire(timeout=s.login_wait_s):
            attempt._release("unchecked")
            raise LoginBusy(max(1, math.ceil(s.login_wait_s)))
        try:
            yield attempt
        finally:
            self._checks.release()
