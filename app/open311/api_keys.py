"""Open311 API keys: created and revoked by a command, stored only as SHA-256 hashes.

A key is shown once, when created; the table keeps its hash, a short public
id (for listing and revoking), a name, an optional per-minute rate limit and
when it was revoked.

The SQL table is the authority. Web processes keep the keys they have seen in
a small cache (``KeyCache``: a POST does not pay a SQL query), and revocation
is immediate all the same: ``revoke_key`` adds the key id to a Redis set that
the intake script checks on every POST in the same step as the rate limits,
before it marks the SQL row. Cached entries are re-read from SQL after a
minute, so even a revocation that never reached Redis holds within a minute.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, update

from app.store.tables import api_keys


KEY_PREFIX = "p311_"


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    rate_per_minute: int | None
    created_at: datetime
    revoked_at: datetime | None


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(engine, name: str, rate_per_minute: int | None = None) -> tuple[ApiKey, str]:
    """A new key: its record and the secret (shown once, never stored)."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValueError("name: 1 to 120 characters")
    if rate_per_minute is not None and rate_per_minute <= 0:
        raise ValueError("rate_per_minute: must be a positive whole number")
    key_id = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(api_keys.insert().values(key_id=key_id, key_hash=_hash(secret), name=name,
                                              rate_per_minute=rate_per_minute, created_at=now))
    return ApiKey(key_id, name, rate_per_minute, now, None), secret


def revoke_key(engine, key_id: str, client, keys) -> bool:
    """Revoke a key by its id; False when no such live key exists.

    Redis first: from the moment it answers, no web process accepts the key,
    whatever it has cached; then the SQL row, the record that lasts.
    """
    client.sadd(keys.open311_revoked, key_id)
    with engine.begin() as conn:
        return conn.execute(update(api_keys).where(api_keys.c.key_id == key_id,
                                                   api_keys.c.revoked_at.is_(None))
                            .values(revoked_at=datetime.now(timezone.utc))).rowcount == 1


def list_keys(engine) -> list[ApiKey]:
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
    return [ApiKey(r.key_id, r.name, r.rate_per_minute, r.created_at, r.revoked_at) for r in rows]


def _well_formed(raw_key) -> bool:
    return isinstance(raw_key, str) and raw_key.startswith(KEY_PREFIX) and len(raw_key) <= 100


def check_key(engine, raw_key) -> ApiKey | None:
    """The live key ``raw_key`` is, or None (unknown, malformed or revoked)."""
    if not _well_formed(raw_key):
        return None
    with engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_hash == _hash(raw_key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return ApiKey(row.key_id, row.name, row.rate_per_minute, row.created_at, row.revoked_at)


class KeyCache:
    """Keys this process has looked up, by hash, for ``ttl_s`` seconds (least recently used go first).

    Unknown keys are not cached: a stream of made-up keys costs the SQL
    lookups, is counted against its address's rate limit, and cannot grow the cache.
    """

    def __init__(self, engine, ttl_s: float = 60.0, size: int = 1024):
        self.engine, self.ttl_s, self.size = engine, ttl_s, size
        self._entries: OrderedDict[str, tuple[float, ApiKey]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, raw_key) -> ApiKey | None:
        if not _well_formed(raw_key):
            return None
        digest, now = _hash(raw_key), time.monotonic()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None and now - entry[0] < self.ttl_s:
                self._entries.move_to_end(digest)
                return entry[1]
        key = check_key(self.engine, raw_key)
        with self._lock:
            if key is None:
                self._entries.pop(digest, None)
            else:
                self._entries[digest] = (now, key)
                self._entries.move_to_end(digest)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return key
