"""The live city feed: simulated reports streamed through the producer, and their follow-up.

New reports come from ``ingest.sources.simulator``; existing ones move
through verification, dispatch, work and resolution (a few rejected) at a
pace that keeps a realistic backlog, through the same ``change_status`` the
dispatch console uses. A running simulator takes commands (``burst``) from a
Redis list, so tests and operators can start a flood in one district.
"""
from __future__ import annotations

import json
import logging
import math
import random
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.followup import VersionConflict, change_status
from app.store import db
from app.workflow import InvalidTransition
from ingest.sources.simulator import SOURCE, CitySimulator

log = logging.getLogger(__name__)

# status -> (next status, minimum age in that status in seconds, share of the inflow moved per tick)
STAGES = {
    "new": ("verified", 20, 1.0),
    "verified": ("dispatched", 40, 1.0),
    "dispatched": ("in_progress", 60, 0.9),
    "in_progress": ("resolved", 120, 0.85),
    "resolved": ("closed", 600, 0.8),
}
REJECT_SHARE = 0.06


def advance_lifecycle(services, budget: int, rng: random.Random, now: datetime) -> int:
    """Move up to ``budget`` of its own reports per stage one step along their follow-up: only
    reports the simulator filed (``source = 'simulator'``), never a citizen's or an import's."""
    moved = 0
    for status, (next_status, min_age_s, share) in STAGES.items():
        limit = max(0, int(budget * share + rng.random()))
        if limit == 0:
            continue
        with services.engine.connect() as conn:
            rows = conn.execute(
                select(db.reports.c.id, db.reports.c.version)
                .where(db.reports.c.city == services.preset.slug, db.reports.c.source == SOURCE,
                       db.reports.c.status == status,
                       db.reports.c.updated_at <= now - timedelta(seconds=min_age_s))
                .order_by(db.reports.c.created_at).limit(limit)).all()
        for row in rows:
            target, note = next_status, None
            if status == "new" and rng.random() < REJECT_SHARE:
                target, note = "rejected", "Laporan ganda / duplicate report"
            try:
                change_status(services.engine, services.producer, row.id, target, actor="simulator",
                              note=note, expected_version=row.version)
                moved += 1
            except (VersionConflict, InvalidTransition):
                continue  # a person acted on it meanwhile: theirs wins
    return moved


def run_simulation(services, rate: float, duration_s: float | None = None, seed: int | None = None,
                   lifecycle: bool = True, burst_every_s: float | None = None, tick_s: float = 1.0,
                   stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    simulator = CitySimulator(services.preset, services.areas, rate_per_s=rate, seed=seed)
    rng = random.Random(seed)
    started = last = time.monotonic()
    next_burst = started + burst_every_s if burst_every_s else math.inf
    sent = 0
    log.info("simulating %s at %.2f reports/s", services.preset.name, rate)
    while not stop.is_set():
        if duration_s is not None and time.monotonic() - started >= duration_s:
            break
        for raw in services.redis.lpop(services.keys.simulator_commands, 50) or []:
            command = json.loads(raw)
            if command.get("command") == "burst":
                burst = simulator.start_burst(**command.get("args", {}))
                log.info("burst of %s started around (%.4f, %.4f)", burst.kind, burst.lat, burst.lng)
        if time.monotonic() >= next_burst:
            simulator.start_burst("flood", duration_s=120, rate_per_s=max(3.0, rate * 3))
            next_burst += burst_every_s
        now_mono = time.monotonic()
        batch = simulator.next_batch(datetime.now(timezone.utc), now_mono - last)
        last = now_mono
        if batch:
            result = services.producer.submit_many(batch, retry_for_s=math.inf)
            sent += len(result.accepted)
            for _, err in result.rejected:
                log.warning("simulated report refused: %s", err)
        if lifecycle:
            advance_lifecycle(services, max(1, round(rate * tick_s)), rng, datetime.now(timezone.utc))
        stop.wait(max(0.0, tick_s - (time.monotonic() - now_mono)))
    return sent


def request_burst(client, keys, **args) -> None:
    """Ask a running simulator to start a burst (kind, lat, lng, radius_km, rate_per_s, duration_s)."""
    client.rpush(keys.simulator_commands, json.dumps({"command": "burst", "args": args}))
