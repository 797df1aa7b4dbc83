"""Performance rollups for /kinerja and the weekly report: counts per local day, kept in SQL.

The charts never scan reports: they sum these rows over a period. A day's rows are recomputed
whole from the system of record (reports, report_events, report_feedback) whenever anything that
touches that day arrives, so a redelivered or replayed event cannot count twice: recomputing a
day gives the same rows however often it runs.

* The persister marks the UTC days a batch touches (``mark_changed``: a new report's creation
  day, a status event's day, and the creation day of a report whose status changed, since its
  agency may have moved) in ``kinerja_dirty``, in one small upsert.
* ``refresh_dirty`` (the jobs process ``python -m ingest jobs``, ``python -m app.kinerja rollup``)
  recomputes the local days those UTC days overlap, then clears the marks it saw (a mark made
  meanwhile stays for the next round).

What each row counts is by the day it happened in the city's zone: ``received`` by creation,
``resolved``/``on_time``/``reopened`` by the event's day (every resolution counts, also one after
a reopening), with the report's current category, agency and kecamatan.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Float, Integer, String, Table, delete, select

from app import kinerja
from app.store import db
from app.store.db import UTCDateTime, metadata
from app.store.tables import proof_flags, report_actions, report_feedback
from app.workflow import OPEN_STATUSES, RESOLVED_STATUSES

CITIZEN = "citizen"

daily = Table(
    "kinerja_daily", metadata,
    Column("city", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),            # local date, YYYY-MM-DD
    Column("category", String(40), primary_key=True),
    Column("agency", String(40), primary_key=True),         # '' when none
    Column("kecamatan_code", String(40), primary_key=True),  # '' when none
    *[Column(name, Integer, nullable=False, default=0) for name in kinerja.DAILY_COUNTS],
    Column("rating_sum", Float, nullable=False, default=0.0),
)

hourly = Table(
    "kinerja_hourly", metadata,
    Column("city", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("category", String(40), primary_key=True),
    Column("agency", String(40), primary_key=True),
    Column("hour", Integer, primary_key=True),               # local hour of creation, 0-23
    Column("received", Integer, nullable=False),
)

durations = Table(
    "kinerja_durations", metadata,
    Column("city", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("category", String(40), primary_key=True),
    Column("agency", String(40), primary_key=True),
    Column("measure", String(12), primary_key=True),          # first_action / resolve
    Column("bin", Integer, primary_key=True),                 # kinerja.HOUR_BINS index
    Column("reports", Integer, nullable=False),
)

officers = Table(
    "kinerja_officers", metadata,
    Column("city", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("agency", String(40), primary_key=True),
    Column("actor", String(120), primary_key=True),
    Column("started", Integer, nullable=False),
    Column("resolved", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),
    Column("resolve_hours", Float, nullable=False),           # sum, for the mean
)

# The honesty signals of the officers' resolutions (see kinerja.METHODS / the catalogue's method text).
# ``resolved``, ``verified``, ``flagged*`` and ``self_filed`` count the day's resolutions by the
# resolver; ``fast_disputed`` counts the day's citizen disputes of a resolution made within
# kinerja.FAST_HOURS of filing, charged to whoever made that resolution.
HONESTY_COUNTS = ("resolved", "verified", "flagged", "flag_location", "flag_photo", "self_filed", "fast_disputed")
honesty = Table(
    "kinerja_honesty", metadata,
    Column("city", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("agency", String(40), primary_key=True),
    Column("actor", String(120), primary_key=True),
    *[Column(name, Integer, nullable=False, default=0) for name in HONESTY_COUNTS],
)

# Derived shapes, so a long period never sums a row per day and kecamatan (see ``refresh_months``):
# * ``kinerja_daily_city``: kinerja_daily without the kecamatan (the per-day charts with no
#   kecamatan chosen read a few rows per day, not one per kecamatan);
# * ``kinerja_<table>_monthly``: each table summed per local month (the hourly one per weekday
#   and hour): a period reads whole months here and only its edge days from the per-day tables.
daily_city = Table(
    "kinerja_daily_city", metadata,
    Column("city", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("category", String(40), primary_key=True),
    Column("agency", String(40), primary_key=True),
    *[Column(name, Integer, nullable=False, default=0) for name in kinerja.DAILY_COUNTS],
    Column("rating_sum", Float, nullable=False, default=0.0),
)


def _monthly_twin(table: Table, extra: tuple = ()) -> Table:
    cols = [Column("month", String(7), primary_key=True) if c.name == "day" else
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
                   default=c.default.arg if c.default is not None else None)
            for c in table.columns]
    return Table(f"{table.name}_monthly", metadata, *cols, *extra)


daily_monthly = _monthly_twin(daily)
hourly_monthly = _monthly_twin(hourly, (Column("weekday", Integer, primary_key=True),))   # 0 = Monday
durations_monthly = _monthly_twin(durations)
officers_monthly = _monthly_twin(officers)
honesty_monthly = _monthly_twin(honesty)
MONTHLY = {daily: daily_monthly, hourly: hourly_monthly, durations: durations_monthly, officers: officers_monthly,
           honesty: honesty_monthly}

dirty = Table(
    "kinerja_dirty", metadata,
    Column("city", String(20), primary_key=True),
    Column("utc_day", String(10), primary_key=True),
    Column("marked_at", UTCDateTime, nullable=False),
)

TABLES = (daily, hourly, durations, officers, honesty)

# One row per city and week of the weekly report: whoever inserts it builds (and mails) that week;
# every other process (a second scheduler, a restart, the command at the same moment) finds the
# row and leaves the week alone (``app.kinerja.weekly.claim``). ``finished_at`` empty: being built
# (taken over when ``claimed_at`` is older than weekly.STALE_S, a builder that died).
weekly_builds = Table(
    "kinerja_weekly_builds", metadata,
    Column("city", String(20), primary_key=True),
    Column("week", String(8), primary_key=True),             # ISO week, 2026-W48
    Column("owner", String(80), nullable=False),             # host:pid:random of the builder
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("files", Integer),
)


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _upsert_dirty(conn, rows: list[dict]):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(dirty).values(rows)
    return stmt.on_conflict_do_update(index_elements=["city", "utc_day"],
                                      set_={"marked_at": stmt.excluded.marked_at})


def mark_changed(conn, created: list, changes: list[dict], now: datetime | None = None) -> int:
    """Mark the UTC days a persisted batch touches, in the caller's transaction (the persister's: a
    batch's reports and their marks are one commit); answers how many marks were written."""
    now = now or datetime.now(timezone.utc)
    days: set[tuple[str, str]] = set()
    for report in created:
        for moment in (report.created_at, report.resolved_at):
            if moment is not None:
                days.add((report.city, _aware(moment).astimezone(timezone.utc).date().isoformat()))
    for change in changes:
        days.add((change["city"], _aware(change["occurred_at"]).astimezone(timezone.utc).date().isoformat()))
    ids = sorted({c["report_id"] for c in changes})
    for start in range(0, len(ids), 500):
        for row in conn.execute(select(db.reports.c.city, db.reports.c.created_at)
                                .where(db.reports.c.id.in_(ids[start:start + 500]))):
            days.add((row.city, _aware(row.created_at).date().isoformat()))
    if not days:
        return 0
    rows = [{"city": city, "utc_day": day, "marked_at": now} for city, day in sorted(days)]
    conn.execute(_upsert_dirty(conn, rows))
    return len(rows)


def local_days_of_utc_day(utc_day: str, zone: ZoneInfo) -> set[date]:
    start = datetime.combine(date.fromisoformat(utc_day), time(), timezone.utc)
    return {start.astimezone(zone).date(), (start + timedelta(days=1, microseconds=-1)).astimezone(zone).date()}


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC moments a local day starts and ends (end exclusive)."""
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def derive(engine, city: str) -> int:
    """Build the derived shapes (``kinerja_daily_city``, the monthly twins) from the per-day rows
    alone, for every day they hold: rollups kept before those shapes existed, or a bulk load.
    Answers how many days were derived."""
    with engine.connect() as conn:
        days = [row.day for row in conn.execute(select(daily.c.day).where(daily.c.city == city).distinct())]
    for start in range(0, len(days), 31):
        chunk = days[start:start + 31]
        with engine.begin() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(daily).where(daily.c.city == city,
                                                                              daily.c.day.in_(chunk)))]
            conn.execute(delete(daily_city).where(daily_city.c.city == city, daily_city.c.day.in_(chunk)))
            by_day: dict[str, list] = defaultdict(list)
            for row in rows:
                by_day[row["day"]].append(row)
            out = [row for day_rows in by_day.values() for row in _without_kecamatan(day_rows)]
            for i in range(0, len(out), 2000):
                conn.execute(daily_city.insert(), out[i:i + 2000])
    refresh_months(engine, city, {day[:7] for day in days})
    return len(days)


def ensure_derived(engine, city: str) -> bool:
    """``derive`` once when the per-day rollups have rows and the derived shapes none."""
    with engine.connect() as conn:
        have = conn.execute(select(daily.c.day).where(daily.c.city == city).limit(1)).first() is not None
        derived = conn.execute(select(daily_city.c.day).where(daily_city.c.city == city).limit(1)).first()
    if have and derived is None:
        derive(engine, city)
        return True
    return False


def refresh_dirty(engine, city: str, tz_name: str) -> int:
    """Recompute every local day marked since the last run; answers how many days were recomputed."""
    zone = ZoneInfo(tz_name)
    ensure_derived(engine, city)
    with engine.connect() as conn:
        marks = conn.execute(select(dirty.c.utc_day, dirty.c.marked_at).where(dirty.c.city == city)).all()
    if not marks:
        return 0
    days = set()
    for mark in marks:
        days |= local_days_of_utc_day(mark.utc_day, zone)
    for day in sorted(days):
        refresh_day(engine, city, zone, day)
    refresh_months(engine, city, {day.isoformat()[:7] for day in days})
    with engine.begin() as conn:
        for mark in marks:
            conn.execute(delete(dirty).where(dirty.c.city == city, dirty.c.utc_day == mark.utc_day,
                                             dirty.c.marked_at <= mark.marked_at))
    return len(days)


def rebuild(engine, city: str, tz_name: str, progress=None) -> int:
    """Recompute every day from the first report to today (after an import, or to start fresh)."""
    zone = ZoneInfo(tz_name)
    r = db.reports.c
    with engine.connect() as conn:
        first = conn.execute(select(r.created_at).where(r.city == city).order_by(r.created_at).limit(1)).scalar()
    if first is None:
        return 0
    day, last = _aware(first).astimezone(zone).date(), datetime.now(zone).date()
    count, months = 0, set()
    while day <= last:
        refresh_day(engine, city, zone, day)
        months.add(day.isoformat()[:7])
        count += 1
        day += timedelta(days=1)
        if progress:
            progress(count)
    refresh_months(engine, city, months)
    with engine.begin() as conn:
        conn.execute(delete(dirty).where(dirty.c.city == city))
    return count


def refresh_day(engine, city: str, zone: ZoneInfo, day: date) -> None:
    """Replace one local day's rows with a fresh computation from the system of record (its
    month's sums are then stale: ``refresh_months``, which the callers run after their days)."""
    rows = compute_day(engine, city, zone, day)
    rows[daily_city.name] = _without_kecamatan(rows[daily.name])
    key = day.isoformat()
    with engine.begin() as conn:
        for table in (*TABLES, daily_city):
            conn.execute(delete(table).where(table.c.city == city, table.c.day == key))
            if rows[table.name]:
                conn.execute(table.insert(), rows[table.name])


def _without_kecamatan(rows: list[dict]) -> list[dict]:
    out: dict[tuple, dict] = {}
    for row in rows:
        key = (row["category"], row["agency"])
        if key not in out:
            out[key] = {k: v for k, v in row.items() if k != "kecamatan_code"}
        else:
            for name in (*kinerja.DAILY_COUNTS, "rating_sum"):
                out[key][name] += row[name]
    return list(out.values())


def refresh_months(engine, city: str, months: set[str]) -> None:
    """Recompute the monthly sums of the given local months (``YYYY-MM``) from the per-day rows."""
    for month in sorted(months):
        first = f"{month}-01"
        last = f"{month}-31"
        with engine.begin() as conn:
            for table, twin in MONTHLY.items():
                keys = [c.name for c in table.primary_key.columns if c.name not in ("city", "day")]
                values = [c.name for c in table.columns if not c.primary_key]
                sums: dict[tuple, list] = {}
                for row in conn.execute(select(table).where(table.c.city == city, table.c.day >= first,
                                                            table.c.day <= last)):
                    m = row._mapping
                    key = tuple(m[k] for k in keys)
                    if twin is hourly_monthly:
                        key += (date.fromisoformat(m["day"]).weekday(),)
                    cell = sums.setdefault(key, [0] * len(values))
                    for i, name in enumerate(values):
                        cell[i] += m[name]
                conn.execute(delete(twin).where(twin.c.city == city, twin.c.month == month))
                names = keys + (["weekday"] if twin is hourly_monthly else [])
                rows = [{"city": city, "month": month, **dict(zip(names, key)), **dict(zip(values, cell))}
                        for key, cell in sums.items()]
                for i in range(0, len(rows), 2000):
                    conn.execute(twin.insert(), rows[i:i + 2000])


def compute_day(engine, city: str, zone: ZoneInfo, day: date) -> dict[str, list[dict]]:
    start, end = day_bounds(day, zone)
    r, e = db.reports, db.report_events
    counts: dict[tuple, Counter] = defaultdict(Counter)
    rating_sum: dict[tuple, float] = defaultdict(float)
    hours_of_day: Counter = Counter()
    bins: Counter = Counter()
    per_officer: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0.0])
    with engine.connect() as conn:
        created = conn.execute(select(r.c.category, r.c.agency, r.c.kecamatan_code, r.c.created_at)
                               .where(r.c.city == city, r.c.created_at >= start, r.c.created_at < end)).all()
        # ix_events_unpublished (published, occurred_at) answers a day's events: one range per flag value
        events = []
        for flag in (True, False):
            events += conn.execute(
                select(e.c.event_id, e.c.report_id, e.c.kind, e.c.from_status, e.c.to_status, e.c.actor,
                       e.c.occurred_at,
                       r.c.category, r.c.agency, r.c.kecamatan_code, r.c.created_at, r.c.sla_due_at,
                       r.c.resolved_at)
                .select_from(e.join(r, r.c.id == e.c.report_id))
                .where(e.c.published.is_(flag), e.c.occurred_at >= start, e.c.occurred_at < end,
                       e.c.city == city)).all()
        rated_ids = sorted({ev.report_id for ev in events
                            if ev.kind == "status" and ev.to_status == "closed" and ev.actor == CITIZEN})
        ratings = []
        f = report_feedback
        for i in range(0, len(rated_ids), 500):
            ratings += conn.execute(select(f.c.report_id, f.c.rating)
                                    .where(f.c.report_id.in_(rated_ids[i:i + 500]), f.c.kind == "rating",
                                           f.c.rating.is_not(None), f.c.occurred_at >= start,
                                           f.c.occurred_at < end)).all()
        honest = _honesty(conn, city, events, start, end)
    for row in created:
        key = (row.category, row.agency or "", row.kecamatan_code or "")
        counts[key]["received"] += 1
        hours_of_day[(row.category, row.agency or "", _aware(row.created_at).astimezone(zone).hour)] += 1
    where_of = {}
    for ev in events:
        if ev.kind not in ("created", "status"):    # a priority change moves no count
            continue
        key = (ev.category, ev.agency or "", ev.kecamatan_code or "")
        where_of[ev.report_id] = key
        c = counts[key]
        created_at, at = _aware(ev.created_at), _aware(ev.occurred_at)
        due = _aware(ev.sla_due_at)
        hours = max((at - created_at).total_seconds(), 0.0) / 3600.0
        was_open = ev.from_status in OPEN_STATUSES if ev.kind == "status" else True
        is_open = ev.to_status in OPEN_STATUSES
        if was_open and not is_open:
            c["closed_out"] += 1
        if not was_open and is_open and ev.kind == "status":
            c["reopened_in"] += 1
        if ev.kind == "created":
            if ev.to_status in RESOLVED_STATUSES:   # imported already resolved
                done = _aware(ev.resolved_at) or at
                c["resolved"] += 1
                c["on_time"] += due is None or done <= due
                bins[(ev.category, ev.agency or "", "resolve",
                      kinerja.hour_bin(max((done - created_at).total_seconds(), 0) / 3600))] += 1
            continue
        officer = per_officer[(ev.agency or "", ev.actor)] if not ev.actor.startswith(CITIZEN) else None
        if ev.to_status == "dispatched" and ev.from_status != "dispatched":
            c["assigned"] += 1
        if ev.to_status == "in_progress" or (ev.to_status == "resolved" and ev.from_status == "dispatched"):
            c["started"] += 1
            bins[(ev.category, ev.agency or "", "first_action", kinerja.hour_bin(hours))] += 1
            if officer is not None:
                officer[0] += 1
        if ev.to_status == "resolved":
            on_time = due is None or at <= due
            c["resolved"] += 1
            c["on_time"] += on_time
            bins[(ev.category, ev.agency or "", "resolve", kinerja.hour_bin(hours))] += 1
            if officer is not None:
                officer[1] += 1
                officer[2] += on_time
                officer[3] += hours
        if ev.to_status == "reopened" and ev.from_status in RESOLVED_STATUSES:
            c["reopened"] += 1
            c["disputes"] += ev.actor == CITIZEN
    for row in ratings:
        key = where_of[row.report_id]
        counts[key]["ratings"] += 1
        rating_sum[key] += float(row.rating)
    key_day = day.isoformat()
    return {
        "kinerja_daily": [{"city": city, "day": key_day, "category": k[0], "agency": k[1], "kecamatan_code": k[2],
                           **{name: c.get(name, 0) for name in kinerja.DAILY_COUNTS},
                           "rating_sum": rating_sum.get(k, 0.0)} for k, c in counts.items()],
        "kinerja_hourly": [{"city": city, "day": key_day, "category": k[0], "agency": k[1], "hour": k[2],
                            "received": n} for k, n in hours_of_day.items()],
        "kinerja_durations": [{"city": city, "day": key_day, "category": k[0], "agency": k[1], "measure": k[2],
                               "bin": k[3], "reports": n} for k, n in bins.items()],
        "kinerja_officers": [{"city": city, "day": key_day, "agency": k[0], "actor": k[1], "started": v[0],
                              "resolved": v[1], "on_time": v[2], "resolve_hours": v[3]}
                             for k, v in per_officer.items() if v[0] or v[1]],
        "kinerja_honesty": [{"city": city, "day": key_day, "agency": k[0], "actor": k[1],
                             **{name: c.get(name, 0) for name in HONESTY_COUNTS}} for k, c in honest.items()],
    }


def _honesty(conn, city: str, events: list, start: datetime, end: datetime) -> dict[tuple, Counter]:
    """(agency, resolver) -> the day's honesty counts, from the day's events, the resolve actions'
    proof (``report_actions.detail.proof``, what the officer's phone sent), the day's proof flags
    (``proof_flags``) and the reports' creation actors. Every read is bounded by the day or by ids."""
    out: dict[tuple, Counter] = defaultdict(Counter)
    resolutions = [ev for ev in events if ev.kind == "status" and ev.to_status == "resolved"
                   and not ev.actor.startswith(CITIZEN)]
    disputes = [ev for ev in events if ev.kind == "status" and ev.to_status == "reopened"
                and ev.from_status in RESOLVED_STATUSES and ev.actor == CITIZEN]
    if not resolutions and not disputes:
        return out
    e, f, a = db.report_events, proof_flags, report_actions
    flags: dict[tuple, set] = defaultdict(set)
    for row in conn.execute(select(f.c.report_id, f.c.actor, f.c.kind)
                            .where(f.c.city == city, f.c.action == "resolve", f.c.occurred_at >= start,
                                   f.c.occurred_at < end)):
        flags[(row.report_id, row.actor)].add(row.kind)
    ids = sorted({ev.report_id for ev in resolutions})
    proof_of, filer_of = {}, {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for row in conn.execute(select(a.c.event_id, a.c.detail).where(a.c.report_id.in_(chunk),
                                                                       a.c.action == "resolve")):
            if row.event_id:
                proof_of[row.event_id] = row.detail
        for row in conn.execute(select(e.c.report_id, e.c.actor).where(e.c.report_id.in_(chunk),
                                                                       e.c.kind == "created")):
            filer_of[row.report_id] = row.actor
    for ev in resolutions:
        c = out[(ev.agency or "", ev.actor)]
        c["resolved"] += 1
        kinds = flags.get((ev.report_id, ev.actor), set())
        if kinds:
            c["flagged"] += 1
            c["flag_location"] += "location_unverified" in kinds
            c["flag_photo"] += bool(kinds & {"photo_near_match", "photo_before_assignment"})
        elif _presence_verified(proof_of.get(ev.event_id)):
            c["verified"] += 1
        c["self_filed"] += "self_service" in kinds or filer_of.get(ev.report_id) == ev.actor
    if disputes:
        ids = sorted({ev.report_id for ev in disputes})
        history: dict[str, list] = defaultdict(list)
        for i in range(0, len(ids), 500):
            for row in conn.execute(select(e.c.report_id, e.c.actor, e.c.occurred_at)
                                    .where(e.c.report_id.in_(ids[i:i + 500]), e.c.kind == "status",
                                           e.c.to_status == "resolved")):
                history[row.report_id].append(row)
        for ev in disputes:
            at = _aware(ev.occurred_at)
            before = [h for h in history.get(ev.report_id, ()) if _aware(h.occurred_at) <= at]
            if not before:
                continue
            last = max(before, key=lambda h: _aware(h.occurred_at))
            hours = (_aware(last.occurred_at) - _aware(ev.created_at)).total_seconds() / 3600.0
            if hours <= kinerja.FAST_HOURS and not last.actor.startswith(CITIZEN):
                out[(ev.agency or "", last.actor)]["fast_disputed"] += 1
    return out


def _presence_verified(detail: str | None) -> bool:
    """A resolve action's audit detail says the officer's phone was verified at the site."""
    if not detail:
        return False
    try:
        proof = (json.loads(detail) or {}).get("proof") or {}
    except ValueError:
        return False
    return bool((proof.get("presence") or {}).get("verified")) and not proof.get("flags")


def pending_marks(engine, city: str) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(dirty.c.utc_day).where(dirty.c.city == city)).all())

