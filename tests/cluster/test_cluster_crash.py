"""Crash safety on a real Redis Cluster, two cities with 4 stream partitions each: Jakarta's two
aggregators and two persisters and Kupang's one of each SIGKILLed at random; the survivors and the
restarted take the partitions over. Nothing is lost, nothing is counted twice, no city sees the
other's reports, and a rebuild of each city equals its incremental state."""
import random
import threading
import time

import pytest

from app import ops
from app.services import Services
from app.store import db
from tests.cluster.conftest import PARTITIONS, cluster_settings
from tests.cluster.test_cluster_pipeline import dump_partitions
from tests.helpers import KUPANG_POINTS, raw_reports
from tests.ingest.test_crash import (Chaos, assert_each_counted_once, consumer_env, reject_new, submit_with_resends,
                                     wait_drained)

# Two cities on one cluster, each with its own 4 partitions: Jakarta with two processes of each
# kind (partitions taken over between them), Kupang with one of each (restarted after each kill).
TOTAL = {"jakarta": 4_000, "kupang": 2_000}
SLOTS = {"jakarta": ["aggregate-a", "aggregate-b", "persist-a", "persist-b"],
         "kupang": ["aggregate-k", "persist-k"]}


@pytest.fixture
def kupang_services(tmp_path, redis_cluster, cluster_services, database_url):
    """Kupang on the same cluster and database as ``cluster_services`` (Jakarta)."""
    svc = Services.open(cluster_settings(tmp_path / "kupang", redis_cluster, database_url, city="kupang"))
    yield svc
    svc.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_sigkill_over_partitions_of_two_cities_on_a_cluster_loses_and_duplicates_nothing(
        cluster_services, kupang_services, tmp_path):
    cities = {"jakarta": cluster_services, "kupang": kupang_services}
    rng = random.Random(11)
    reports = {"jakarta": raw_reports(TOTAL["jakarta"], seed=4, spread_s=2 * 86400),
               "kupang": raw_reports(TOTAL["kupang"], seed=5, spread_s=2 * 86400, points=KUPANG_POINTS)}
    envs = {}
    for city, services in cities.items():
        env = consumer_env(services, tmp_path / city)
        env.update(PANTAU_CITY=city, PANTAU_REDIS_CLUSTER="1", PANTAU_STREAM_PARTITIONS=str(PARTITIONS),
                   PANTAU_PARTITION_LEASE_S="1.5")
        envs.update({slot: env for slot in SLOTS[city]})
    chaos = Chaos(None, envs)
    for slot in envs:
        chaos.start(slot)
    stop, calm = threading.Event(), threading.Event()
    thread = chaos.killing(rng, (1.0, 3.5), stop, calm)   # a process takes seconds to start
    phases = [time.monotonic()]
    try:
        accepted = submit_with_resends(cities, reports, 200, 1000, 0.5)
        phases.append(time.monotonic())
        # On a loaded machine a process restarted every few seconds may never get to write: the
        # killing pauses until each city has rows in SQL to change, then goes on during the changes.
        calm.set()
        for city, services in cities.items():
            deadline = time.monotonic() + 180
            while db.count_reports(services.engine, city) < 100 and time.monotonic() < deadline:
                time.sleep(0.5)
        calm.clear()
        rejected = {city: reject_new(services, 60) for city, services in cities.items()}
        phases.append(time.monotonic())
        time.sleep(3)
    finally:
        stop.set()
        thread.join()
    assert not chaos.failure, chaos.failure
    try:
        for services in cities.values():
            wait_drained(services, ops.city_stream_status)
    finally:
        chaos.stop()
    phases.append(time.monotonic())
    print(f"\nkills: {chaos.kills}, rejected: {rejected}, phases (s): "
          f"{[round(b - a, 1) for a, b in zip(phases, phases[1:])]}")
    assert sum(chaos.kills.values()) >= 6 and all(chaos.kills.values())
    assert rejected == {"jakarta": 60, "kupang": 60}

    for city, services in cities.items():
        # Kupang's generated points include a few the boundaries put outside the city (refused at intake).
        assert len(accepted[city]) >= 0.9 * TOTAL[city]
        assert_each_counted_once(services, len(accepted[city]), rejected[city],
                                 lambda at: dump_partitions(services, at))
        assert dump_partitions(services, time.time() + 120)        # each city has its own aggregates
