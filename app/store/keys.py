"""Every Redis key, stream, group and channel name Pantau uses, built in one place.

All keys of a city share the hash tag ``{city}`` so a city's keys live on one
cluster slot and several cities can share one Redis. The event stream carries
a partition number so it can be split later without renaming anything.
"""
from __future__ import annotations

from dataclasses import dataclass

AGGREGATOR = "aggregator"
PERSISTER = "persister"
CONSUMER_GROUPS = (AGGREGATOR, PERSISTER)


@dataclass(frozen=True)
class Keys:
    city: str
    prefix: str = "pantau"

    @property
    def _base(self) -> str:
        return f"{self.prefix}:{{{self.city}}}"

    def stream(self, partition: int = 0) -> str:
        return f"{self._base}:events:{partition}"

    # aggregates
    @property
    def agg_records(self) -> str:
        """report id -> the compact record of what the aggregates count for it."""
        return f"{self._base}:agg:records"

    def hex_counts(self, granularity: str, resolution: int, bucket: int | None = None) -> str:
        """cell|category|state -> reports created in the bucket (granularity 'all' has no bucket)."""
        tail = "" if bucket is None else f":{bucket}"
        return f"{self._base}:agg:hex:{granularity}:{resolution}{tail}"

    def resolved_counts(self, granularity: str, bucket: int | None = None) -> str:
        """category|ontime/late and ttr|bin -> reports resolved in the bucket."""
        tail = "" if bucket is None else f":{bucket}"
        return f"{self._base}:agg:resolved:{granularity}{tail}"

    @property
    def sla_open(self) -> str:
        """sorted set of open report ids scored by their SLA due time."""
        return f"{self._base}:agg:sla-open"

    def dup_index(self, category: str, cell9: str) -> str:
        """sorted set of reports created in the last day in one res-9 cell, scored by creation time.

        The likely-duplicate probe reads it (``app.duplicates``); whether a member
        is still open is read from ``agg_records`` at probe time.
        """
        return f"{self._base}:agg:dup:{category}:{cell9}"

    @property
    def open311_revoked(self) -> str:
        """set of revoked Open311 key ids, checked on every POST in the same step as the rate limits."""
        return f"{self._base}:open311:revoked"

    @property
    def recent(self) -> str:
        """list of public summaries of the newest reports, newest first."""
        return f"{self._base}:agg:recent"

    # live fan-out
    @property
    def live_channel(self) -> str:
        return f"{self._base}:live"

    @property
    def live_seq(self) -> str:
        return f"{self._base}:live:seq"

    @property
    def display_revoked_channel(self) -> str:
        """pub/sub channel: the id of a wall display token just revoked (web processes close its sockets)."""
        return f"{self._base}:live:display-revoked"

    def spike_ack(self, name: str) -> str:
        """An acknowledged wall incident ("category|res-6 cell" -> JSON who and when), with an expiry."""
        return f"{self._base}:wall:ack:{name}"

    # operations
    @property
    def consumer_stats(self) -> str:
        """consumer name -> JSON heartbeat (processed, rate, last seen)."""
        return f"{self._base}:ops:consumers"

    @property
    def simulator_commands(self) -> str:
        """list of JSON commands for a running simulator (start a burst...)."""
        return f"{self._base}:ops:simulator"

    # rate limits (sliding windows, app.open311.intake.LIMITER_LUA)
    def rate_limit(self, scope: str, subject: str) -> str:
        """hash bucket -> requests of one subject (an API key id, a client address) in a sliding window."""
        return f"{self._base}:rate:{scope}:{subject}"

    def rate_sliding(self, scope: str, subject: str) -> str:
        """Sorted set of the times of one subject's counted requests (app.ratelimit, sliding windows)."""
        return f"{self._base}:rate:sliding:{scope}:{subject}"
    # staff sign-in throttling (app.auth.throttle)
    def login_pair(self, address: str, account_digest: str) -> str:
        """hash {n: failed sign-ins, next: ms before which no further try is checked} for one account
        name (existing or not; a digest, never the typed text) from one client address."""
        return f"{self._base}:login:pair:{address}:{account_digest}"

    def login_address(self, address: str) -> str:
        """sorted set of one client address's failed sign-ins (any account), scored by time in ms:
        the sliding window checked before any password is."""
        return f"{self._base}:login:address:{address}"

    # public kiosk
    def public_cache(self, name: str) -> str:
        """"<computed at>|<JSON>" of one public figure, recomputed every few seconds (app.public)."""
        return f"{self._base}:public:{name}"

    def agg_pattern(self) -> str:
        """Every aggregate key of the city (for rebuild)."""
        return f"{self._base}:agg:*"


def dead_letter(keys: Keys) -> str:
    """Entries no consumer could read, kept for a person to look at."""
    return f"{keys._base}:events:dead-letter"
