"""The stream producer: validate, normalise, H3-index and append report events.

Every source goes through here: the simulator, file replay, the report form
and the Open311 API. ``submit`` returns only once the event is in Redis (with
the embedded server's ``appendfsync always``, on disk), so a 2xx answer means
the report cannot be lost.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

import redis

from app.followup import FeedUnavailable
from app.reports import Report, ReportInvalid, build_report
from app.store.keys import Keys
from app.store.redis_conn import wait_replicas
from ingest import events

log = logging.getLogger(__name__)


@dataclass
class SubmitResult:
    accepted: list[Report] = field(default_factory=list)
    rejected: list[tuple[int, ReportInvalid]] = field(default_factory=list)


class Producer:
    def __init__(self, client: redis.Redis, preset, areas, partitions: int = 1,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), wait_replicas: int = 0):
        self.redis = client
        self.preset = preset
        self.areas = areas
        self.keys = Keys(preset.slug, partitions=partitions)
        self.partitions = partitions
        self.clock = clock
        self.wait_replicas = wait_replicas   # PANTAU_REDIS_WAIT_REPLICAS

    def stream_for(self, report_id: str) -> str:
        # Partition by report id: all events of one report stay in order on one partition.
        return self.keys.stream(self.keys.partition_of(report_id))

    def validate(self, raw) -> Report:
        return build_report(raw, self.preset, self.areas, self.clock())

    def submit(self, raw) -> Report:
        """Validate and append one report; raises ReportInvalid or redis errors."""
        return self.append(self.validate(raw))

    def append(self, report: Report) -> Report:
        """Append a report ``validate`` already answered."""
        stream = self.stream_for(report.id)
        self.redis.xadd(stream, events.created_fields(report))
        wait_replicas(self.redis, [stream], self.wait_replicas)
        return report

    def submit_many(self, raws: Iterable, retry_for_s: float = 0.0) -> SubmitResult:
        """Validate a batch and append the valid ones in one pipeline.

        With ``retry_for_s`` > 0 a Redis outage is waited out with backoff
        (sources that must not drop rows: replay, simulator).
        """
        result = SubmitResult()
        for index, raw in enumerate(raws):
            try:
                result.accepted.append(self.validate(raw))
            except ReportInvalid as err:
                result.rejected.append((index, err))
        if result.accepted:
            self._append([(self.stream_for(r.id), events.created_fields(r)) for r in result.accepted],
                         retry_for_s)
        return result

    def emit_status(self, change: dict, retry_for_s: float = 0.0) -> None:
        """Append a status change; FeedUnavailable when Redis cannot take it (it stays in the outbox)."""
        try:
            self._append([(self.stream_for(change["report_id"]), events.status_fields(change))], retry_for_s)
        except (redis.ConnectionError, redis.TimeoutError) as err:
            raise FeedUnavailable(str(err)) from err

    def _append(self, entries: list[tuple[str, dict]], retry_for_s: float) -> None:
        delay, deadline = 0.1, time.monotonic() + retry_for_s
        while True:
            try:
                pipe = self.redis.pipeline(transaction=False)
                for stream, fields in entries:
                    pipe.xadd(stream, fields)
                pipe.execute()
                wait_replicas(self.redis, {stream for stream, _ in entries}, self.wait_replicas)
                return
            except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterError,
                    redis.exceptions.ClusterDownError) as err:   # a cluster during a failover
                if time.monotonic() >= deadline:
                    raise
                # Re-sending after an unclear failure may duplicate entries; consumers dedupe by event id.
                log.warning("Redis unreachable while appending %d events (%s); retrying in %.1f s",
                            len(entries), err, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
