"""The persister: writes reports and status events to the SQL system of record.

One transaction per batch, then the acknowledgement. A crash between the two
redelivers the batch, and the idempotent writes of ``app.store.db`` make the
second write a no-op: every report is stored exactly once.
"""
from __future__ import annotations

import logging
import time

from app import feedback, followup, ops
from app.staff import push
from app.store import db, rollups
from app.store.keys import PERSISTER
from ingest import events
from ingest.consumer import StreamConsumer

log = logging.getLogger(__name__)


class Persister(StreamConsumer):
    group = PERSISTER

    autoclose_every_s = 60.0

    def __init__(self, client, keys, name, engine, producer=None, autoclose_working_days: int | None = None,
                 **options):
        super().__init__(client, keys, name, **options)
        self.engine = engine
        self.producer = producer
        self.autoclose_working_days = autoclose_working_days
        self._next_autoclose = 0.0

    def maintain(self) -> None:
        """Send status events stuck in the outbox, and trim what every group has finished."""
        if self.partition:     # a partitioned stream: the city-wide chores are partition 0's
            ops.trim_stream(self.redis, self.keys)
            return
        if self.producer is not None:
            relayed = followup.relay_unpublished(self.engine, self.producer)
            if relayed:
                log.warning("%s: relayed %d status events from the outbox", self.name, relayed)
        ops.trim_stream(self.redis, self.keys)
        if self.producer is not None:   # /kinerja's rollups: recompute the days the last batches touched
            rollups.refresh_dirty(self.engine, self.producer.preset.slug, self.producer.preset.timezone)
        if self.autoclose_working_days and self.producer is not None and time.monotonic() >= self._next_autoclose:
            self._next_autoclose = time.monotonic() + self.autoclose_every_s
            closed = feedback.auto_close(self.engine, self.producer, self.producer.preset,
                                         working_days=self.autoclose_working_days)
            if closed:
                log.info("%s: closed %d resolved reports nobody disputed", self.name, closed)

    def handle(self, entries) -> None:
        batch = self.decode_batch(entries)
        created = [e.report for e in batch if e.kind == events.CREATED]
        changes = [e.change for e in batch if e.kind == events.STATUS]
        db.write_batch(self.engine, created, changes)
        push.announce(self.redis, self.keys, created, changes)   # open consoles refresh (app.staff.push)
        rollups.mark_changed(self.engine, created, changes)   # idempotent: a day is recomputed, not added to
        if batch:
            self.redis.xack(self.stream, self.group, *[e.entry_id for e in batch])
