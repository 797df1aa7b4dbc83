"""The weekly performance report: one PDF (reportlab, charts drawn by its own graphics) and one XLSX
(openpyxl) for the city and for each agency, kept under ``PANTAU_DATA_DIR/reports/weekly/<city>/<week>/``
(one folder per city: the cities of one install, PANTAU_CITIES, share the data folder).

Built on demand (``python -m app.kinerja weekly --week 2026-W48``) and every Monday at 07.00 in
the city's zone by ``python -m app.kinerja schedule`` (started by ``python -m app run``), for the
week that just ended; then mailed to the subscribed heads (``app.kinerja.mail``).
"""
from __future__ import annotations

import os
import re
import secrets
import socket
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app import kinerja
from app.i18n import t
from app.kinerja import data, formats
from app.store import rollups
from config.catalogue import category as category_of

FOLDER = ("reports", "weekly")
MIN_RESOLVED = 5
_NAME = re.compile(r"^pantau-(\d{4}-W\d{2})-([A-Za-z0-9_]+)\.(pdf|xlsx)$")
KPIS = ("received", "resolved", "sla_share", "median_first_action_h", "median_resolve_h", "reopened_share",
        "rating", "disputes", "open_end")


# A build claimed this long ago and not finished belongs to a builder that died: taken over.
STALE_S = 1800.0


def claim(engine, city: str, week: str, force: bool = False, now: datetime | None = None,
          _again: bool = True) -> str | None:
    """Become the one builder of a city's week (``kinerja_weekly_builds``: one row per city and
    week); answers the owner token to pass to ``finished``/``release``, or None when another
    process has the week: being built (claimed within ``STALE_S``), or built already (unless
    ``force``, the on-demand rebuild). Two processes claiming at once: the row's key lets one in."""
    now = now or datetime.now(timezone.utc)
    owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
    b = rollups.weekly_builds
    try:
        with engine.begin() as conn:
            conn.execute(b.insert().values(city=city, week=week, owner=owner, claimed_at=now))
        return owner
    except IntegrityError:
        pass
    with engine.connect() as conn:
        row = conn.execute(select(b.c.owner, b.c.claimed_at, b.c.finished_at)
                           .where(b.c.city == city, b.c.week == week)).first()
    if row is None:                     # released meanwhile: try once more
        return claim(engine, city, week, force=force, now=now, _again=False) if _again else None
    claimed_at = rollups._aware(row.claimed_at)
    if row.finished_at is None and (now - claimed_at).total_seconds() < STALE_S:
        return None                     # someone is building it now
    if row.finished_at is not None and not force:
        return None                     # built already
    with engine.begin() as conn:        # take it over, only if nobody else did meanwhile
        moved = conn.execute(update(b).where(b.c.city == city, b.c.week == week, b.c.owner == row.owner)
                             .values(owner=owner, claimed_at=now, finished_at=None, files=None)).rowcount
    return owner if moved == 1 else None


def finished(engine, city: str, week: str, owner: str, files: int) -> None:
    b = rollups.weekly_builds
    with engine.begin() as conn:
        conn.execute(update(b).where(b.c.city == city, b.c.week == week, b.c.owner == owner)
                     .values(finished_at=datetime.now(timezone.utc), files=files))


def release(engine, city: str, week: str, owner: str) -> None:
    """A build that failed: the week is free again (the scheduler tries next minute)."""
    b = rollups.weekly_builds
    with engine.begin() as conn:
        conn.execute(delete(b).where(b.c.city == city, b.c.week == week, b.c.owner == owner,
                                     b.c.finished_at.is_(None)))


def folder(settings, week: str | None = None) -> Path:
    """The city's folder of weekly reports (``settings``: its data folder and city)."""
    base = Path(settings.data_dir).joinpath(*FOLDER, settings.city)
    return base / week if week else base


def list_reports(settings) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """[(week, [(scope, ext, file name)])], newest week first; scope is 'city' or an agency code."""
    base = folder(settings)
    if not base.is_dir():
        return []
    out = []
    for week_dir in sorted(base.iterdir(), reverse=True):
        files = []
        for path in sorted(week_dir.iterdir()) if week_dir.is_dir() else []:
            match = _NAME.match(path.name)
            if match and match.group(1) == week_dir.name:
                files.append((match.group(2), match.group(3), path.name))
        if files:
            files.sort(key=lambda f: (f[0] != "city", f[0], f[1]))
            out.append((week_dir.name, files))
    return out


def report_path(settings, week: str, name: str) -> Path | None:
    """The file a download asks for, only when it is one of ours (no path tricks)."""
    match = _NAME.match(name or "")
    if not match or match.group(1) != week:
        return None
    path = folder(settings, week) / name
    return path if path.is_file() else None


def last_full_week(today: date) -> date:
    """The Monday of the week before ``today``'s week."""
    return kinerja.week_start(today) - timedelta(days=7)


def figures(services, monday: date, agency: str | None, now: datetime | None = None) -> dict:
    """Everything one report shows, as plain values."""
    now = now or datetime.now(timezone.utc)
    engine, city = services.engine, services.preset.slug
    week = kinerja.Filters(first=monday, last=monday + timedelta(days=6), period="week", agency=agency)
    previous = week.previous()

    def kpis(flt):
        perf = data.city_performance(engine, city, flt) if agency is None else \
            data.agency_performance(engine, city, flt).get(agency) or kinerja.agency_figures({}, {}, {})
        today = datetime.now(ZoneInfo(services.preset.timezone)).date()
        perf["open_end"] = data.backlog(engine, city, flt, today)[flt.last.isoformat()]
        return perf

    per_day: dict[str, int] = {}
    for days in data.per_day_by_category(engine, city, week).values():
        for day, n in days.items():
            per_day[day] = per_day.get(day, 0) + n
    sla = data.sla_by_agency_week(engine, city, week)
    by_agency = data.agency_performance(engine, city, week)
    return {
        "week": kinerja.iso_week(monday), "first": week.first, "last": week.last, "agency": agency,
        "this": kpis(week), "previous": kpis(previous),
        "per_day": [(d, per_day.get(d.isoformat(), 0)) for d in week.days()],
        "sla": {code: (sum(v[0] for v in weeks.values()), sum(v[1] for v in weeks.values()))
                for code, weeks in sla.items()},
        "overdue": data.most_overdue(engine, city, week, now=now),
        "ranking": kinerja.rank_agencies(by_agency, MIN_RESOLVED),
        "honesty": data.honesty(engine, city, week),
        "generated": now,
    }


def _kpi_text(name: str, value, lang: str) -> str:
    if name in ("sla_share", "reopened_share"):
        return formats.percent(value, lang)
    if name in ("median_first_action_h", "median_resolve_h"):
        return formats.hours(value, lang)
    if name == "rating":
        return "—" if value is None else formats.number(value, lang, 2)
    return formats.number(value, lang)


def _change(name: str, now, before, lang: str) -> str:
    if now is None or before is None:
        return "—"
    delta = now - before
    if name in ("sla_share", "reopened_share"):
        return ("+" if delta >= 0 else "") + formats.number(100 * delta, lang, 1) + " pp"
    if name.startswith("median"):
        return ("+" if delta >= 0 else "-") + formats.hours(abs(delta), lang)
    digits = 1 if name == "rating" else 0
    return ("+" if delta >= 0 else "") + formats.number(delta, lang, digits)


KPI_KEYS = {"received": "kinerja.col.received", "resolved": "kinerja.col.resolved", "sla_share": "kinerja.col.sla",
            "median_first_action_h": "kinerja.col.first_action", "median_resolve_h": "kinerja.col.resolve",
            "reopened_share": "kinerja.col.reopened", "rating": "kinerja.col.rating",
            "disputes": "kinerja.col.disputes", "open_end": "kinerja.open"}


def kpi_rows(fig: dict, lang: str) -> list[list[str]]:
    return [[t(KPI_KEYS[k], lang), _kpi_text(k, fig["this"][k], lang), _kpi_text(k, fig["previous"][k], lang),
             _change(k, fig["this"][k], fig["previous"][k], lang)] for k in KPIS]


def overdue_rows(fig: dict, lang: str, preset) -> list[list[str]]:
    return [[row["ticket"], category_of(row["category"]).name(lang) if _known(row["category"]) else row["category"],
             row["agency"] or "—", t(f"kinerja.status.{row['status']}", lang), row["kelurahan_name"] or "—",
             formats.moment(row["created_at"], preset, lang), formats.moment(row["sla_due_at"], preset, lang)]
            for row in fig["overdue"]]


def _known(code: str) -> bool:
    try:
        category_of(code)
        return True
    except (KeyError, ValueError):
        return False


def ranking_rows(fig: dict, lang: str) -> list[list[str]]:
    return [[formats.number(r["rank"], lang) if r["rank"] else t("kinerja.not_ranked", lang), r["code"] or "—",
             formats.number(r["resolved"], lang), formats.percent(r["sla_share"], lang),
             formats.hours(r["median_resolve_h"], lang)] for r in fig["ranking"]]


HONESTY_COLS = ("resolved", "verified", "flagged", "flag_location", "flag_photo", "self_filed", "fast_disputed")


def honesty_head(lang: str) -> list[str]:
    return [t("kinerja.col.officer", lang)] + [t(f"kinerja.honesty.{c}", lang) for c in HONESTY_COLS]


def honesty_rows(fig: dict, lang: str | None = None) -> list[list]:
    """Per agency (its code), then per officer: the flagged resolutions against the verified ones;
    numbers as numbers (the PDF formats them)."""
    rows = [[code or "—"] + [c[col] for col in HONESTY_COLS]
            for code, c in sorted(fig["honesty"]["agencies"].items())]
    rows += [[f"{o['actor'].split(':', 1)[-1]} ({o['agency'] or '—'})"] + [o[col] for col in HONESTY_COLS]
             for o in fig["honesty"]["officers"][:25]]
    return rows


def titles(fig: dict, lang: str, preset) -> tuple[str, str, str]:
    scope = t("weekly.scope_city", lang, city=preset.name) if fig["agency"] is None else \
        t("weekly.scope_agency", lang, agency=fig["agency"])
    period = f"{formats.long_day(fig['first'], lang)} – {formats.long_day(fig['last'], lang)} ({preset.tz_label})"
    return t("weekly.title", lang, week=fig["week"]), scope, period


def write_pdf(path: Path, fig: dict, lang: str, preset) -> None:
    from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    title, scope, period = titles(fig, lang, preset)
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                       ("FONTSIZE", (0, 0), (-1, -1), 8)])

    def table(head, rows, widths=None):
        out = Table([head] + rows, colWidths=widths, repeatRows=1)
        out.setStyle(grid)
        return out

    per_day = Drawing(16 * cm, 5.5 * cm)
    bars = VerticalBarChart()
    bars.x, bars.y, bars.width, bars.height = 40, 25, 15 * cm - 40, 4.5 * cm - 10
    bars.data = [[n for _, n in fig["per_day"]]]
    bars.categoryAxis.categoryNames = [formats.day(d, lang, "EEE d") for d, _ in fig["per_day"]]
    bars.valueAxis.valueMin = 0
    bars.bars[0].fillColor = colors.HexColor("#2a6f97")
    per_day.add(bars)
    sla_codes = sorted(fig["sla"])
    sla = Drawing(16 * cm, max(3, len(sla_codes)) * 0.6 * cm + 1.5 * cm)
    hbars = HorizontalBarChart()
    hbars.x, hbars.y = 60, 20
    hbars.width, hbars.height = 15 * cm - 60, max(3, len(sla_codes)) * 0.6 * cm
    hbars.data = [[round(100.0 * fig["sla"][c][1] / fig["sla"][c][0], 1) if fig["sla"][c][0] else 0
                   for c in sla_codes] or [0]]
    hbars.categoryAxis.categoryNames = [c or "—" for c in sla_codes] or ["—"]
    hbars.valueAxis.valueMin, hbars.valueAxis.valueMax = 0, 100
    hbars.bars[0].fillColor = colors.HexColor("#468faf")
    sla.add(hbars)
    story = [Paragraph(title, styles["Title"]), Paragraph(scope, styles["Heading2"]), Paragraph(period, styles["Normal"]),
             Paragraph(t("weekly.generated", lang, time=formats.moment(fig["generated"], preset, lang)), styles["Normal"]),
             Spacer(1, 0.4 * cm),
             table([t("weekly.kpi", lang), t("weekly.this_week", lang), t("weekly.last_week", lang),
                    t("weekly.change", lang)], kpi_rows(fig, lang)),
             Spacer(1, 0.4 * cm), Paragraph(t("weekly.per_day", lang), styles["Heading3"]), per_day,
             Paragraph(t("weekly.sla_chart", lang), styles["Heading3"]), sla,
             Paragraph(t("kinerja.method.sla", lang), styles["Italic"]),
             PageBreak(), Paragraph(t("weekly.overdue", lang), styles["Heading3"]),
             table([t("weekly.ticket", lang), t("kinerja.category", lang), t("kinerja.agency", lang),
                    t("weekly.status", lang), t("kinerja.kelurahan", lang), t("weekly.created", lang),
                    t("weekly.due", lang)], overdue_rows(fig, lang, preset)),
             Spacer(1, 0.4 * cm), Paragraph(t("weekly.flagged", lang), styles["Heading3"]),
             table(honesty_head(lang), [[r[0]] + [formats.number(v, lang) for v in r[1:]]
                                        for r in honesty_rows(fig)] or [["—"] * (len(HONESTY_COLS) + 1)]),
             Paragraph(t("kinerja.method.honesty", lang, hours=kinerja.FAST_HOURS), styles["Italic"]),
             Paragraph(t("weekly.ranking", lang), styles["Heading3"]),
             table([t("kinerja.col.rank", lang), t("kinerja.agency", lang), t("kinerja.col.resolved", lang),
                    t("kinerja.col.sla", lang), t("kinerja.col.resolve", lang)], ranking_rows(fig, lang)),
             Paragraph(t("weekly.ranking_method", lang, n=MIN_RESOLVED), styles["Italic"]),
             Paragraph(t("kinerja.method.agencies", lang), styles["Italic"])]
    SimpleDocTemplate(str(path), pagesize=A4, title=title, author="Pantau", leftMargin=1.5 * cm,
                      rightMargin=1.5 * cm, topMargin=1.5 * cm, bottomMargin=1.5 * cm).build(story)


def write_xlsx(path: Path, fig: dict, lang: str, preset) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    title, scope, period = titles(fig, lang, preset)
    book = Workbook()
    sheet = book.active
    sheet.title = "KPI"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([scope])
    sheet.append([period])
    sheet.append([t("weekly.generated", lang, time=formats.moment(fig["generated"], preset, lang))])
    sheet.append([])
    sheet.append([t("weekly.kpi", lang), t("weekly.this_week", lang), t("weekly.last_week", lang)])
    for key in KPIS:   # numbers as numbers, so a head can compute with them
        sheet.append([t(KPI_KEYS[key], lang), fig["this"][key], fig["previous"][key]])
    days = book.create_sheet(t("weekly.per_day", lang)[:31])
    days.append([t("kinerja.day", lang), t("kinerja.reports", lang)])
    for day, n in fig["per_day"]:
        days.append([formats.day(day, lang, "EEE d MMM y"), n])
    chart = BarChart()
    chart.title = t("weekly.per_day", lang)
    chart.add_data(Reference(days, min_col=2, min_row=1, max_row=len(fig["per_day"]) + 1), titles_from_data=True)
    chart.set_categories(Reference(days, min_col=1, min_row=2, max_row=len(fig["per_day"]) + 1))
    days.add_chart(chart, "D2")
    overdue = book.create_sheet(t("weekly.overdue", lang)[:31])
    overdue.append([t("weekly.ticket", lang), t("kinerja.category", lang), t("kinerja.agency", lang),
                    t("weekly.status", lang), t("kinerja.kelurahan", lang), t("weekly.created", lang),
                    t("weekly.due", lang)])
    for row in overdue_rows(fig, lang, preset):
        overdue.append(row)
    ranking = book.create_sheet(t("weekly.ranking", lang)[:31])
    ranking.append([t("kinerja.col.rank", lang), t("kinerja.agency", lang), t("kinerja.col.resolved", lang),
                    t("kinerja.col.sla", lang), t("kinerja.col.resolve", lang)])
    for r in fig["ranking"]:
        ranking.append([r["rank"], r["code"], r["resolved"], r["sla_share"], r["median_resolve_h"]])
    ranking.append([])
    ranking.append([t("weekly.ranking_method", lang, n=MIN_RESOLVED)])
    flagged = book.create_sheet(t("weekly.flagged", lang)[:31])
    flagged.append(honesty_head(lang))
    for row in honesty_rows(fig):
        flagged.append(row)
    flagged.append([])
    flagged.append([t("kinerja.method.honesty", lang, hours=kinerja.FAST_HOURS)])
    book.save(path)


def build(services, monday: date, lang: str | None = None, now: datetime | None = None) -> list[Path]:
    """Write the week's PDF and XLSX for the city and every agency; answers the files written."""
    lang = lang or services.settings.language
    preset = services.preset
    rollups.refresh_dirty(services.engine, preset.slug, preset.timezone)
    week = kinerja.iso_week(monday)
    out_dir = folder(services.settings, week)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for agency in [None] + [a.code for a in preset.agencies]:
        fig = figures(services, monday, agency, now=now)
        stem = f"pantau-{week}-{agency or 'city'}"
        for ext, writer in (("pdf", write_pdf), ("xlsx", write_xlsx)):
            final = out_dir / f"{stem}.{ext}"
            partial = out_dir / f".{stem}.{ext}.partial"
            writer(partial, fig, lang, preset)
            partial.replace(final)   # a download never sees half a file
            written.append(final)
    return written
