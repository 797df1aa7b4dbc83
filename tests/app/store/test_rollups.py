"""The /kinerja rollups kept by the persister agree with SQL counts over the same reports, count a
redelivered batch once, and equal a rebuild from scratch — on SQLite and PostgreSQL."""
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app import kinerja
from app.kinerja import Filters, data
from app.store import db, rollups
from tests.kinerja_history import make_history


def _dump(engine):
    out = {}
    with engine.connect() as conn:
        for table in rollups.TABLES:
            rows = conn.execute(select(table)).all()
            out[table.name] = sorted(tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows)
    return out


def test_rollups_agree_with_sql_and_count_once(services):
    fate = make_history(services, count=120, days=15)
    engine, city, zone = services.engine, services.preset.slug, ZoneInfo(services.preset.timezone)
    today = datetime.now(zone).date()
    flt = Filters.from_params({"period": "30d"}, today)
    r, e = db.reports.c, db.report_events.c
    with engine.connect() as conn:
        created = [rollups._aware(t).astimezone(zone).date().isoformat()
                   for (t,) in conn.execute(select(r.created_at).where(r.city == city))]
        resolutions = Counter(row.agency for row in conn.execute(
            select(r.agency).select_from(db.report_events.join(db.reports, r.id == e.report_id))
            .where(e.to_status == "resolved")))
        open_count = conn.execute(select(func.count()).select_from(db.reports)
                                  .where(r.city == city, db.open_reports())).scalar_one()
    per_day = Counter()
    for days in data.per_day_by_category(engine, city, flt).values():
        per_day.update(days)
    assert dict(per_day) == dict(Counter(created))
    perf = data.agency_performance(engine, city, flt)
    assert {a: f["resolved"] for a, f in perf.items() if f["resolved"]} == dict(resolutions)
    assert sum(f["ratings"] for f in perf.values()) == len(fate["rated"])
    assert sum(f["disputes"] for f in perf.values()) == len(fate["disputed"])
    series = data.backlog(engine, city, flt, today)
    assert series[today.isoformat()] == open_count
    assert min(series.values()) >= 0 and series[flt.first.isoformat()] == 0   # nothing before the history
    grid = data.hour_of_week(engine, city, flt, services.preset.timezone)
    assert sum(map(sum, grid)) == len(created)
    # one kecamatan chosen: counted per hour in SQL, the same cells as each report placed by itself
    with engine.connect() as conn:
        kecamatan = Counter(conn.execute(select(r.kecamatan_code).where(r.city == city)).scalars()).most_common(1)[0][0]
        mine = [rollups._aware(t).astimezone(zone) for (t,) in conn.execute(
            select(r.created_at).where(r.city == city, r.kecamatan_code == kecamatan))]
    expected = [[0] * 24 for _ in range(7)]
    for local in mine:
        expected[local.weekday()][local.hour] += 1
    assert data.hour_of_week(engine, city, replace(flt, kecamatan=kecamatan), services.preset.timezone) == expected

    before = _dump(engine)
    # A redelivered batch (the persister crashed before its acknowledgement) marks days again:
    # the days are recomputed, nothing is added twice.
    with engine.connect() as conn:
        changes = [dict(row._mapping) for row in conn.execute(
            select(e.event_id, e.report_id, e.city, e.occurred_at).where(e.kind == "status"))]
    with engine.begin() as conn:
        assert rollups.mark_changed(conn, [], changes) > 0
    assert rollups.refresh_dirty(engine, city, services.preset.timezone) > 0
    assert _dump(engine) == before
    assert rollups.pending_marks(engine, city) == 0
    # And a rebuild from scratch gives the same rows as the incremental marks did.
    rollups.rebuild(engine, city, services.preset.timezone)
    assert _dump(engine) == before


def test_median_from_bins_and_backlog_walk():
    assert kinerja.median_from_bins({}) is None
    assert kinerja.median_from_bins({kinerja.hour_bin(3): 1}) == 3.0     # bin [2, 4): middle
    assert kinerja.hour_bin(0.5) == 0 and kinerja.hour_bin(1) == 1 and kinerja.hour_bin(5000) == 12
    assert kinerja.median_from_bins({12: 5}) == 720.0
    days = [datetime(2026, 11, d).date() for d in (1, 2, 3)]
    assert kinerja.backlog_series(days, {days[0]: 3, days[1]: -1, days[2]: 2}, open_now=6, after_last=1) == [4, 3, 5]


def test_filters_name_the_bad_field():
    today = datetime(2026, 11, 30, tzinfo=timezone.utc).date()
    for params, field in (({"period": "2y"}, "period"), ({"from": "2026-13-01", "to": "2026-12-01"}, "from"),
                          ({"from": "2026-11-01"}, "to"), ({"agency": "NOPE"}, "agency"),
                          ({"kecamatan": "x' OR 1=1"}, "kecamatan")):
        try:
            Filters.from_params(params, today, agencies={"DLH"}, categories={"flood"})
        except kinerja.FilterInvalid as err:
            assert err.field == field
        else:
            raise AssertionError(f"{params} accepted")
    week = kinerja.parse_iso_week("2026-W48")
    assert week.isoformat() == "2026-11-23" and kinerja.iso_week(week) == "2026-W48"
