"""The persister: writes the reports the stream brings to the SQL system of record.

One transaction per batch, then the acknowledgement. A crash between the two
redelivers the batch, and the idempotent writes of ``app.store.db`` make the
second write a no-op: every report is stored exactly once.

Status and priority events are not written back: the one change path
(``app.followup.change_report``) committed them to SQL before they reached the
stream. The persister only marks the days they touch for /kinerja's rollups
(idempotent marks). Scheduled work (outbox relay, stream trimming, rollups,
auto-close) is the jobs process's (``ingest.jobs``), not a consumer's.
"""
from __future__ import annotations

import logging

from app.staff import push
from app.store import db, rollups
from app.store.keys import PERSISTER
from ingest import events
from ingest.consumer import StreamConsumer

log = logging.getLogger(__name__)


# SQLite: the persister's connection keeps this many KiB of pages (the default is 2 MiB). Each batch
# touches pages all over a dozen indexes; with 64 MiB those stay in memory between batches, 10-20 %
# less CPU a report at 12,000-48,000 rows (bench/cluster.py). One connection, not the web's pool.
SQLITE_CACHE_KIB = 65536


def write_batch(engine, created: list, changes: list[dict]) -> None:
    """A batch's new reports and the days it touches, in one commit (``Persister.handle``; the bench
    times this write alone)."""
    if not created and not changes:
        return
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        db.insert_reports(conn, created)
        rollups.mark_changed(conn, created, changes)   # idempotent: a day is recomputed, not added to


class Persister(StreamConsumer):
    group = PERSISTER

    def __init__(self, client, keys, name, engine, producer=None, **options):
        super().__init__(client, keys, name, **options)
        self.engine = engine
        self.producer = producer

    def handle(self, entries) -> None:
        batch = self.decode_batch(entries)
        created = [e.report for e in batch if e.kind == events.CREATED]
        changes = [e.change for e in batch if e.kind == events.STATUS]
        write_batch(self.engine, created, changes)
        push.announce(self.redis, self.keys, created, changes)   # open consoles refresh (app.staff.push)
        if batch:
            self.redis.xack(self.stream, self.group, *[e.entry_id for e in batch])
