"""Crash safety on a real Redis Cluster, two cities with 4 stream partitions each: Jakarta's two
aggregators and two persisters and Kupang's one of each SIGKILLed at random; the survivors and the
restarted take the partitions over. Nothing is lost, nothing is counted twice, no city sees the
other's reports, and a rebuild of each city equals its incremental state."""
import random
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from app import hexagg, ops
from app.followup import change_status
from app.store import db
from ingest.rebuild import rebuild
from tests.cluster.conftest import PARTITIONS, cluster_settings
from tests.cluster.test_cluster_pipeline import dump_partitions
from tests.conftest import ROOT
from tests.helpers import KUPANG_POINTS, raw_reports
from tests.ingest.test_crash import Chaos, _consumer_env
from tests.ingest.test_pipeline import redis_cells, sql_cells

# Two cities on one cluster, each with its own 4 partitions: Jakarta with two processes of each
# kind (partitions taken over between them), Kupang with one of each (restarted after each kill).
TOTAL = {"jakarta": 4_000, "kupang": 2_000}
SLOTS = {"jakarta": ["aggregate-a", "aggregate-b", "persist-a", "persist-b"],
         "kupang": ["aggregate-k", "persist-k"]}


class ClusterChaos(Chaos):
    """Several processes of each kind (``aggregate-a``, ``aggregate-b``...), each with its city's
    environment, killed and restarted."""

    def __init__(self, envs):
        super().__init__(None)
        self.envs = envs       # slot -> environment

    def start_named(self, slot):
        kind = slot.split("-")[0]
        self.procs[slot] = subprocess.Popen(
            [sys.executable, "-m", "ingest", kind, "--name", f"{slot}-crash"], env=self.envs[slot], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill_and_restart(self, slot):
        proc = self.procs[slot]
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            self.kills[slot.split("-")[0]] += 1
        else:
            raise AssertionError(f"{slot} exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        self.start_named(slot)


def _wait_drained(services, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        groups = ops.city_stream_status(services.redis, services.keys)["groups"]
        if all(g["pending"] == 0 and g["lag"] == 0 for g in groups.values()):
            return
        time.sleep(0.3)
    raise AssertionError(f"consumers did not drain: {groups}")


@pytest.fixture
def kupang_services(tmp_path, redis_cluster, cluster_services, database_url):
    """Kupang on the same cluster and database as ``cluster_services`` (Jakarta)."""
    from app.services import Services

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
        env = _consumer_env(services, tmp_path / city)
        env.update(PANTAU_CITY=city, PANTAU_REDIS_CLUSTER="1", PANTAU_STREAM_PARTITIONS=str(PARTITIONS),
                   PANTAU_PARTITION_LEASE_S="1.5")
        envs.update({slot: env for slot in SLOTS[city]})
    chaos = ClusterChaos(envs)
    slots = [slot for city in cities for slot in SLOTS[city]]
    for slot in slots:
        chaos.start_named(slot)
    stop, calm = threading.Event(), threading.Event()
    failure = []

    def killer():
        try:
            while not stop.is_set():
                time.sleep(rng.uniform(1.0, 3.5))   # a process takes seconds to start
                if not calm.is_set():
                    chaos.kill_and_restart(rng.choice(slots))
        except AssertionError as err:
            failure.append(err)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    accepted = {city: [] for city in cities}
    rejected = {city: 0 for city in cities}
    phases = [time.monotonic()]
    try:
        for step in range(0, TOTAL["jakarta"], 200):
            for city, services in cities.items():
                share = TOTAL[city] * 200 // TOTAL["jakarta"]
                start = step * TOTAL[city] // TOTAL["jakarta"]
                chunk = reports[city][start:start + share]
                accepted[city] += services.producer.submit_many(chunk).accepted
                if step % 1000 == 0:
                    services.producer.submit_many(chunk[:50])   # a source re-sending rows it already sent
            time.sleep(0.5)
        phases.append(time.monotonic())
        # On a loaded machine a process restarted every few seconds may never get to write: the
        # killing pauses until each city has rows in SQL to change, then goes on during the changes.
        calm.set()
        for city, services in cities.items():
            deadline = time.monotonic() + 180
            while db.count_reports(services.engine, city) < 100 and time.monotonic() < deadline:
                time.sleep(0.5)
        calm.clear()
        for city, services in cities.items():
            with services.engine.connect() as conn:
                ids = [r.id for r in conn.execute(select(db.reports.c.id).where(
                    db.reports.c.city == city, db.reports.c.status == "new").limit(60))]
            for report_id in ids:
                change_status(services.engine, services.producer, report_id, "rejected", actor="op",
                              note="duplikat")
                rejected[city] += 1
        phases.append(time.monotonic())
        time.sleep(3)
    finally:
        stop.set()
        thread.join()
    assert not failure, failure
    try:
        for services in cities.values():
            _wait_drained(services)
    finally:
        chaos.stop()
    phases.append(time.monotonic())
    print(f"\nkills: {chaos.kills}, rejected: {rejected}, phases (s): "
          f"{[round(b - a, 1) for a, b in zip(phases, phases[1:])]}")
    assert sum(chaos.kills.values()) >= 6 and all(chaos.kills.values())
    assert rejected == {"jakarta": 60, "kupang": 60}

    for city, services in cities.items():
        assert len(accepted[city]) == TOTAL[city]
        with services.engine.connect() as conn:
            def count(*where):
                return conn.execute(select(func.count()).select_from(db.reports)
                                    .where(db.reports.c.city == city, *where)).scalar_one()
            assert count() == TOTAL[city]
            created_events = conn.execute(select(func.count()).select_from(db.report_events).where(
                db.report_events.c.city == city, db.report_events.c.kind == "created")).scalar_one()
            assert created_events == TOTAL[city]
            assert count(db.reports.c.status == "rejected") == rejected[city]
        for resolution in hexagg.MAP_RESOLUTIONS:
            assert redis_cells(services, resolution) == sql_cells(services, resolution)
        at = time.time() + 120
        incremental = dump_partitions(services, at)
        rebuild(services.redis, services.engine, services.preset)
        assert dump_partitions(services, at) == incremental
        assert incremental                                     # each city has its own aggregates
