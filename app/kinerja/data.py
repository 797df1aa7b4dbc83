"""Reads for /kinerja and the weekly report: sums over the rollups, never a scan of all reports.

Each function answers plain data for one chart or table. Two reads touch ``reports`` and are
bounded by an index: the open count now (the backlog's end point), and, when one kecamatan is
chosen, the hour-of-week and kelurahan views of that kecamatan alone (the rollups keep neither
the hour nor the kelurahan per kecamatan, to stay small).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from app import kinerja
from app.kinerja import Filters
from app.store import db, rollups


def _where(table, city: str, flt: Filters, first: date | None = None, last: date | None = None,
           kecamatan: bool = True):
    c = table.c
    terms = [c.city == city, c.day >= (first or flt.first).isoformat(), c.day <= (last or flt.last).isoformat()]
    if flt.agency:
        terms.append(c.agency == flt.agency)
    if flt.category:
        terms.append(c.category == flt.category)
    if kecamatan and flt.kecamatan and "kecamatan_code" in c:
        terms.append(c.kecamatan_code == flt.kecamatan)
    return and_(*terms)


def per_day_by_category(engine, city: str, flt: Filters) -> dict[str, dict[str, int]]:
    """category -> {local day (ISO) -> reports received}."""
    d = rollups.daily
    query = (select(d.c.category, d.c.day, func.sum(d.c.received).label("n"))
             .where(_where(d, city, flt)).group_by(d.c.category, d.c.day))
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with engine.connect() as conn:
        for row in conn.execute(query):
            if row.n:
                out[row.category][row.day] = int(row.n)
    return dict(out)


def open_now(engine, city: str, flt: Filters) -> int:
    r = db.reports.c
    terms = [r.city == city, db.open_reports()]
    if flt.agency:
        terms.append(r.agency == flt.agency)
    if flt.category:
        terms.append(r.category == flt.category)
    if flt.kecamatan:
        terms.append(r.kecamatan_code == flt.kecamatan)
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(db.reports).where(*terms)).scalar_one())


def backlog(engine, city: str, flt: Filters, today: date) -> dict[str, int]:
    """Local day (ISO) -> open reports at the end of that day."""
    d = rollups.daily
    change = func.sum(d.c.received - d.c.closed_out + d.c.reopened_in)
    with engine.connect() as conn:
        deltas = {date.fromisoformat(row.day): int(row.n or 0) for row in conn.execute(
            select(d.c.day, change.label("n")).where(_where(d, city, flt)).group_by(d.c.day))}
        after = 0
        if flt.last < today:
            after = int(conn.execute(select(change).where(
                _where(d, city, flt, first=date.fromordinal(flt.last.toordinal() + 1), last=today))).scalar() or 0)
    days = flt.days()
    series = kinerja.backlog_series(days, deltas, open_now(engine, city, flt), after)
    return {day.isoformat(): n for day, n in zip(days, series)}


def sla_by_agency_week(engine, city: str, flt: Filters) -> dict[str, dict[str, tuple[int, int]]]:
    """agency -> {week's Monday (ISO) -> (resolved, on time)}."""
    d = rollups.daily
    query = (select(d.c.agency, d.c.day, func.sum(d.c.resolved).label("resolved"),
                    func.sum(d.c.on_time).label("on_time"))
             .where(_where(d, city, flt)).group_by(d.c.agency, d.c.day))
    out: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    with engine.connect() as conn:
        for row in conn.execute(query):
            if row.resolved:
                week = kinerja.week_start(date.fromisoformat(row.day)).isoformat()
                cell = out[row.agency or ""][week]
                cell[0] += int(row.resolved)
                cell[1] += int(row.on_time or 0)
    return {agency: {week: tuple(v) for week, v in weeks.items()} for agency, weeks in out.items()}


def duration_bins(engine, city: str, flt: Filters) -> dict[str, dict[str, dict[int, int]]]:
    """measure -> agency -> {bin -> reports}; the kecamatan filter does not apply (see METHODS)."""
    t = rollups.durations
    query = (select(t.c.measure, t.c.agency, t.c.bin, func.sum(t.c.reports).label("n"))
             .where(_where(t, city, flt)).group_by(t.c.measure, t.c.agency, t.c.bin))
    out: dict = {m: defaultdict(dict) for m in kinerja.MEASURES}
    with engine.connect() as conn:
        for row in conn.execute(query):
            out[row.measure][row.agency or ""][int(row.bin)] = int(row.n)
    return {m: dict(v) for m, v in out.items()}


def hour_of_week(engine, city: str, flt: Filters, tz_name: str) -> list[list[int]]:
    """7 × 24 matrix (Monday first) of reports received by local weekday and hour."""
    grid = [[0] * 24 for _ in range(7)]
    if flt.kecamatan:
        zone = ZoneInfo(tz_name)
        r = db.reports.c
        with engine.connect() as conn:
            for (created,) in conn.execute(select(r.created_at).where(*_report_terms(city, flt, tz_name))):
                local = rollups._aware(created).astimezone(zone)
                grid[local.weekday()][local.hour] += 1
        return grid
    h = rollups.hourly
    query = (select(h.c.day, h.c.hour, func.sum(h.c.received).label("n"))
             .where(_where(h, city, flt)).group_by(h.c.day, h.c.hour))
    with engine.connect() as conn:
        for row in conn.execute(query):
            grid[date.fromisoformat(row.day).weekday()][int(row.hour)] += int(row.n)
    return grid


def areas(engine, city: str, flt: Filters, sensitive: set[str], tz_name: str) -> dict[str, dict]:
    """kecamatan code -> {"ordinary": n, "sensitive": n} received; with a kecamatan chosen, its
    kelurahan instead (code -> same), read from reports of that kecamatan alone."""
    out: dict[str, Counter] = defaultdict(Counter)
    if flt.kecamatan:
        r = db.reports.c
        with engine.connect() as conn:
            zone_rows = conn.execute(select(r.kelurahan_code, r.category, func.count().label("n"))
                                     .where(*_report_terms(city, flt, tz_name))
                                     .group_by(r.kelurahan_code, r.category)).all()
        for row in zone_rows:
            out[row.kelurahan_code or ""]["sensitive" if row.category in sensitive else "ordinary"] += int(row.n)
        return {k: dict(v) for k, v in out.items()}
    d = rollups.daily
    query = (select(d.c.kecamatan_code, d.c.category, func.sum(d.c.received).label("n"))
             .where(_where(d, city, flt)).group_by(d.c.kecamatan_code, d.c.category))
    with engine.connect() as conn:
        for row in conn.execute(query):
            if row.n:
                out[row.kecamatan_code or ""]["sensitive" if row.category in sensitive else "ordinary"] += int(row.n)
    return {k: dict(v) for k, v in out.items()}


def _report_terms(city: str, flt: Filters, tz_name: str):
    """Reports created in the filter's local days (only used with one kecamatan chosen)."""
    r = db.reports.c
    zone = ZoneInfo(tz_name)
    start, _ = rollups.day_bounds(flt.first, zone)
    _, end = rollups.day_bounds(flt.last, zone)
    terms = [r.city == city, r.kecamatan_code == flt.kecamatan, r.created_at >= start, r.created_at < end]
    if flt.agency:
        terms.append(r.agency == flt.agency)
    if flt.category:
        terms.append(r.category == flt.category)
    return terms


def totals_by_agency(engine, city: str, flt: Filters) -> dict[str, dict]:
    """agency -> summed daily counts (and rating_sum) over the filter."""
    d = rollups.daily
    cols = [func.sum(getattr(d.c, name)).label(name) for name in kinerja.DAILY_COUNTS]
    query = (select(d.c.agency, *cols, func.sum(d.c.rating_sum).label("rating_sum"))
             .where(_where(d, city, flt)).group_by(d.c.agency))
    with engine.connect() as conn:
        return {row.agency or "": {k: (v or 0) for k, v in row._mapping.items() if k != "agency"}
                for row in conn.execute(query)}


def agency_performance(engine, city: str, flt: Filters) -> dict[str, dict]:
    """agency -> kinerja.agency_figures (the kecamatan filter applies to counts, not to medians)."""
    totals = totals_by_agency(engine, city, flt)
    bins = duration_bins(engine, city, flt)
    return {agency: kinerja.agency_figures(t, bins["first_action"].get(agency, {}), bins["resolve"].get(agency, {}))
            for agency, t in totals.items()}


def city_performance(engine, city: str, flt: Filters) -> dict:
    totals: Counter = Counter()
    first, resolve = Counter(), Counter()
    for t in totals_by_agency(engine, city, flt).values():
        totals.update(t)
    bins = duration_bins(engine, city, flt)
    for per_agency in bins["first_action"].values():
        first.update(per_agency)
    for per_agency in bins["resolve"].values():
        resolve.update(per_agency)
    return kinerja.agency_figures(dict(totals), dict(first), dict(resolve))


def officer_performance(engine, city: str, flt: Filters) -> list[dict]:
    """Per officer (staff account that acted): starts, resolutions, on-time share, mean hours."""
    o = rollups.officers
    terms = [o.c.city == city, o.c.day >= flt.first.isoformat(), o.c.day <= flt.last.isoformat()]
    if flt.agency:
        terms.append(o.c.agency == flt.agency)
    query = (select(o.c.agency, o.c.actor, func.sum(o.c.started).label("started"),
                    func.sum(o.c.resolved).label("resolved"), func.sum(o.c.on_time).label("on_time"),
                    func.sum(o.c.resolve_hours).label("hours"))
             .where(*terms).group_by(o.c.agency, o.c.actor))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = [{"agency": row.agency, "actor": row.actor, "started": int(row.started or 0),
            "resolved": int(row.resolved or 0), "sla_share": kinerja.share(int(row.on_time or 0), int(row.resolved or 0)),
            "mean_resolve_h": (float(row.hours) / int(row.resolved)) if row.resolved else None} for row in rows]
    return sorted(out, key=lambda r: (-r["resolved"], r["actor"]))


HONESTY_KINDS = ("location_unverified", "photo_near_match", "photo_before_assignment", "self_service")


def resolution_proof(engine, city: str, flt: Filters, tz_name: str) -> dict[str, dict]:
    """agency -> {resolved, verified, flagged, <flag kind>: n} of the resolutions recorded in the
    period (local days), from the proof each resolution carries (``app.proof``, kept with the
    resolve action). A resolution is verified when its proof raised no flag."""
    import json

    from app.staff.actions import report_actions

    zone = ZoneInfo(tz_name)
    since = datetime.combine(flt.first, datetime.min.time(), zone).astimezone(timezone.utc)
    until = datetime.combine(flt.last, datetime.max.time(), zone).astimezone(timezone.utc)
    a, r = report_actions, db.reports
    terms = [r.c.city == city, a.c.action == "resolve", a.c.occurred_at >= since, a.c.occurred_at <= until]
    if flt.agency:
        terms.append(r.c.agency == flt.agency)
    if flt.category:
        terms.append(r.c.category == flt.category)
    if flt.kecamatan:
        terms.append(r.c.kecamatan_code == flt.kecamatan)
    query = select(r.c.agency, a.c.detail).select_from(a.join(r, r.c.id == a.c.report_id)).where(*terms)
    out: dict[str, dict] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            try:
                kinds = (json.loads(row.detail or "{}").get("proof") or {}).get("flags") or []
            except (ValueError, AttributeError):
                kinds = []
            tally = out.setdefault(row.agency or "", {"resolved": 0, "verified": 0, "flagged": 0,
                                                      **{k: 0 for k in HONESTY_KINDS}})
            tally["resolved"] += 1
            tally["flagged" if kinds else "verified"] += 1
            for kind in set(kinds) & set(HONESTY_KINDS):
                tally[kind] += 1
    return out


def most_overdue(engine, city: str, flt: Filters, now: datetime | None = None, limit: int = 15) -> list[dict]:
    """Open reports furthest past their SLA due time (ix_reports_open_due), no personal data."""
    now = now or datetime.now(timezone.utc)
    r = db.reports.c
    terms = [r.city == city, db.open_reports(), r.sla_due_at < now]
    if flt.agency:
        terms.append(r.agency == flt.agency)
    if flt.category:
        terms.append(r.category == flt.category)
    if flt.kecamatan:
        terms.append(r.kecamatan_code == flt.kecamatan)
    query = (select(r.ticket, r.category, r.agency, r.status, r.kelurahan_name, r.kecamatan_name, r.created_at,
                    r.sla_due_at).where(*terms).order_by(r.sla_due_at).limit(limit))
    with engine.connect() as conn:
        return [{**row._mapping, "created_at": rollups._aware(row.created_at),
                 "sla_due_at": rollups._aware(row.sla_due_at)} for row in conn.execute(query)]

