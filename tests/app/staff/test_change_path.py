"""Every change to a report goes down one path, so the wall, the dispatch queue and SQL agree.

A priority change moves the SLA deadline: it used to be written to SQL only, so the wall kept
the old deadline (its breaches disagreed with the dispatch queue's "breached" filter) and a
rebuild stopped equalling the incremental state.
"""
import random
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from app import queries
from app.auth.users import StaffUser
from app.staff import actions, queue
from app.store import db
from app.workflow import OPEN_STATUSES
from ingest.rebuild import rebuild
from tests.app.staff.conftest import seed
from tests.helpers import drain, dump_aggregates, raw_reports

SUPERVISOR = StaffUser("super1", "supervisor", None, "jakarta")


def breaches(services, now: datetime) -> dict:
    """The three counts that must agree: the wall's KPI, the dispatch queue's filter, SQL."""
    r = db.reports
    with services.engine.connect() as conn:
        in_sql = conn.execute(select(func.count()).select_from(r).where(
            r.c.city == services.preset.slug, r.c.status.in_(OPEN_STATUSES), r.c.sla_due_at < now)).scalar_one()
    return {"wall": queries.kpis(services.redis, services.preset, "today", now=now.timestamp())["sla_breaches"],
            "dispatch": queue.count(services.engine, services.preset, queue.QueueFilter(sla_state="breached"),
                                    SUPERVISOR, now=now),
            "sql": in_sql}


def rows(services):
    with services.engine.connect() as conn:
        return {row.id: row for row in conn.execute(select(db.reports))}


def test_a_priority_change_moves_the_walls_breaches_at_once(services):
    row = seed(services, count=1, categories=["road_damage"])[0]     # 168 h: nowhere near due
    now = row.created_at + timedelta(hours=50)
    assert breaches(services, now) == {"wall": 0, "dispatch": 0, "sql": 0}
    answer = actions.change_priority(services, SUPERVISOR, row.id, row.version, "urgent")    # 42 h
    assert answer["version"] == row.version + 1 and "feed" not in answer
    drain(services)
    assert breaches(services, now) == {"wall": 1, "dispatch": 1, "sql": 1}
    # A later status change carries the deadline too, and a redelivered priority event changes nothing.
    verified = actions.verify(services, SUPERVISOR, row.id, answer["version"])
    drain(services)
    assert breaches(services, now) == {"wall": 1, "dispatch": 1, "sql": 1}
    history = actions.history(services.engine, row.id)
    assert [(h["action"], h["from"], h["to"]) for h in history[-2:]] == [
        ("priority", None, None), ("verify", "new", "verified")]
    assert history[-2]["detail"] == {"from": "normal", "to": "urgent"}
    at = time.time() + 1
    before = dump_aggregates(services.redis, services.keys, at)
    with services.engine.connect() as conn:
        event = conn.execute(select(db.report_events).where(
            db.report_events.c.event_id == f"{row.id}:v{answer['version']}")).one()
    assert event.kind == "priority" and event.published
    services.producer.emit_status({"event_id": event.event_id, "report_id": row.id, "city": row.city,
                                   "kind": "priority", "from_status": "new", "to_status": "new",
                                   "version": answer["version"], "actor": event.actor, "note": None,
                                   "occurred_at": event.occurred_at, "resolved_at": None,
                                   "priority": "low", "sla_due_at": row.created_at + timedelta(hours=999)})
    drain(services)
    assert dump_aggregates(services.redis, services.keys, at) == before
    assert rows(services)[row.id].version == verified["version"]


def test_priority_status_merge_and_reroute_over_a_replay_agree_everywhere(services):
    """The issue's must-show: a replay, then staff mixing every kind of change."""
    now = datetime.now(timezone.utc)
    raws = raw_reports(160, seed=11, start=now - timedelta(days=6), spread_s=6 * 86400)
    services.producer.submit_many(raws)
    drain(services, batch_size=64)
    rng = random.Random(11)
    agencies = [a.code for a in services.preset.agencies][:4]
    current = rows(services)
    ids = sorted(current)
    done = {"priority": 0, "merge": 0, "reroute": 0, "status": 0}
    for step in range(240):
        report_id = rng.choice(ids)
        row, roll = current[report_id], rng.random()
        if row.status not in OPEN_STATUSES:
            continue
        if roll < 0.3:
            actions.change_priority(services, SUPERVISOR, report_id, row.version,
                                    rng.choice(["urgent", "high", "low", "normal"]))
            done["priority"] += 1
        elif row.status in ("new", "reopened") and roll < 0.45:
            into = rng.choice([i for i in ids if i != report_id])
            actions.merge(services, SUPERVISOR, report_id, row.version, into)
            done["merge"] += 1
        elif row.status == "new":
            actions.verify(services, SUPERVISOR, report_id, row.version)
            done["status"] += 1
        elif row.status == "dispatched" and roll < 0.6:
            actions.assign(services, SUPERVISOR, report_id, row.version, rng.choice(agencies))
            done["reroute"] += 1
        elif row.status == "dispatched" and roll < 0.8:
            actions.start(services, SUPERVISOR, report_id, row.version)
            done["status"] += 1
        elif row.status in ("dispatched", "in_progress"):
            actions.resolve(services, SUPERVISOR, report_id, row.version, f"photo-{step}", "selesai")
            done["status"] += 1
        else:    # verified, reopened
            actions.assign(services, SUPERVISOR, report_id, row.version, rng.choice(agencies))
            done["status"] += 1
        current = rows(services)
        if step % 60 == 59:       # the consumers catch up now and then, as in production
            drain(services, batch_size=64)
    drain(services, batch_size=64)
    assert all(done.values()), done

    now = datetime.now(timezone.utc).replace(microsecond=0)
    counts = breaches(services, now)
    assert counts["sql"] > 0
    assert counts["wall"] == counts["dispatch"] == counts["sql"], counts

    at = time.time() + 1
    incremental = dump_aggregates(services.redis, services.keys, at)
    rebuild(services.redis, services.engine, services.preset)
    rebuilt = dump_aggregates(services.redis, services.keys, at)
    assert rebuilt.keys() == incremental.keys()
    assert {k: v for k, v in rebuilt.items() if v != incremental[k]} == {}
