"""Every Redis key, stream, group and channel name Pantau uses, built in one place.

All keys of a city share the hash tag ``{city}`` so a city's keys live on one
cluster slot and several cities can share one Redis.

With ``PANTAU_STREAM_PARTITIONS`` > 1 a city's event stream splits into
partitions, each under its own hash tag ``{city:p}``: partition p's stream and
everything its aggregator writes in one script call (records, hex and resolved
counters, SLA set, duplicate index, ticker, live sequence, dead letters) share
that slot, so one city's load spreads over the shards of a cluster. The
city-wide keys (rate limits, sign-in throttles, consumer heartbeats, acks,
caches) keep the ``{city}`` tag. Readers merge the partitions (``parts()``).
With one partition nothing changes: the stream is ``{city}:events:0`` and the
aggregates are the city's own keys.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

AGGREGATOR = "aggregator"
PERSISTER = "persister"
CONSUMER_GROUPS = (AGGREGATOR, PERSISTER)


@dataclass(frozen=True)
class Keys:
    city: str
    prefix: str = "pantau"
    partitions: int = 1
    partition: int | None = None    # set on the keys of one partition (``part``)

    @classmethod
    def for_city(cls, preset) -> "Keys":
        """The keys of a city preset, with the install's partition count."""
        return cls(preset.slug, partitions=getattr(preset, "stream_partitions", 1))

    @property
    def _base(self) -> str:
        """The tag of the partitioned keys: the city's own, or ``{city:p}`` for one partition."""
        if self.partition is None or self.partitions <= 1:
            return self._city_base
        return f"{self.prefix}:{{{self.city}:{self.partition}}}"

    @property
    def _city_base(self) -> str:
        return f"{self.prefix}:{{{self.city}}}"

    @property
    def city_keys(self) -> "Keys":
        """The keys of the whole city (the partition forgotten)."""
        return replace(self, partition=None)

    def part(self, partition: int) -> "Keys":
        """The keys of stream partition ``partition`` (with one partition: the city's own keys)."""
        if not 0 <= partition < self.partitions:
            raise ValueError(f"partition {partition} is not in 0..{self.partitions - 1}")
        return replace(self, partition=partition)

    def parts(self) -> list["Keys"]:
        """The keys of every partition, in order (readers merge what they hold)."""
        if self.partition is not None:
            return [self]
        return [self.part(p) for p in range(self.partitions)]

    def partition_of(self, report_id: str) -> int:
        """The partition of a report: every event of one report stays in order on one partition."""
        return int(report_id[:8], 16) % self.partitions if self.partitions > 1 else 0

    def stream(self, partition: int = 0) -> str:
        if self.partition is not None:
            partition = self.partition
        elif self.partitions > 1:
            return self.part(partition).stream()
        return f"{self._base}:events:{partition}"

    def claim_lease(self, group: str, partition: int) -> str:
        """consumer name holding partition ``partition`` for ``group``, with a TTL (renewed while alive)."""
        return f"{self._city_base}:ops:lease:{group}:{partition}"

    def claim_members(self, group: str) -> str:
        """sorted set of the live consumer processes of ``group`` over the partitions, scored by last seen (ms)."""
        return f"{self._city_base}:ops:members:{group}"

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
        return f"{self._city_base}:open311:revoked"

    @property
    def recent(self) -> str:
        """list of public summaries of the newest reports, newest first."""
        return f"{self._base}:agg:recent"

    # live fan-out
    @property
    def live_channel(self) -> str:
        return f"{self._city_base}:live"

    @property
    def live_shard_channel(self) -> str:
        """sharded pub/sub channel (SPUBLISH, Redis 7+) of one partition's deltas: under the
        partition's hash tag, so the aggregator's script publishes on its own shard."""
        return f"{self._base}:live"

    @property
    def live_probe_channel(self) -> str:
        """channel nobody listens to: an SPUBLISH on it tells whether the server has sharded pub/sub."""
        return f"{self._city_base}:live:probe"

    @property
    def live_seq(self) -> str:
        return f"{self._base}:live:seq"

    @property
    def queue_channel(self) -> str:
        """pub/sub channel: reports just written to SQL (ids only), so open consoles refresh their queue."""
        return f"{self._city_base}:live:queue"

    @property
    def display_revoked_channel(self) -> str:
        """pub/sub channel: the id of a wall display token just revoked (web processes close its sockets)."""
        return f"{self._city_base}:live:display-revoked"

    def spike_ack(self, name: str) -> str:
        """An acknowledged wall incident ("category|res-6 cell" -> JSON who and when), with an expiry."""
        return f"{self._city_base}:wall:ack:{name}"

    # operations
    @property
    def consumer_stats(self) -> str:
        """consumer name -> JSON heartbeat (processed, rate, last seen)."""
        return f"{self._city_base}:ops:consumers"

    @property
    def simulator_commands(self) -> str:
        """list of JSON commands for a running simulator (start a burst...)."""
        return f"{self._city_base}:ops:simulator"

    # rate limits (sliding windows, app.open311.intake.LIMITER_LUA)
    def rate_limit(self, scope: str, subject: str) -> str:
        """hash bucket -> requests of one subject (an API key id, a client address) in a sliding window."""
        return f"{self._city_base}:rate:{scope}:{subject}"

    def rate_sliding(self, scope: str, subject: str) -> str:
        """Sorted set of the times of one subject's counted requests (app.ratelimit, sliding windows)."""
        return f"{self._city_base}:rate:sliding:{scope}:{subject}"
    # staff sign-in throttling (app.auth.throttle)
    def login_pair(self, address: str, account_digest: str) -> str:
        """hash {n: failed sign-ins, next: ms before which no further try is checked} for one account
        name (existing or not; a digest, never the typed text) from one client address."""
        return f"{self._city_base}:login:pair:{address}:{account_digest}"

    def login_address(self, address: str) -> str:
        """sorted set of one client address's failed sign-ins (any account), scored by time in ms:
        the sliding window checked before any password is."""
        return f"{self._city_base}:login:address:{address}"

    # public kiosk
    def public_cache(self, name: str) -> str:
        """"<computed at>|<JSON>" of one public figure, recomputed every few seconds (app.public)."""
        return f"{self._city_base}:public:{name}"

    def agg_pattern(self) -> str:
        """Every aggregate key of the city, or of one partition (for rebuild)."""
        return f"{self._base}:agg:*"


def dead_letter(keys: Keys) -> str:
    """Entries no consumer could read, kept for a person to look at."""
    return f"{keys._base}:events:dead-letter"
