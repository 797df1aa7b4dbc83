"""Reads for /kinerja and the weekly report: sums over the rollups, never a scan of all reports.

Each function answers plain data for one chart or table. A period is read as its whole months
from the monthly rollups and only its edge days from the per-day ones (``_spans``); the per-day
charts with no kecamatan chosen read ``kinerja_daily_city`` (no row per kecamatan). The backlog
is the running sum of each day's change from the first day on (the months before the period, then
its days): no count of open reports. One read touches ``reports``, bounded by an index: with one
kecamatan chosen, its hour-of-week and kelurahan views (the rollups keep neither the hour nor the
kelurahan per kecamatan, to stay small).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
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


def _month_after(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _spans(first: date, last: date) -> tuple[list[tuple[date, date]], list[str]]:
    """first..last as (edge day ranges, whole months ``YYYY-MM`` in between)."""
    start = first if first.day == 1 else _month_after(first)
    months = []
    while _month_after(start) - timedelta(days=1) <= last:
        months.append(start.isoformat()[:7])
        start = _month_after(start)
    if not months:
        return [(first, last)], []
    month_start = date.fromisoformat(months[0] + "-01")
    edges = [(first, month_start - timedelta(days=1))] if first < month_start else []
    if start <= last:
        edges.append((start, last))
    return edges, months


def _dims(c, city: str, flt: Filters, kecamatan: bool) -> list:
    terms = [c.city == city]
    if flt.agency and "agency" in c:
        terms.append(c.agency == flt.agency)
    if flt.category and "category" in c:
        terms.append(c.category == flt.category)
    if kecamatan and flt.kecamatan and "kecamatan_code" in c:
        terms.append(c.kecamatan_code == flt.kecamatan)
    return terms


def _summed(engine, table, city: str, flt: Filters, group: list[str], measures: list[str],
            kecamatan: bool = True, first: date | None = None, last: date | None = None,
            day_table=None) -> dict[tuple, list[float]]:
    """(group values) -> summed measures over first..last: whole months from the table's monthly
    twin, edge days from ``day_table`` (default: the table itself)."""
    first, last = first or flt.first, last or flt.last
    out: dict[tuple, list[float]] = {}
    if first > last:
        return out
    edges, months = _spans(first, last)
    daily_t, monthly_t = day_table if day_table is not None else table, rollups.MONTHLY[table]
    queries = []
    for low, high in edges:
        c = daily_t.c
        queries.append(select(*[c[g] for g in group], *[func.sum(c[m]).label(m) for m in measures])
                       .where(*_dims(c, city, flt, kecamatan), c.day >= low.isoformat(), c.day <= high.isoformat())
                       .group_by(*[c[g] for g in group]))
    if months:
        c = monthly_t.c
        queries.append(select(*[c[g] for g in group], *[func.sum(c[m]).label(m) for m in measures])
                       .where(*_dims(c, city, flt, kecamatan), c.month >= months[0], c.month <= months[-1])
                       .group_by(*[c[g] for g in group]))
    with engine.connect() as conn:
        for query in queries:
            for row in conn.execute(query):
                key = tuple(row[:len(group)])
                cell = out.setdefault(key, [0] * len(measures))
                for i, value in enumerate(row[len(group):]):
                    cell[i] += value or 0
    return out


def _per_day_table(flt: Filters):
    return rollups.daily if flt.kecamatan else rollups.daily_city


def per_day_by_category(engine, city: str, flt: Filters) -> dict[str, dict[str, int]]:
    """category -> {local day (ISO) -> reports received}."""
    d = _per_day_table(flt)
    query = (select(d.c.category, d.c.day, func.sum(d.c.received).label("n"))
             .where(_where(d, city, flt)).group_by(d.c.category, d.c.day))
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with engine.connect() as conn:
        for row in conn.execute(query):
            if row.n:
                out[row.category][row.day] = int(row.n)
    return dict(out)


def backlog(engine, city: str, flt: Filters, today: date | None = None) -> dict[str, int]:
    """Local day (ISO) -> open reports at the end of that day: the change of every day before the
    period (whole months from the monthly rollup), then the running sum over the period's days."""
    d = _per_day_table(flt)
    change = func.sum(d.c.received - d.c.closed_out + d.c.reopened_in)
    with engine.connect() as conn:
        deltas = {date.fromisoformat(row.day): int(row.n or 0) for row in conn.execute(
            select(d.c.day, change.label("n")).where(_where(d, city, flt)).group_by(d.c.day))}
        m = rollups.daily_monthly.c
        month = flt.first.isoformat()[:7]
        before = int(conn.execute(select(func.sum(m.received - m.closed_out + m.reopened_in))
                                  .where(*_dims(m, city, flt, True), m.month < month)).scalar() or 0)
        month_start = flt.first.replace(day=1)
        if month_start < flt.first:
            before += int(conn.execute(select(change).where(_where(
                d, city, flt, first=month_start, last=flt.first - timedelta(days=1)))).scalar() or 0)
    days = flt.days()
    series = kinerja.backlog_series(days, deltas, before + sum(deltas.values()), 0)
    return {day.isoformat(): n for day, n in zip(days, series)}


def sla_by_agency_week(engine, city: str, flt: Filters) -> dict[str, dict[str, tuple[int, int]]]:
    """agency -> {week's Monday (ISO) -> (resolved, on time)}."""
    d = _per_day_table(flt)
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
    out: dict = {m: defaultdict(dict) for m in kinerja.MEASURES}
    for (measure, agency, index), (n,) in _summed(engine, rollups.durations, city, flt, ["measure", "agency", "bin"],
                                                  ["reports"], kecamatan=False).items():
        out[measure][agency or ""][int(index)] = int(n)
    return {m: dict(v) for m, v in out.items()}


def hour_of_week(engine, city: str, flt: Filters, tz_name: str) -> list[list[int]]:
    """7 × 24 matrix (Monday first) of reports received by local weekday and hour."""
    grid = [[0] * 24 for _ in range(7)]
    if flt.kecamatan:
        zone = ZoneInfo(tz_name)
        r = db.reports.c
        if engine.dialect.name == "postgresql":
            # counted in SQL by local weekday and hour (the zone's own rules): 168 rows at most
            local = func.timezone(tz_name, r.created_at)
            weekday, hour = func.extract("isodow", local), func.extract("hour", local)
            with engine.connect() as conn:
                for row in conn.execute(select(weekday.label("d"), hour.label("h"), func.count().label("n"))
                                        .where(*_report_terms(city, flt, tz_name)).group_by(weekday, hour)):
                    grid[int(row.d) - 1][int(row.h)] += int(row.n)
            return grid
        if _whole_hour_zone(zone, flt):
            # counted per UTC hour in SQL (at most 24 rows a day), each hour then placed in the city's
            # zone: no row per report, however many the kecamatan has
            bucket = func.substr(r.created_at, 1, 13)     # stored as UTC text, 'YYYY-MM-DD HH:...'
            with engine.connect() as conn:
                for row in conn.execute(select(bucket.label("hour"), func.count().label("n"))
                                        .where(*_report_terms(city, flt, tz_name)).group_by(bucket)):
                    text = row.hour
                    local = datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                                     tzinfo=timezone.utc).astimezone(zone)
                    grid[local.weekday()][local.hour] += int(row.n)
            return grid
        with engine.connect() as conn:
            for (created,) in conn.execute(select(r.created_at).where(*_report_terms(city, flt, tz_name))):
                local = rollups._aware(created).astimezone(zone)
                grid[local.weekday()][local.hour] += 1
        return grid
    h, hm = rollups.hourly.c, rollups.hourly_monthly.c
    edges, months = _spans(flt.first, flt.last)
    with engine.connect() as conn:
        for low, high in edges:
            for row in conn.execute(select(h.day, h.hour, func.sum(h.received).label("n"))
                                    .where(*_dims(h, city, flt, False), h.day >= low.isoformat(),
                                           h.day <= high.isoformat()).group_by(h.day, h.hour)):
                grid[date.fromisoformat(row.day).weekday()][int(row.hour)] += int(row.n)
        if months:
            for row in conn.execute(select(hm.weekday, hm.hour, func.sum(hm.received).label("n"))
                                    .where(*_dims(hm, city, flt, False), hm.month >= months[0],
                                           hm.month <= months[-1]).group_by(hm.weekday, hm.hour)):
                grid[int(row.weekday)][int(row.hour)] += int(row.n)
    return grid


def _whole_hour_zone(zone: ZoneInfo, flt: Filters) -> bool:
    """The zone is a whole number of hours from UTC over the filter's days (every city preset is:
    WIB, WITA, WIT, Pacific time), so a UTC hour is one local hour."""
    for day in (flt.first, flt.last, flt.first + (flt.last - flt.first) / 2):
        offset = datetime.combine(day, datetime.min.time(), zone).utcoffset()
        if offset is None or offset.total_seconds() % 3600:
            return False
    return True


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
    for (code, category), (n,) in _summed(engine, rollups.daily, city, flt, ["kecamatan_code", "category"],
                                          ["received"]).items():
        if n:
            out[code or ""]["sensitive" if category in sensitive else "ordinary"] += int(n)
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
    names = [*kinerja.DAILY_COUNTS, "rating_sum"]
    summed = _summed(engine, rollups.daily, city, flt, ["agency"], names,
                     day_table=None if flt.kecamatan else rollups.daily_city)
    return {agency or "": dict(zip(names, values)) for (agency,), values in summed.items()}


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
    names = ["started", "resolved", "on_time", "resolve_hours"]
    rows = [SimpleNamespace(agency=agency, actor=actor, started=v[0], resolved=v[1], on_time=v[2], hours=v[3])
            for (agency, actor), v in _summed(engine, rollups.officers, city, flt, ["agency", "actor"], names,
                                              kecamatan=False).items()]
    out = [{"agency": row.agency, "actor": row.actor, "started": int(row.started or 0),
            "resolved": int(row.resolved or 0), "sla_share": kinerja.share(int(row.on_time or 0), int(row.resolved or 0)),
            "mean_resolve_h": (float(row.hours) / int(row.resolved)) if row.resolved else None} for row in rows]
    return sorted(out, key=lambda r: (-r["resolved"], r["actor"]))


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



def honesty(engine, city: str, flt: Filters) -> dict[str, list[dict] | dict]:
    """The honesty signals summed from ``kinerja_honesty``: {"agencies": {agency -> counts},
    "officers": [counts with agency and actor, most resolutions first]}. The category and kecamatan
    filters do not apply (the rollup keeps resolutions per agency and officer only)."""
    rows = [SimpleNamespace(agency=agency, actor=actor, **dict(zip(rollups.HONESTY_COUNTS, v)))
            for (agency, actor), v in _summed(engine, rollups.honesty, city, flt, ["agency", "actor"],
                                              list(rollups.HONESTY_COUNTS), kecamatan=False).items()]
    agencies: dict[str, Counter] = defaultdict(Counter)
    officers = []
    for row in rows:
        counts = {name: int(getattr(row, name) or 0) for name in rollups.HONESTY_COUNTS}
        agencies[row.agency or ""].update(counts)
        officers.append({"agency": row.agency or "", "actor": row.actor, **counts})
    officers.sort(key=lambda r: (-r["resolved"], r["actor"]))
    return {"agencies": {k: {name: v.get(name, 0) for name in rollups.HONESTY_COUNTS} for k, v in agencies.items()},
            "officers": officers}
