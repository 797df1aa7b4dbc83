"""A living city from the first minute: days of simulated history with their whole follow-up.

``python -m ingest simulate --history 30d`` (and ``python -m app run`` on a new, empty database,
unless ``PANTAU_SEED_HISTORY=off``) files the reports of the last N days through the real
pipeline and follows each one up the way people would, at its own time in the past:

* reports: the live simulator's feed (``ingest.sources.simulator``: the city's daily rhythm,
  hotspots, categories), each with its reporter's secret so the citizen can rate it, appended to
  the stream and consumed by the aggregator and the persister (the same consumers as live);
  one afternoon is a flood day (a burst of floods in one district);
* follow-up through ``app.followup.change_report`` (the one change path of the staff screens):
  verification (a few rejected), dispatch to the category's agency, the officer's start, the
  resolution with an after photo and the phone's proof (``report_actions`` detail and, for a
  few, ``proof_flags``: location not verified, a photo near another one, filed and resolved by
  the same officer), some resolved late; then the citizen's rating or dispute
  (``app.feedback``), a few disputed after a fast close;
* then the stream is drained again and the kinerja rollups refreshed, so the wall, the kiosk's
  ranking and /kinerja agree with the reports at once.

The first minute shows data (``python -m app run`` on a new data folder): every report is filed
and persisted first, in bulk (the wall and the kiosk count them; the rollups are refreshed, so
/kinerja shows what came in); then the follow-up runs newest report first, so the last days, the
ones the wall, the kiosk's 30 days and /kinerja's first view show, are followed up within seconds
and the older history fills in behind them (the rollups refreshed after the first day, then by
the jobs process every few seconds, and once more at the end). The after photos are made and
stored by two threads ahead of the follow-up (as pending uploads, attached when used), so their
disk syncs overlap the database's work.

Seeding twice seeds nothing twice: report ids come from ``source_ref`` (``history-<seed>-<n>``)
and a city that has any report at all is left alone (``seed`` answers ``skipped``).
"""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import random
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time as dtime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from app import feedback, followup, reporter_secret
from app.store import db, rollups
from app.workflow import InvalidTransition
from ingest.sources.simulator import CitySimulator
from ingest.persister import Persister
from ingest.aggregator import Aggregator
from ingest import events
from app.staff.actions import _record
from app import photos, proof

log = logging.getLogger(__name__)

PER_DAY = 40            # ordinary reports per day on average (the daily rhythm shapes the hours)
FLOOD_REPORTS = 100     # the flood day's extra reports, in one district within three hours
STEP_S = 900            # the simulator's clock advances a quarter of an hour per batch
OPERATOR, SUPERVISOR = "operator:operator1", "supervisor:supervisor1"


def officer_of(agency: str | None, rng: random.Random) -> str:
    """One of two field officers per agency (``agency_officer:dlh1`` ...)."""
    return f"agency_officer:{(agency or 'opd').lower()}{rng.randint(1, 2)}"


def already_seeded(engine, city: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(db.reports.c.id).where(db.reports.c.city == city).limit(1)).first() is not None


def drain(services) -> None:
    """Both stream consumers until every partition is drained (in this process, as in a test)."""
    settings = services.settings
    options = {"batch_size": max(settings.batch_size, 500), "block_ms": 10}
    for partition in range(max(1, services.keys.partitions)):
        extra = {"partition": partition} if services.keys.partitions > 1 else {}
        Aggregator(services.redis, services.keys, "history-aggregate", services.preset, **extra,
                   **options).run(burst=True)
        Persister(services.redis, services.keys, "history-persist", services.engine, producer=services.producer,
                  **extra, **options).run(burst=True)


def _photo(rng: random.Random) -> bytes:
    """A small after photo, different every time (random blocks of colour)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 72), tuple(rng.randint(40, 200) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randint(0, 90), rng.randint(0, 66)
        draw.rectangle([x, y, x + rng.randint(8, 40), y + rng.randint(8, 30)],
                       fill=tuple(rng.randint(0, 255) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def _reports(services, days: int, seed: int, now: datetime, per_day: float, flood: int) -> tuple[list, dict]:
    """The raw reports of the last ``days`` days (the flood day among them), with ids from
    ``source_ref``; answers (validated reports, id -> reporter's secret)."""
    preset = services.preset
    zone = ZoneInfo(preset.timezone)
    simulator = CitySimulator(preset, services.areas if services.areas.has_areas else None,
                              rate_per_s=per_day / 86400.0, seed=seed, random_bursts=False)
    start = now - timedelta(days=days)
    flood_day = (now - timedelta(days=max(1, days // 3))).astimezone(zone).date()
    flood_at = datetime.combine(flood_day, dtime(14, 0), zone).astimezone(timezone.utc)
    raws, at, flooded = [], start, False
    while at < now:
        at = min(at + timedelta(seconds=STEP_S), now)
        if not flooded and at >= flood_at and flood and "flood" in preset.category_mix:
            simulator.start_burst("flood", radius_km=1.2, rate_per_s=flood / 10800.0, duration_s=10800)
            flooded = True
        raws += simulator.next_batch(at, STEP_S)
    secret_key = services.settings.resolved_secret_key()
    reports, secrets = [], {}
    for n, raw in enumerate(raws):
        raw = dataclasses.replace(raw, source_ref=f"history-{seed}-{n}")
        try:
            report = services.producer.validate(raw)
        except ValueError as err:     # ReportInvalid: a point the city's index refuses, say
            log.debug("history report refused: %s", err)
            continue
        secret, report = reporter_secret.issue(secret_key, report)
        reports.append(report)
        secrets[report.id] = secret
    return reports, secrets


class _BatchingProducer:
    """The producer, with status events sent to the stream in one pipeline per ``flush`` rather
    than one append each (the embedded Redis syncs every write to disk: a thousand appends are a
    thousand disk syncs). The changes are in SQL first, as always; should the seeding stop between
    a change and its flush, ``python -m ingest rebuild`` recomputes the aggregates from SQL."""

    def __init__(self, producer):
        self._producer, self._entries = producer, []

    def __getattr__(self, name):
        return getattr(self._producer, name)

    def emit_status(self, change: dict, retry_for_s: float = 0.0) -> None:
        self._entries.append((self._producer.stream_for(change["report_id"]), events.status_fields(change)))

    def flush(self) -> None:
        if self._entries:
            self._producer._append(self._entries, retry_for_s=60.0)
            self._entries = []


class _Photos:
    """After photos made and stored ahead by two threads (pending uploads), handed out in order;
    ``close`` removes the ones made ahead and never used."""

    AHEAD = 6

    def __init__(self, settings, seed: int):
        self.settings, self.rng = settings, random.Random(seed * 7919 + 1)
        # never more threads than the process's decode slots (PANTAU_PHOTO_DECODES): none waits for one
        self.pool = ThreadPoolExecutor(max_workers=max(1, min(2, int(settings.photo_decodes))),
                                       thread_name_prefix="history-photo")
        self.waiting: deque = deque()

    def _top_up(self) -> None:
        while len(self.waiting) < self.AHEAD:
            self.waiting.append(self.pool.submit(photos.store_photo, self.settings, _photo(self.rng),
                                                 "after.jpg", pending=True))

    def next(self):
        self._top_up()
        photo = self.waiting.popleft().result()
        photos.attach(self.settings, photo.ref)
        self._top_up()
        return photo

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for future in self.waiting:
            if future.done() and not future.cancelled() and future.exception() is None:
                for ref in (future.result().ref, future.result().thumb_ref):
                    photos.photo_path(self.settings, ref, pending=True).unlink(missing_ok=True)
        self.waiting.clear()


class _FollowUp:
    """The follow-up of one seeded report, each step at its own moment (``at``)."""

    def __init__(self, services, rng: random.Random, now: datetime, photo_source: "_Photos"):
        self.services, self.rng, self.now = services, rng, now
        self.flag_kinds: set[str] = set()      # the proof flags drawn so far
        self.photos = photo_source
        self.producer = _BatchingProducer(services.producer)
        self.counts = {"verified": 0, "rejected": 0, "dispatched": 0, "started": 0, "resolved": 0, "late": 0,
                       "flagged": 0, "rated": 0, "disputed": 0, "photos": 0}

    def change(self, report_id: str, to_status: str, actor: str, at: datetime, also=None, **fields) -> dict:
        return followup.change_report(self.services.engine, self.producer, report_id, actor,
                                      to_status=to_status, now=at, also=also, **fields)

    def resolve(self, row, actor: str, at: datetime, flags: list[tuple[str, dict]]) -> None:
        settings = self.services.settings
        photo = self.photos.next()
        self.counts["photos"] += 1
        verified = not any(kind == "location_unverified" for kind, _ in flags)
        distance = round(self.rng.uniform(5, 90) if verified else self.rng.uniform(400, 3000), 1)
        presence = {"verified": verified, "distance_m": distance, "accuracy_m": round(self.rng.uniform(5, 30), 1),
                    "radius_m": settings.proof_radius_m, "reason": None if verified else "too_far"}
        summary = {"presence": presence, "flags": [kind for kind, _ in flags]}

        def record(conn, event):
            _record(self.services.engine, row.id, "resolve", event["actor"], event["version"],
                    {"after_photo": photo.ref, "proof": summary, "simulated": True},
                    event_id=event["event_id"], now=event["occurred_at"], conn=conn)

        self.change(row.id, "resolved", actor, at, also=record, note="Sudah ditangani / handled")
        if flags:
            proof.record_flags(self.services.engine, row, "resolve", actor, flags, now=at)
            self.counts["flagged"] += 1

    def follow(self, row, secret: str) -> None:
        rng, now = self.rng, self.now
        created = rollups._aware(row.created_at)
        at = created + timedelta(minutes=rng.uniform(10, 240))
        if at >= now:
            return
        if rng.random() < 0.05:
            self.change(row.id, "rejected", OPERATOR, at, note="Bukan wewenang kota / not the city's")
            self.counts["rejected"] += 1
            return
        self.change(row.id, "verified", OPERATOR, at)
        self.counts["verified"] += 1
        at += timedelta(minutes=rng.uniform(5, 180))
        if at >= now:
            return
        self.change(row.id, "dispatched", SUPERVISOR, at, agency=row.agency)
        self.counts["dispatched"] += 1
        officer = officer_of(row.agency, rng)
        at += timedelta(hours=rng.expovariate(1 / 5))
        if at >= now or rng.random() < 0.04:
            return
        self.change(row.id, "in_progress", officer, at)
        self.counts["started"] += 1
        due = rollups._aware(row.sla_due_at)
        # most finish well within the deadline, one in eight runs late
        late = due is not None and rng.random() < 0.12
        if late:
            at = max(at + timedelta(hours=1), due + timedelta(hours=rng.uniform(2, 72)))
        else:
            at += timedelta(hours=rng.expovariate(1 / 14))
            if due is not None and at > due:
                at = max(due - timedelta(minutes=rng.uniform(10, 120)), at - timedelta(hours=1))
        if at >= now:
            return
        roll = rng.random()
        flags = []
        if roll < 0.05:
            flags.append(("location_unverified", {"reason": "too_far", "simulated": True}))
        elif roll < 0.08:
            flags.append(("photo_near_match", {"distance": rng.randint(5, 7), "simulated": True}))
        elif roll < 0.10:
            flags.append(("self_service", {"filed_by": officer.split(":", 1)[1], "same": "person",
                                           "simulated": True}))
        elif "self_service" not in self.flag_kinds and self.counts["resolved"] >= 20:
            # 2 % of resolutions: a short history may draw none, and then the console's and the
            # ranking's self-service figures would show nothing; one is made for sure
            flags.append(("self_service", {"filed_by": officer.split(":", 1)[1], "same": "person",
                                           "simulated": True}))
        self.flag_kinds.update(kind for kind, _ in flags)
        self.resolve(row, officer, at, flags)
        self.counts["resolved"] += 1
        self.counts["late"] += late
        later = at + timedelta(hours=rng.uniform(1, 48))
        if later >= now:
            return
        fast = (at - created) <= timedelta(hours=24)
        choice = rng.random()
        city = self.services.preset.slug
        if choice < (0.14 if fast and flags else 0.06):
            feedback.dispute(self.services.engine, self.producer, row.ticket,
                             "Masih belum beres / still not fixed", secret=secret, city=city, now=later)
            self.counts["disputed"] += 1
            again = later + timedelta(hours=rng.uniform(4, 48))
            if again < now and rng.random() < 0.6:
                self.change(row.id, "dispatched", SUPERVISOR, again, agency=row.agency)
                self.change(row.id, "in_progress", officer, again + timedelta(minutes=rng.uniform(20, 120)))
                finish = again + timedelta(hours=rng.uniform(3, 24))
                if finish < now:
                    self.resolve(row, officer, finish, [])
        elif choice < 0.6:
            stars = rng.choices((1, 2, 3, 4, 5), weights=(1, 2, 5, 10, 9))[0]
            feedback.rate(self.services.engine, self.producer, row.ticket, stars, secret=secret,
                          city=city, now=later)
            self.counts["rated"] += 1


def seed(services, days: int = 30, seed: int = 30, now: datetime | None = None, per_day: float = PER_DAY,
         flood: int = FLOOD_REPORTS) -> dict:
    """Seed ``days`` days of history into an empty city; answers what was done (and how long it
    took: ``seconds``, and ``filed_s`` / ``first_day_s`` when every report was in SQL and when the
    last day's follow-up was done, see the module docstring)."""
    started = time.monotonic()
    city = services.preset.slug
    if days <= 0:
        return {"skipped": "off", "reports": 0}
    if already_seeded(services.engine, city):
        return {"skipped": "the city has reports already", "reports": 0}
    now = now or datetime.now(timezone.utc)
    rng = random.Random(seed)
    reports, secrets = _reports(services, days, seed, now, per_day, flood)
    for start in range(0, len(reports), 500):
        services.producer._append([(services.producer.stream_for(r.id), _created_fields(r))
                                   for r in reports[start:start + 500]], retry_for_s=60.0)
    drain(services)
    rows = _persisted(services, [r.id for r in reports])
    _refresh(services)                 # /kinerja shows what came in, before any follow-up
    filed_s = time.monotonic() - started
    log.info("history: %d reports filed in %.1f s; following them up, newest first", len(rows), filed_s)
    # newest first: the days every screen shows first are followed up first
    rows.sort(key=lambda r: (rollups._aware(r.created_at), r.id), reverse=True)
    first_day = now - timedelta(days=1)
    photo_source = _Photos(services.settings, seed)
    steps = _FollowUp(services, rng, now, photo_source)
    first_day_s = None
    try:
        for n, row in enumerate(rows, 1):
            if first_day_s is None and rollups._aware(row.created_at) < first_day:
                steps.producer.flush()
                _refresh(services)
                first_day_s = time.monotonic() - started
                log.info("history: the last day followed up in %.1f s", first_day_s)
            try:
                steps.follow(row, secrets[row.id])
            except (followup.VersionConflict, InvalidTransition) as err:   # a person acted on it meanwhile
                log.info("history follow-up of %s stopped: %s", row.id, err)
            if n % 50 == 0:
                steps.producer.flush()
    finally:
        steps.producer.flush()
        photo_source.close()
    drain(services)
    _refresh(services)
    with services.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(db.reports).where(db.reports.c.city == city)).scalar()
    out = {"reports": int(total), "days": days, **steps.counts, "filed_s": round(filed_s, 1),
           "first_day_s": round(first_day_s if first_day_s is not None else time.monotonic() - started, 1),
           "seconds": round(time.monotonic() - started, 1)}
    log.info("seeded %s", json.dumps(out))
    return out


def _refresh(services) -> None:
    """The rollups of the days marked so far; the jobs process (``app run``) may be refreshing the
    same days at this moment: then its round or the next one does it (the marks stay until done)."""
    try:
        rollups.refresh_dirty(services.engine, services.preset.slug, services.preset.timezone)
    except DBAPIError as err:
        log.info("history: rollups left to the jobs process (%s)", str(err).splitlines()[0][:200])


def _persisted(services, ids: list[str], wait_s: float = 120.0) -> list:
    """The seeded reports' rows once all are in SQL: with ``app run``'s own persister running,
    some entries were its to write, so this waits (a bounded time) for them."""
    deadline = time.monotonic() + wait_s
    while True:
        rows = []
        with services.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows += conn.execute(select(db.reports.c.id, db.reports.c.ticket, db.reports.c.created_at,
                                            db.reports.c.agency, db.reports.c.sla_due_at, db.reports.c.city,
                                            db.reports.c.lat, db.reports.c.lng)
                                     .where(db.reports.c.id.in_(ids[start:start + 500]))).all()
        if len(rows) >= len(ids) or time.monotonic() >= deadline:
            if len(rows) < len(ids):
                log.warning("%d of %d seeded reports not persisted in time: followed up without them",
                            len(ids) - len(rows), len(ids))
            return rows
        time.sleep(0.5)


def _created_fields(report):
    return events.created_fields(report)
