"""A living city from the first minute: ``ingest.history`` seeds days of simulated history through
the real pipeline (producer, stream, aggregator, persister) and the one change path, so the wall's
counters, the kiosk's ranking and /kinerja's rollups agree with SQL at once; seeding again (the
function or ``python -m ingest simulate --history 30d``) seeds nothing twice. The honesty signals
of /kinerja equal the same figures counted in SQL from proof_flags, report_actions, report_events."""
import json
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app import kinerja, public, queries
from app.photos import PENDING
from app.feedback import report_feedback
from app.kinerja import data
from app.proof import proof_flags
from app.staff.actions import report_actions
from app.store import db
from ingest import history
from tests.conftest import ROOT


def _aware(value):
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _honesty_from_sql(engine, city, first_utc, end_utc):
    """(agency, actor) -> the honesty counts, counted straight from the system of record."""
    e, r, a, f = db.report_events, db.reports, report_actions, proof_flags
    out: dict = {}
    with engine.connect() as conn:
        resolutions = conn.execute(
            select(e.c.event_id, e.c.report_id, e.c.actor, e.c.occurred_at, r.c.agency)
            .join(r, r.c.id == e.c.report_id)
            .where(e.c.city == city, e.c.kind == "status", e.c.to_status == "resolved",
                   e.c.occurred_at >= first_utc, e.c.occurred_at < end_utc)).all()
        flags = conn.execute(select(f.c.report_id, f.c.actor, f.c.kind, f.c.occurred_at)
                             .where(f.c.city == city, f.c.action == "resolve")).all()
        details = {row.event_id: json.loads(row.detail) for row in conn.execute(
            select(a.c.event_id, a.c.detail).where(a.c.action == "resolve"))}
        creators = dict(conn.execute(select(e.c.report_id, e.c.actor).where(e.c.kind == "created")).all())
        disputes = conn.execute(
            select(report_feedback.c.report_id, report_feedback.c.occurred_at, r.c.created_at, r.c.agency)
            .join(r, r.c.id == report_feedback.c.report_id)
            .where(report_feedback.c.kind == "dispute", report_feedback.c.occurred_at >= first_utc,
                   report_feedback.c.occurred_at < end_utc)).all()
        all_resolutions = conn.execute(select(e.c.report_id, e.c.actor, e.c.occurred_at)
                                       .where(e.c.kind == "status", e.c.to_status == "resolved")).all()
    for ev in resolutions:
        c = out.setdefault((ev.agency or "", ev.actor), Counter())
        c["resolved"] += 1
        # the flags of this resolution: same report and officer, recorded at the resolution's moment
        kinds = {fl.kind for fl in flags if fl.report_id == ev.report_id and fl.actor == ev.actor
                 and abs((_aware(fl.occurred_at) - _aware(ev.occurred_at)).total_seconds()) < 60}
        proof = details.get(ev.event_id, {}).get("proof") or {}
        if kinds:
            c["flagged"] += 1
            c["flag_location"] += "location_unverified" in kinds
            c["flag_photo"] += bool(kinds & {"photo_near_match", "photo_before_assignment"})
        elif (proof.get("presence") or {}).get("verified") and not proof.get("flags"):
            c["verified"] += 1
        c["self_filed"] += "self_service" in kinds or creators.get(ev.report_id) == ev.actor
    for d in disputes:
        before = [x for x in all_resolutions if x.report_id == d.report_id
                  and _aware(x.occurred_at) <= _aware(d.occurred_at)]
        last = max(before, key=lambda x: _aware(x.occurred_at))
        if _aware(last.occurred_at) - _aware(d.created_at) <= timedelta(hours=kinerja.FAST_HOURS):
            out.setdefault((d.agency or "", last.actor), Counter())["fast_disputed"] += 1
    return out


def test_seeded_history_fills_every_screen_once_and_honesty_equals_sql(sqlite_services, tmp_path):
    services = sqlite_services
    engine, city, zone = services.engine, services.preset.slug, ZoneInfo(services.preset.timezone)
    seeded = history.seed(services, days=6, per_day=18, flood=30, seed=5)
    assert seeded["reports"] > 100
    for step in ("verified", "rejected", "dispatched", "resolved", "late", "flagged", "rated", "disputed"):
        assert seeded[step] > 0, (step, seeded)
    # the first minute: every report filed first, then the newest day followed up, then the rest
    assert 0 < seeded["filed_s"] <= seeded["first_day_s"] <= seeded["seconds"]
    assert not [p for p in (services.settings.data_dir / "photos" / PENDING).rglob("*") if p.is_file()]
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(db.reports)).scalar()
        created = [_aware(x) for x in conn.execute(select(db.reports.c.created_at)).scalars()]
        flood_times = [_aware(x) for x in conn.execute(
            select(db.reports.c.created_at).where(db.reports.c.category == "flood")).scalars()]
        flood_days = Counter(x.astimezone(zone).date() for x in flood_times)
        photos = conn.execute(select(func.count()).select_from(report_actions)
                              .where(report_actions.c.action == "resolve")).scalar()
    assert count == seeded["reports"]
    now = datetime.now(timezone.utc)
    assert min(created) >= now - timedelta(days=6, minutes=5) and max(created) <= now
    # the flood day: two days ago, its afternoon a burst of about 30 floods (a Poisson count, so how many
    # depends on the hour the test runs: 24 was seen) where the other days have a few each
    flood_day = (now - timedelta(days=2)).astimezone(zone).date()
    burst = [x for x in flood_times if x.astimezone(zone).date() == flood_day and 14 <= x.astimezone(zone).hour < 17]
    assert max(flood_days, key=flood_days.get) == flood_day, flood_days
    assert len(burst) >= 15 and len(burst) > 2 * max(n for day, n in flood_days.items() if day != flood_day), \
        (len(burst), flood_days)
    assert photos == seeded["photos"] > 0
    assert all((services.settings.data_dir / "photos").rglob("*.jpg"))

    # the wall: the aggregator counted them (open backlog on the map, today's and the week's figures)
    assert sum(queries.hex_counts(services.redis, services.preset, 8, metric="open").values()) > 0
    assert public.summary(services)["7d"]["received"] > 0
    # the kiosk's ranking: at least one agency ranked with a score
    ranking = public.ranking_of(services, "agency")
    assert ranking["ranked"] and ranking["ranked"][0]["score"] > 0
    # /kinerja: the rollups hold the same reports as SQL
    today = datetime.now(zone).date()
    flt = kinerja.Filters.from_params({"period": "7d"}, today)
    figures = data.city_performance(engine, city, flt)
    assert figures["received"] == count
    assert figures["resolved"] > 0 and figures["ratings"] > 0 and figures["disputes"] > 0
    assert figures["sla_share"] is not None and figures["sla_share"] < 1     # some resolved late

    # honesty per agency and officer equals SQL over the same period
    first_utc = datetime.combine(flt.first, datetime.min.time(), zone).astimezone(timezone.utc)
    end_utc = datetime.combine(flt.last + timedelta(days=1), datetime.min.time(), zone).astimezone(timezone.utc)
    expected = _honesty_from_sql(engine, city, first_utc, end_utc)
    signals = data.honesty(engine, city, flt)
    got = {(o["agency"], o["actor"]): Counter({k: v for k, v in o.items() if k not in ("agency", "actor") and v})
           for o in signals["officers"]}
    assert got == {k: +v for k, v in expected.items() if +v}
    totals = Counter()
    for c in got.values():
        totals.update(c)
    for name in ("resolved", "verified", "flagged", "flag_location", "self_filed"):
        assert totals[name] > 0, (name, totals)
    # one agency filter: the agency's rows only
    agency = max(signals["agencies"], key=lambda a: signals["agencies"][a]["resolved"])
    scoped = data.honesty(engine, city, flt.scoped(agency))
    assert set(scoped["agencies"]) == {agency}
    assert scoped["agencies"][agency] == signals["agencies"][agency]

    # seeding again seeds nothing twice: the function, and the command on the same stores
    assert history.seed(services, days=6, per_day=18, flood=30, seed=5)["reports"] == 0
    env = {"REDIS_URL": services.redis_url, "DATABASE_URL": services.settings.resolved_database_url(),
           "PANTAU_DATA_DIR": str(services.settings.data_dir), "SECRET_KEY": "test-secret",
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PANTAU_LOG_LEVEL": "WARNING"}
    run = subprocess.run([sys.executable, "-m", "ingest", "simulate", "--history", "30d"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["skipped"]
    bad = subprocess.run([sys.executable, "-m", "ingest", "simulate", "--history", "forever"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "--history" in bad.stderr
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.reports)).scalar() == count
    assert isinstance(today, date)
