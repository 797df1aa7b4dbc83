"""Crash safety on a real Redis Cluster: two aggregators and two persisters over a city's 4 stream
partitions, SIGKILLed at random; the survivors and the restarted take the partitions over.
Nothing is lost, nothing is counted twice."""
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
from tests.cluster.conftest import PARTITIONS
from tests.cluster.test_cluster_pipeline import dump_partitions
from tests.conftest import ROOT
from tests.helpers import raw_reports
from tests.ingest.test_crash import Chaos, _consumer_env
from tests.ingest.test_pipeline import redis_cells, sql_cells

TOTAL = 6_000


class ClusterChaos(Chaos):
    """Two processes of each kind (``aggregate-a``, ``aggregate-b``...), killed and restarted."""

    def start_named(self, slot):
        kind = slot.split("-")[0]
        self.procs[slot] = subprocess.Popen(
            [sys.executable, "-m", "ingest", kind, "--name", f"{slot}-crash"], env=self.env, cwd=ROOT,
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


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_sigkill_over_partitions_on_a_cluster_loses_and_duplicates_nothing(cluster_services, tmp_path):
    services = cluster_services
    rng = random.Random(11)
    reports = raw_reports(TOTAL, seed=4, spread_s=2 * 86400)
    env = _consumer_env(services, tmp_path)
    env.update(PANTAU_REDIS_CLUSTER="1", PANTAU_STREAM_PARTITIONS=str(PARTITIONS),
               PANTAU_PARTITION_LEASE_S="1.5")
    chaos = ClusterChaos(env)
    slots = ["aggregate-a", "aggregate-b", "persist-a", "persist-b"]
    for slot in slots:
        chaos.start_named(slot)
    stop = threading.Event()
    failure = []

    def killer():
        try:
            while not stop.is_set():
                time.sleep(rng.uniform(1.0, 3.5))   # a process takes seconds to start
                chaos.kill_and_restart(rng.choice(slots))
        except AssertionError as err:
            failure.append(err)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    accepted, rejected = [], 0
    phases = [time.monotonic()]
    try:
        for start in range(0, TOTAL, 300):
            chunk = reports[start:start + 300]
            accepted += services.producer.submit_many(chunk).accepted
            if start % 1500 == 0:
                services.producer.submit_many(chunk[:100])   # a source re-sending rows it already sent
            time.sleep(0.5)
        phases.append(time.monotonic())
        deadline = time.monotonic() + 60
        while db.count_reports(services.engine, "jakarta") < 100 and time.monotonic() < deadline:
            time.sleep(0.5)
        with services.engine.connect() as conn:
            ids = [r.id for r in conn.execute(select(db.reports.c.id).where(db.reports.c.status == "new")
                                              .limit(100))]
        for report_id in ids:
            change_status(services.engine, services.producer, report_id, "rejected", actor="op", note="duplikat")
            rejected += 1
        phases.append(time.monotonic())
        time.sleep(3)
    finally:
        stop.set()
        thread.join()
    assert not failure, failure
    try:
        _wait_drained(services)
    finally:
        chaos.stop()
    phases.append(time.monotonic())
    print(f"\nkills: {chaos.kills}, rejected: {rejected}, phases (s): "
          f"{[round(b - a, 1) for a, b in zip(phases, phases[1:])]}")
    assert sum(chaos.kills.values()) >= 6 and all(chaos.kills.values())
    assert rejected == 100

    assert len(accepted) == TOTAL
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.reports)).scalar_one() == TOTAL
        created_events = conn.execute(select(func.count()).select_from(db.report_events)
                                      .where(db.report_events.c.kind == "created")).scalar_one()
        assert created_events == TOTAL
        assert conn.execute(select(func.count()).select_from(db.reports)
                            .where(db.reports.c.status == "rejected")).scalar_one() == rejected
    for resolution in hexagg.MAP_RESOLUTIONS:
        assert redis_cells(services, resolution) == sql_cells(services, resolution)
    at = time.time() + 120
    incremental = dump_partitions(services, at)
    rebuild(services.redis, services.engine, services.preset)
    assert dump_partitions(services, at) == incremental
