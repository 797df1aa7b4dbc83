"""A few weeks of history for the /kinerja tests, made through the real pipeline: reports through
the producer and consumers, then verification, dispatch, start, resolution, ratings and disputes
through the same follow-up functions the staff screens and the citizen use, each at its own time."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app import feedback, followup, reporter_secret
from app.store import db, rollups
from tests.helpers import drain, raw_reports

OFFICERS = {"DLH": "agency_officer:dlh1", "DSDA": "agency_officer:dsda1"}


def make_history(services, count: int = 160, days: int = 21, seed: int = 11, now: datetime | None = None) -> dict:
    """``count`` reports created over the last ``days`` days, most followed up; answers the
    report ids by what happened to them. Rollups are refreshed at the end."""
    now = now or datetime.now(timezone.utc)
    start = now - timedelta(days=days)
    raws = raw_reports(count, seed=seed, start=start, spread_s=int((days - 1) * 86400), prefix="kin")
    secrets = {}   # filed as the form does: each with its reporter's secret, so the citizen can rate
    for raw in raws:
        secret, report = reporter_secret.issue(services.settings.resolved_secret_key(),
                                               services.producer.validate(raw))
        services.producer.append(report)
        secrets[report.id] = secret
    drain(services)
    rng = random.Random(seed)
    with services.engine.connect() as conn:
        rows = conn.execute(select(db.reports.c.id, db.reports.c.created_at, db.reports.c.agency,
                                   db.reports.c.ticket).order_by(db.reports.c.created_at)).all()
    fate: dict[str, list[str]] = {"open": [], "resolved": [], "rated": [], "disputed": [], "rejected": []}
    producer = services.producer
    for row in rows:
        created = rollups._aware(row.created_at)
        roll = rng.random()
        at = created + timedelta(hours=rng.uniform(0.5, 20))
        if at >= now or roll < 0.15:
            fate["open"].append(row.id)
            continue
        if roll < 0.2:
            followup.change_status(services.engine, producer, row.id, "rejected", "supervisor:super1",
                                   note="bukan wewenang kota", now=at)
            fate["rejected"].append(row.id)
            continue
        followup.change_status(services.engine, producer, row.id, "verified", "operator:oper1", now=at)
        at += timedelta(hours=rng.uniform(0.2, 8))
        followup.change_status(services.engine, producer, row.id, "dispatched", "supervisor:super1", now=at)
        officer = OFFICERS.get(row.agency, f"agency_officer:{(row.agency or 'x').lower()}1")
        at += timedelta(hours=rng.uniform(0.5, 30))
        if at >= now or roll < 0.3:
            fate["open"].append(row.id)
            continue
        followup.change_status(services.engine, producer, row.id, "in_progress", officer, now=at)
        at += timedelta(hours=rng.expovariate(1 / 40))
        if at >= now:
            fate["open"].append(row.id)
            continue
        followup.change_status(services.engine, producer, row.id, "resolved", officer, note="selesai", now=at)
        later = at + timedelta(hours=rng.uniform(1, 30))
        if later < now and roll < 0.55:
            feedback.rate(services.engine, producer, row.ticket, rng.randint(2, 5), now=later,
                          secret=secrets[row.id], city=services.preset.slug)
            fate["rated"].append(row.id)
        elif later < now and roll < 0.62:
            feedback.dispute(services.engine, producer, row.ticket, "masih rusak", now=later,
                             secret=secrets[row.id], city=services.preset.slug)
            fate["disputed"].append(row.id)
        else:
            fate["resolved"].append(row.id)
    drain(services)
    rollups.refresh_dirty(services.engine, services.preset.slug, services.preset.timezone)
    return fate
