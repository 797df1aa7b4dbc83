"""Crash safety: consumers killed with SIGKILL at random moments lose nothing and count nothing twice."""
import os
import random
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select

from app import hexagg, ops
from app.followup import change_status
from app.store import db
from ingest.rebuild import rebuild
from tests.conftest import ROOT
from tests.helpers import dump_aggregates, raw_reports
from tests.ingest.test_pipeline import redis_cells, sql_cells

TOTAL = 20_000


def _consumer_env(services, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    env.update(REDIS_URL=services.redis_url, DATABASE_URL=services.settings.resolved_database_url(),
               PANTAU_CITY="jakarta", PANTAU_DATA_DIR=str(tmp_path / "consumers"), SECRET_KEY="x",
               PANTAU_BATCH_SIZE="250", PANTAU_BLOCK_MS="50", PANTAU_CLAIM_IDLE_S="1",
               PANTAU_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    return env


class Chaos:
    """Keeps one aggregator and one persister process running, killing them with SIGKILL at random."""

    def __init__(self, env):
        self.env = env
        self.procs = {}
        self.kills = {"aggregate": 0, "persist": 0}

    def start(self, kind):
        self.procs[kind] = subprocess.Popen(
            [sys.executable, "-m", "ingest", kind, "--name", f"{kind}-crash"], env=self.env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill_and_restart(self, kind):
        proc = self.procs[kind]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.kills[kind] += 1
        else:  # it died by itself: that is a failure, show why
            raise AssertionError(f"{kind} exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        self.start(kind)

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            proc.wait(timeout=30)


def _wait_drained(services, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        groups = ops.stream_status(services.redis, services.keys)["groups"]
        if all(g["pending"] == 0 and g["lag"] == 0 for g in groups.values()):
            return
        time.sleep(0.3)
    raise AssertionError(f"consumers did not drain: {groups}")


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(services, tmp_path):
    rng = random.Random(7)
    reports = raw_reports(TOTAL, seed=3, spread_s=2 * 86400)
    chaos = Chaos(_consumer_env(services, tmp_path))
    chaos.start("aggregate")
    chaos.start("persist")
    stop = threading.Event()
    failure = []

    def killer():
        try:
            while not stop.is_set():
                time.sleep(rng.uniform(0.15, 0.9))
                chaos.kill_and_restart(rng.choice(["aggregate", "persist"]))
        except AssertionError as err:
            failure.append(err)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    accepted = []
    try:
        for start in range(0, TOTAL, 500):
            chunk = reports[start:start + 500]
            accepted += services.producer.submit_many(chunk).accepted
            if start % 4000 == 0:
                services.producer.submit_many(chunk[:100])   # a source re-sending rows it already sent
            time.sleep(0.05)
        # status changes while the killing goes on: reject some persisted reports
        rejected = 0
        with services.engine.connect() as conn:
            ids = [r.id for r in conn.execute(select(db.reports.c.id).where(db.reports.c.status == "new")
                                              .limit(300))]
        for report_id in ids:
            change_status(services.engine, services.producer, report_id, "rejected", actor="op",
                          note="duplikat")
            rejected += 1
        time.sleep(3)
    finally:
        stop.set()
        thread.join()
    assert not failure, failure
    try:
        _wait_drained(services)
    finally:
        chaos.stop()
    print(f"\nkills: {chaos.kills}, rejected: {rejected}")
    assert sum(chaos.kills.values()) >= 10

    assert len(accepted) == TOTAL
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.reports)).scalar_one() == TOTAL
        assert conn.execute(select(func.count(func.distinct(db.reports.c.id)))).scalar_one() == TOTAL
        created_events = conn.execute(select(func.count()).select_from(db.report_events)
                                      .where(db.report_events.c.kind == "created")).scalar_one()
        assert created_events == TOTAL
        assert conn.execute(select(func.count()).select_from(db.reports)
                            .where(db.reports.c.status == "rejected")).scalar_one() == rejected
    for resolution in hexagg.MAP_RESOLUTIONS:
        assert redis_cells(services, resolution) == sql_cells(services, resolution)
    at = time.time() + 120          # both dumps judge "older than a day" against the same moment
    incremental = dump_aggregates(services.redis, services.keys, at)
    rebuild(services.redis, services.engine, services.preset)
    assert dump_aggregates(services.redis, services.keys, at) == incremental
