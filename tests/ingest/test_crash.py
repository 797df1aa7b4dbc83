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


def consumer_env(services, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    env.update(REDIS_URL=services.redis_url, DATABASE_URL=services.settings.resolved_database_url(),
               PANTAU_CITY="jakarta", PANTAU_DATA_DIR=str(tmp_path / "consumers"), SECRET_KEY="x",
               PANTAU_BATCH_SIZE="250", PANTAU_BLOCK_MS="50", PANTAU_CLAIM_IDLE_S="1",
               PANTAU_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    return env


class Chaos:
    """Keeps consumer processes running, one a slot (``aggregate``, ``persist``, or ``aggregate-a``,
    ``aggregate-b``... for several of a kind), killing them with SIGKILL at random."""

    def __init__(self, env, envs=None):
        self.env = env
        self.envs = envs or {}   # slot -> its own environment (a slot of another city), else ``env``
        self.procs = {}
        self.kills = {"aggregate": 0, "persist": 0}
        self.failure = []

    def start(self, slot):
        kind = slot.split("-")[0]
        self.procs[slot] = subprocess.Popen(
            [sys.executable, "-m", "ingest", kind, "--name", f"{slot}-crash"], env=self.envs.get(slot, self.env),
            cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill_and_restart(self, slot):
        proc = self.procs[slot]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.kills[slot.split("-")[0]] += 1
        else:  # it died by itself: that is a failure, show why
            raise AssertionError(f"{slot} exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        self.start(slot)

    def killing(self, rng, pause_s: tuple[float, float], stop: threading.Event,
                calm: threading.Event | None = None) -> threading.Thread:
        """A thread that kills a random slot every ``pause_s`` (a uniform range) until ``stop``,
        except while ``calm`` is set."""
        def killer():
            try:
                while not stop.is_set():
                    time.sleep(rng.uniform(*pause_s))
                    if calm is None or not calm.is_set():
                        self.kill_and_restart(rng.choice(sorted(self.procs)))
            except AssertionError as err:
                self.failure.append(err)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        return thread

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            proc.wait(timeout=30)


def submit_with_resends(services, reports, chunk: int, resend_every: int, pause_s: float) -> list:
    """Submit ``reports`` in chunks, a source re-sending a hundred rows it already sent every
    ``resend_every``; answers the ids accepted. ``services`` and ``reports`` may also be dicts by
    city: each chunk then goes to every city, in proportion to its share of the reports."""
    if not isinstance(services, dict):
        return submit_with_resends({None: services}, {None: reports}, chunk, resend_every, pause_s)[None]
    accepted = {city: [] for city in services}
    longest = max(len(rows) for rows in reports.values())
    for start in range(0, longest, chunk):
        for city, svc in services.items():
            rows = reports[city]
            part = rows[start * len(rows) // longest:(start + chunk) * len(rows) // longest]
            accepted[city] += svc.producer.submit_many(part).accepted
            if start % resend_every == 0:
                svc.producer.submit_many(part[:100])
        time.sleep(pause_s)
    return accepted


def reject_new(services, limit: int) -> int:
    """Reject up to ``limit`` persisted new reports (status changes while the killing goes on)."""
    with services.engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(db.reports.c.id).where(
            db.reports.c.city == services.preset.slug, db.reports.c.status == "new").limit(limit))]
    for report_id in ids:
        change_status(services.engine, services.producer, report_id, "rejected", actor="op", note="duplikat")
    return len(ids)


def wait_drained(services, stream_status=ops.stream_status, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        groups = stream_status(services.redis, services.keys)["groups"]
        if all(g["pending"] == 0 and g["lag"] == 0 for g in groups.values()):
            return
        time.sleep(0.3)
    raise AssertionError(f"consumers did not drain: {groups}")


def assert_each_counted_once(services, total: int, rejected: int, dump) -> None:
    """Every report of the city once in SQL (one ``created`` event each), the rejections applied, the
    map's cells equal in Redis and SQL, and a rebuild equal to the incremental state (``dump(at)``)."""
    city = services.preset.slug
    r, e = db.reports, db.report_events
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(r).where(r.c.city == city)).scalar_one() == total
        assert conn.execute(select(func.count(func.distinct(r.c.id))).where(r.c.city == city)).scalar_one() == total
        created_events = conn.execute(select(func.count()).select_from(e)
                                      .where(e.c.city == city, e.c.kind == "created")).scalar_one()
        assert created_events == total
        assert conn.execute(select(func.count()).select_from(r)
                            .where(r.c.city == city, r.c.status == "rejected")).scalar_one() == rejected
    for resolution in hexagg.MAP_RESOLUTIONS:
        assert redis_cells(services, resolution) == sql_cells(services, resolution)
    at = time.time() + 120          # both dumps judge "older than a day" against the same moment
    incremental = dump(at)
    rebuild(services.redis, services.engine, services.preset)
    assert dump(at) == incremental


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(services, tmp_path):
    rng = random.Random(7)
    reports = raw_reports(TOTAL, seed=3, spread_s=2 * 86400)
    chaos = Chaos(consumer_env(services, tmp_path))
    chaos.start("aggregate")
    chaos.start("persist")
    stop = threading.Event()
    thread = chaos.killing(rng, (0.15, 0.9), stop)
    try:
        accepted = submit_with_resends(services, reports, 500, 4000, 0.05)
        rejected = reject_new(services, 300)
        time.sleep(3)
    finally:
        stop.set()
        thread.join()
    assert not chaos.failure, chaos.failure
    try:
        wait_drained(services)
    finally:
        chaos.stop()
    print(f"\nkills: {chaos.kills}, rejected: {rejected}")
    assert sum(chaos.kills.values()) >= 10

    assert len(accepted) == TOTAL
    assert_each_counted_once(services, TOTAL, rejected,
                             lambda at: dump_aggregates(services.redis, services.keys, at))
