"""The shared loop of the stream consumers, after rq's worker.

Start-up (create the group), signal handlers (first signal: finish the batch
and stop; second: stop now), a blocking read with a timeout, the consumer's
own ``handle`` (transform, write, acknowledge), a heartbeat, teardown in
``finally``. ``max_batches`` and ``burst`` make a consumer testable.

A consumer keeps a stable name, so after a crash it first re-reads its own
pending entries; entries left pending by another dead consumer are claimed
after ``claim_idle_s``.
"""
from __future__ import annotations

import json
import logging
import signal
import threading
import time

import redis

from app.store.keys import Keys, dead_letter
from ingest import events

log = logging.getLogger(__name__)


class StreamConsumer:
    group: str = ""

    def __init__(self, client: redis.Redis, keys: Keys, name: str, batch_size: int = 500,
                 block_ms: int = 200, claim_idle_s: float = 30.0, partition: int = 0, linger_ms: int = 0):
        self.redis = client
        # One partition's keys: its stream and the aggregates it writes share its slot.
        self.keys = keys.part(partition) if keys.partition is None else keys
        self.partition = self.keys.partition
        self.name = name
        self.stream = self.keys.stream()
        self.batch_size = batch_size
        self.block_ms = block_ms
        # Under load, wait this long to fill a batch (``read``); below a tenth of one, never.
        self.linger_s = linger_ms / 1000.0
        self.linger_from = max(1, batch_size // 10)
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.stopping = threading.Event()
        self.processed = 0
        self._own_pending_done = False
        self._rate_window: tuple[float, int] = (time.monotonic(), 0)

    # --- start-up -------------------------------------------------------------------------
    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    def install_signal_handlers(self) -> None:
        def first(signum, _frame):
            log.info("%s: signal %s, finishing the batch then stopping", self.name, signum)
            self.stopping.set()
            signal.signal(signal.SIGINT, second)
            signal.signal(signal.SIGTERM, second)

        def second(signum, _frame):
            raise SystemExit(1)

        signal.signal(signal.SIGINT, first)
        signal.signal(signal.SIGTERM, first)

    # --- reading ----------------------------------------------------------------------------
    def read(self) -> list[tuple[str, dict]]:
        if not self._own_pending_done:
            # After a restart: what this consumer had read but not acknowledged comes first.
            entries = self._xreadgroup("0", block=None)
            if entries:
                return entries
            self._own_pending_done = True
        claimed = self._claim_abandoned()
        if claimed:
            return claimed
        entries = self._xreadgroup(">", block=self.block_ms)
        if self.linger_s and self.linger_from <= len(entries) < self.batch_size:
            # Entries are coming fast: a batch's fixed costs (a script call, a commit, each counter
            # key's expiry, a combined increment per cell) are shared by more reports if it waits a
            # moment to fill. A trickle is handled at once (the wall's latency at an ordinary rate).
            time.sleep(self.linger_s)
            entries += self._xreadgroup(">", block=None, count=self.batch_size - len(entries))
        return entries

    def _xreadgroup(self, start: str, block: int | None, count: int | None = None) -> list[tuple[str, dict]]:
        reply = self.redis.xreadgroup(self.group, self.name, {self.stream: start},
                                      count=count or self.batch_size, block=block)
        if not reply:
            return []
        return [(entry_id, fields) for entry_id, fields in reply[0][1] if fields]

    def _claim_abandoned(self) -> list[tuple[str, dict]]:
        reply = self.redis.xautoclaim(self.stream, self.group, self.name, self.claim_idle_ms,
                                      start_id="0-0", count=self.batch_size)
        # Redis 6.2 answers [next, entries]; 7+ adds the deleted ids.
        return [(entry_id, fields) for entry_id, fields in reply[1] if fields]

    # --- the loop ---------------------------------------------------------------------------
    full_reports = True     # created events decoded to whole ``Report`` values (``events.decode``)

    def decode_batch(self, entries) -> list[events.Event]:
        decoded, unreadable = [], []
        for entry_id, fields in entries:
            try:
                decoded.append(events.decode(entry_id, fields, full=self.full_reports))
            except ValueError as err:
                log.error("%s: %s; moved to the dead-letter stream", self.name, err)
                unreadable.append((entry_id, fields, str(err)))
        if unreadable:
            pipe = self.redis.pipeline(transaction=True)
            for entry_id, fields, reason in unreadable:
                pipe.xadd(dead_letter(self.keys), {**fields, "entry_id": entry_id, "group": self.group,
                                                   "reason": reason})
                pipe.xack(self.stream, self.group, entry_id)
            pipe.execute()
        return decoded

    def handle(self, entries: list[tuple[str, dict]]) -> None:
        raise NotImplementedError

    def run_once(self) -> int:
        entries = self.read()
        if entries:
            self.handle(entries)
            self.processed += len(entries)
        self.heartbeat()
        return len(entries)

    def run(self, max_batches: int | None = None, burst: bool = False) -> int:
        """Consume until stopped; ``burst`` stops when the stream is drained."""
        self.ensure_group()
        batches = 0
        try:
            while not self.stopping.is_set():
                count = self.run_once()
                batches += 1
                if burst and count == 0 and self._own_pending_done:
                    break
                if max_batches is not None and batches >= max_batches:
                    break
        finally:
            self.heartbeat(stopped=True)
        return self.processed

    def heartbeat(self, stopped: bool = False) -> None:
        started, count = self._rate_window
        now = time.monotonic()
        if now - started < 1.0 and not stopped:
            return
        rate = (self.processed - count) / max(now - started, 1e-9)
        self._rate_window = (now, self.processed)
        try:
            self.redis.hset(self.keys.consumer_stats, self.name, json.dumps({
                "group": self.group, "processed": self.processed, "per_second": round(rate, 2),
                "seen": time.time(), "stopped": stopped}))
        except redis.RedisError as err:
            log.warning("%s: heartbeat failed: %s", self.name, err)
