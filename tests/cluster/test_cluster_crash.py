"""Crash safety on a real Redis Cluster: two aggregators and two persisters over a city's 4 stream
partitions, SIGKILLed at random; the survivors and the restarted take the partitions over.
Nothing is lost, nothing is counted twice."""
import random
import threading
import time

import pytest

from app import ops
from app.store import db
from tests.cluster.conftest import PARTITIONS
from tests.cluster.test_cluster_pipeline import dump_partitions
from tests.helpers import raw_reports
from tests.ingest.test_crash import (Chaos, assert_each_counted_once, consumer_env, reject_new, submit_with_resends,
                                     wait_drained)

TOTAL = 6_000


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_sigkill_over_partitions_on_a_cluster_loses_and_duplicates_nothing(cluster_services, tmp_path):
    services = cluster_services
    rng = random.Random(11)
    reports = raw_reports(TOTAL, seed=4, spread_s=2 * 86400)
    env = consumer_env(services, tmp_path)
    env.update(PANTAU_REDIS_CLUSTER="1", PANTAU_STREAM_PARTITIONS=str(PARTITIONS),
               PANTAU_PARTITION_LEASE_S="1.5")
    chaos = Chaos(env)
    for slot in ("aggregate-a", "aggregate-b", "persist-a", "persist-b"):
        chaos.start(slot)
    stop = threading.Event()
    thread = chaos.killing(rng, (1.0, 3.5), stop)   # a process takes seconds to start
    phases = [time.monotonic()]
    try:
        accepted = submit_with_resends(services, reports, 300, 1500, 0.5)
        phases.append(time.monotonic())
        deadline = time.monotonic() + 60
        while db.count_reports(services.engine, "jakarta") < 100 and time.monotonic() < deadline:
            time.sleep(0.5)
        rejected = reject_new(services, 100)
        phases.append(time.monotonic())
        time.sleep(3)
    finally:
        stop.set()
        thread.join()
    assert not chaos.failure, chaos.failure
    try:
        wait_drained(services, ops.city_stream_status)
    finally:
        chaos.stop()
    phases.append(time.monotonic())
    print(f"\nkills: {chaos.kills}, rejected: {rejected}, phases (s): "
          f"{[round(b - a, 1) for a, b in zip(phases, phases[1:])]}")
    assert sum(chaos.kills.values()) >= 6 and all(chaos.kills.values())
    assert rejected == 100

    assert len(accepted) == TOTAL
    assert_each_counted_once(services, TOTAL, rejected, lambda at: dump_partitions(services, at))
