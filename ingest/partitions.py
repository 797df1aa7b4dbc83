"""N consumer processes over M stream partitions: each partition is served by one process at a time.

A process holds a lease per partition it serves (``Keys.claim_lease``: its name, with a TTL it
renews while alive) and announces itself in the group's member set. Every few seconds it counts
the live members and keeps about ``ceil(M / members)`` partitions: it claims free ones (a dead
process's leases expire and are taken over) and lets go of extra ones when others join. For each
partition it runs the ordinary consumer (``ingest.consumer.StreamConsumer``) named
``<name>/p<partition>``, so a restarted process first re-reads its own pending entries, and entries
a dead process left pending are claimed after ``claim_idle_s`` by whoever serves the partition.

The lease only spreads the work: correctness does not depend on it. Two processes briefly serving
one partition (a lease lost during a long pause) is safe, as after any crash: the aggregator's
guarded script and the persister's idempotent writes make a redelivered entry a no-op.
"""
from __future__ import annotations

import logging
import math
import signal
import threading
import time
import zlib

from app.store.keys import Keys

log = logging.getLogger(__name__)

# KEYS: 1 a lease; ARGV: 1 the process's name, 2 TTL (ms), 3 'claim' / 'renew' / 'release'
LEASE_LUA = """
local holder = redis.call('GET', KEYS[1])
if ARGV[3] == 'release' then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 0
end
if holder == ARGV[1] or (ARGV[3] == 'claim' and not holder) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class PartitionClaims:
    def __init__(self, client, keys: Keys, group: str, name: str, factory, lease_s: float = 10.0,
                 block_ms: int = 200, clock=time.time):
        """``factory(partition, consumer_name)`` builds the consumer of one partition."""
        self.redis = client
        self.keys = keys.city_keys
        self.group = group
        self.name = name
        self.factory = factory
        self.lease_ms = int(lease_s * 1000)
        self.block_ms = block_ms
        self.clock = clock
        self.held: dict[int, object] = {}
        self.stopping = threading.Event()
        self._lease = client.register_script(LEASE_LUA)
        # Each process starts its search at its own place, so they do not all race for partition 0.
        self._offset = zlib.crc32(name.encode()) % max(keys.partitions, 1)

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

    def _call(self, partition: int, action: str) -> bool:
        return self._lease(keys=[self.keys.claim_lease(self.group, partition)],
                           args=[self.name, self.lease_ms, action]) == 1

    def live_members(self) -> int:
        now_ms = int(self.clock() * 1000)
        members = self.keys.claim_members(self.group)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(members, {self.name: now_ms})
        pipe.zremrangebyscore(members, "-inf", now_ms - self.lease_ms)
        pipe.zcard(members)
        pipe.pexpire(members, self.lease_ms * 3)
        return max(1, pipe.execute()[2])

    def rebalance(self) -> None:
        """Renew what is held, let go of what is lost or extra, claim free partitions up to the share."""
        total = self.keys.partitions
        target = math.ceil(total / self.live_members())
        for partition in sorted(self.held):
            if not self._call(partition, "renew"):
                log.warning("%s: lease of partition %d lost; another consumer has it", self.name, partition)
                self.held.pop(partition)
        while len(self.held) > target:
            partition = max(self.held)
            self.held.pop(partition)
            self._call(partition, "release")
            log.info("%s: partition %d released for another consumer", self.name, partition)
        for step in range(total):
            if len(self.held) >= target:
                break
            partition = (self._offset + step) % total
            if partition not in self.held and self._call(partition, "claim"):
                consumer = self.factory(partition, f"{self.name}/p{partition}")
                consumer.ensure_group()
                self.held[partition] = consumer
                log.info("%s: serving partition %d", self.name, partition)

    def run(self, burst: bool = False, max_rounds: int | None = None) -> int:
        """Serve the held partitions until stopped; ``burst``: until every partition is drained."""
        processed, rounds = 0, 0
        next_rebalance = 0.0
        try:
            while not self.stopping.is_set():
                if time.monotonic() >= next_rebalance:
                    self.rebalance()
                    next_rebalance = time.monotonic() + self.lease_ms / 3000
                idle = True
                for consumer in list(self.held.values()):
                    consumer.block_ms = max(1, self.block_ms // max(len(self.held), 1))
                    count = consumer.run_once()
                    processed += count
                    idle = idle and count == 0 and consumer._own_pending_done
                if not self.held:
                    self.stopping.wait(min(1.0, self.lease_ms / 3000))
                rounds += 1
                if burst and idle and len(self.held) == self.keys.partitions:
                    break
                if max_rounds is not None and rounds >= max_rounds:
                    break
        finally:
            for partition, consumer in self.held.items():
                consumer.heartbeat(stopped=True)
                self._call(partition, "release")
            self.redis.zrem(self.keys.claim_members(self.group), self.name)
            self.held.clear()
        return processed
