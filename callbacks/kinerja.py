"""/kinerja's reactions: the filters give the seven figures, their methods and drill-down links,
and the tables, all from the rollups (``app.kinerja.data``)."""
from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, html
from plotly.colors import qualitative

from app import kinerja
from app.auth import permissions
from app.i18n import t
from app.kinerja import data, formats, weekly
from app.privacy import is_sensitive
from app.workflow import OPEN_STATUSES
from config.catalogue import CATEGORIES
from layouts import kinerja as ids
from layouts.staff_common import current_staff
from app.web_paths import url

CARD = "#303030"


def _luminance(colour: str) -> float:
    """Relative luminance (WCAG) of ``#rrggbb`` or ``rgb(r, g, b)``."""
    if colour.startswith("#"):
        parts = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        parts = [int(x) for x in re.findall(r"\d+", colour)[:3]]
    linear = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in parts]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# Series colours that stand out from the card (3:1 at least, WCAG's figure for graphics): the
# colour-blind-safe set first, then vivid and pastel ones; none repeats before 16 categories.
PALETTE = list(dict.fromkeys(c for c in qualitative.Safe + qualitative.Vivid + qualitative.Pastel
                             if _contrast(c, CARD) >= 3.0))
TEXT = "#f0f0f0"
GRID = "#444"
# What each chart's drill-down adds to the filter, as the dispatch console's URL parameters.
DRILL_EXTRA = {"backlog": {"status": ",".join(OPEN_STATUSES)}, "sla": {"sla": "breached"},
               "first_action": {"status": "dispatched"}, "resolve": {"status": "dispatched,in_progress"}}


# Many series (16 categories, 13 agencies): the legend in a column on the right, so the plot keeps
# the card's height and its axis title stays whole.
SIDE_LEGEND = {"legend": {"orientation": "v", "x": 1.01, "y": 1, "yanchor": "top", "font": {"size": 10},
                          "tracegroupgap": 0},
               "margin": {"l": 55, "r": 10, "t": 10, "b": 40}}


def _layout(fig: go.Figure, lang: str, **extra) -> go.Figure:
    extra.setdefault("margin", {"l": 50, "r": 10, "t": 30, "b": 40})
    fig.update_layout(template="plotly_dark", paper_bgcolor=CARD, plot_bgcolor=CARD,
                      font={"color": TEXT, "size": 12},
                      separators=formats.PLOTLY_SEPARATORS[lang],
                      legend=extra.pop("legend", {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0}),
                      **extra)
    fig.update_xaxes(gridcolor=GRID)
    fig.update_yaxes(gridcolor=GRID)
    return fig


def _names(services, lang):
    agencies = {a.code: a.code for a in services.preset.agencies}
    agencies[""] = t("kinerja.no_agency", lang)
    cats = {c.code: c.name(lang) for c in CATEGORIES}
    return agencies, cats


def fig_daily(per_category: dict, days: list[date], lang: str, cats: dict) -> go.Figure:
    labels = [formats.day(d, lang) for d in days]
    fig = go.Figure()
    order = sorted(per_category, key=lambda c: -sum(per_category[c].values()))
    for i, code in enumerate(order):
        fig.add_bar(name=cats.get(code, code), x=labels, y=[per_category[code].get(d.isoformat(), 0) for d in days],
                    marker_color=PALETTE[i % len(PALETTE)], meta=code)
    return _layout(fig, lang, barmode="stack", yaxis_title=t("kinerja.reports", lang), **SIDE_LEGEND)


def fig_backlog(series: dict, days: list[date], lang: str) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[formats.day(d, lang) for d in days], y=[series[d.isoformat()] for d in days],
                               mode="lines+markers", name=t("kinerja.open", lang), line={"color": "#f0ad4e"}))
    return _layout(fig, lang, yaxis_title=t("kinerja.open", lang), showlegend=False)


def fig_sla(per_agency: dict, lang: str, agencies: dict) -> go.Figure:
    fig = go.Figure()
    weeks = sorted({w for per in per_agency.values() for w in per})
    for i, code in enumerate(sorted(per_agency)):
        per = per_agency[code]
        fig.add_scatter(name=agencies.get(code, code), x=[formats.day(date.fromisoformat(w), lang) for w in weeks],
                        y=[round(100.0 * per[w][1] / per[w][0], 1) if w in per else None for w in weeks],
                        customdata=[per.get(w, (0, 0))[0] for w in weeks], mode="lines+markers", meta=code,
                        marker_color=PALETTE[i % len(PALETTE)],
                        hovertemplate="%{y:.1f}% (%{customdata})<extra>" + agencies.get(code, code) + "</extra>")
    return _layout(fig, lang, yaxis={"title": t("kinerja.sla_pct", lang), "range": [0, 105]},
                   xaxis_title=t("kinerja.week", lang), **SIDE_LEGEND)


def fig_durations(per_agency: dict, lang: str, agencies: dict) -> go.Figure:
    labels = []
    for index in range(kinerja.HOUR_BINS):
        low, high = kinerja.bin_bounds(index)
        labels.append(f"{formats.number(low, lang)}–{formats.number(high, lang)}" if high else
                      f"> {formats.number(low, lang)}")
    fig = go.Figure()
    for i, code in enumerate(sorted(per_agency)):
        bins = per_agency[code]
        fig.add_bar(name=agencies.get(code, code), x=labels, y=[bins.get(b, 0) for b in range(kinerja.HOUR_BINS)],
                    marker_color=PALETTE[i % len(PALETTE)], meta=code)
    return _layout(fig, lang, barmode="group", xaxis_title=t("kinerja.hours", lang),
                   yaxis_title=t("kinerja.reports", lang), **SIDE_LEGEND)


def fig_heatmap(grid: list[list[int]], lang: str) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=grid, x=[f"{h:02d}" for h in range(24)], y=t("kinerja.weekdays", lang).split(","),
                               colorscale="Viridis", hovertemplate="%{y} %{x}: %{z}<extra></extra>"))
    return _layout(fig, lang, xaxis_title=t("kinerja.hour", lang), yaxis={"autorange": "reversed"})


def fig_areas(rows: dict, names: dict, k: int, lang: str) -> tuple[go.Figure, int]:
    """Ranked bar; sensitive counts from 1 to k-1 are left out (answers how many areas were)."""
    shown, hidden = [], 0
    for code, parts in rows.items():
        sensitive = kinerja.suppress(parts.get("sensitive", 0), k)
        hidden += sensitive is None
        shown.append((names.get(code) or t("kinerja.unknown_area", lang), parts.get("ordinary", 0), sensitive or 0))
    shown.sort(key=lambda r: r[1] + r[2])
    shown = shown[-25:]
    fig = go.Figure()
    fig.add_bar(name=t("kinerja.ordinary", lang), y=[r[0] for r in shown], x=[r[1] for r in shown],
                orientation="h", marker_color="#5bc0de")
    fig.add_bar(name=t("kinerja.sensitive", lang), y=[r[0] for r in shown], x=[r[2] for r in shown],
                orientation="h", marker_color="#e377c2")
    return _layout(fig, lang, barmode="stack", xaxis_title=t("kinerja.reports", lang),
                   margin={"l": 150, "r": 10, "t": 30, "b": 40}), hidden


def drill_href(flt: kinerja.Filters, chart: str, lang: str) -> str:
    params = {**flt.dispatch_params(), **DRILL_EXTRA.get(chart, {}), "lang": lang}
    if chart == "backlog":       # the backlog holds reports filed before the period too
        params.pop("from")
    return url("/dispatch?") + urlencode(params)


def agency_table(perf: dict, lang: str, agencies_full: dict) -> html.Div:
    if not perf:
        return html.P(t("kinerja.no_data", lang), className="small")
    ranked = kinerja.rank_agencies(perf)
    cols = ["rank", "agency", "received", "assigned", "resolved", "first_action", "resolve", "sla", "reopened",
            "rating", "disputes"]
    head = html.Thead(html.Tr([html.Th(t(f"kinerja.col.{c}", lang) if c != "agency" else t("kinerja.agency", lang),
                                       scope="col") for c in cols]))
    body = []
    for row in ranked:
        body.append(html.Tr([
            html.Td(formats.number(row["rank"], lang) if row["rank"] else t("kinerja.not_ranked", lang)),
            html.Th(agencies_full.get(row["code"], row["code"]), scope="row"),
            html.Td(formats.number(row["received"], lang)), html.Td(formats.number(row["assigned"], lang)),
            html.Td(formats.number(row["resolved"], lang)), html.Td(formats.hours(row["median_first_action_h"], lang)),
            html.Td(formats.hours(row["median_resolve_h"], lang)), html.Td(formats.percent(row["sla_share"], lang)),
            html.Td(formats.percent(row["reopened_share"], lang)),
            html.Td(formats.number(row["rating"], lang, 2) if row["rating"] is not None else "—"),
            html.Td(formats.number(row["disputes"], lang)),
        ], **{"data-agency": row["code"]}))
    return dbc.Table([head, html.Tbody(body)], size="sm", className="kinerja-table", responsive=True)


def officer_table(rows: list[dict], lang: str) -> html.Div:
    if not rows:
        return html.P(t("kinerja.no_data", lang), className="small")
    cols = ["officer", "agency", "started", "resolved", "sla", "mean_resolve"]
    head = html.Thead(html.Tr([html.Th(t(f"kinerja.col.{c}", lang) if c != "agency" else t("kinerja.agency", lang),
                                       scope="col") for c in cols]))
    body = [html.Tr([html.Th(r["actor"].split(":", 1)[-1], scope="row"), html.Td(r["agency"] or "—"),
                     html.Td(formats.number(r["started"], lang)), html.Td(formats.number(r["resolved"], lang)),
                     html.Td(formats.percent(r["sla_share"], lang)), html.Td(formats.hours(r["mean_resolve_h"], lang))])
            for r in rows[:30]]
    return dbc.Table([head, html.Tbody(body)], size="sm", className="kinerja-table", responsive=True)


HONESTY_COLS = ("resolved", "verified", "flagged", "flag_location", "flag_photo", "no_proof", "self_filed",
                "fast_disputed")


def _honesty_cells(counts: dict, lang: str) -> list:
    resolved = counts["resolved"]
    values = {**counts, "no_proof": resolved - counts["verified"] - counts["flagged"]}
    cells = []
    for col in HONESTY_COLS:
        n = values[col]
        text = formats.number(n, lang)
        if col in ("verified", "flagged", "no_proof") and resolved:
            text += f" ({formats.percent(n / resolved, lang)})"
        cells.append(html.Td(text, **{"data-col": col, "data-n": str(n)}))
    return cells


def honesty_table(signals: dict, lang: str, agencies_full: dict) -> html.Div:
    """Per agency, then per officer: the resolutions with verified presence and original photos
    against the flagged ones, reports filed and resolved by the same staff, closed fast and disputed."""
    if not signals["agencies"]:
        return html.P(t("kinerja.no_data", lang), className="small")

    def head(first):
        return html.Thead(html.Tr([html.Th(first, scope="col")]
                                  + [html.Th(t(f"kinerja.honesty.{c}", lang), scope="col") for c in HONESTY_COLS]))
    agency_rows = [html.Tr([html.Th(agencies_full.get(code, code), scope="row")] + _honesty_cells(c, lang),
                           **{"data-agency": code})
                   for code, c in sorted(signals["agencies"].items(), key=lambda kv: (-kv[1]["resolved"], kv[0]))]
    officer_rows = [html.Tr([html.Th(f"{r['actor'].split(':', 1)[-1]} ({r['agency'] or '—'})", scope="row")]
                            + _honesty_cells(r, lang), **{"data-actor": r["actor"], "data-agency": r["agency"]})
                    for r in signals["officers"][:30]]
    return html.Div([
        dbc.Table([head(t("kinerja.agency", lang)), html.Tbody(agency_rows)], size="sm",
                  className="kinerja-table honesty-agencies", responsive=True),
        dbc.Table([head(t("kinerja.col.officer", lang)), html.Tbody(officer_rows)], size="sm",
                  className="kinerja-table honesty-officers", responsive=True),
    ])


def weekly_list(services, lang: str, agency: str | None) -> html.Div:
    listing = weekly.list_reports(services.settings)
    if not listing:
        return html.P(t("kinerja.weekly.none", lang), className="small")
    items = []
    for week, files in listing[:8]:
        links = [html.A(f"{t('kinerja.weekly.city', lang) if scope == 'city' else scope} {ext.upper()}",
                        href=url(f"/kinerja/weekly/{week}/{name}"), className="me-3")
                 for scope, ext, name in files if agency is None or scope == agency]
        items.append(html.Li([html.Strong(week, className="me-2")] + links))
    return html.Ul(items, className="small")


def register(dash_app, services) -> None:
    preset = services.preset
    zone = ZoneInfo(preset.timezone)
    outputs = [Output(ids.RANGE, "children"), Output(ids.MESSAGE, "children"), Output(ids.MESSAGE, "is_open")]
    for chart in ids.CHARTS:
        outputs += [Output(ids.graph_id(chart), "figure"), Output(ids.drill_id(chart), "href"),
                    Output(ids.method_id(chart), "children")]
    outputs += [Output(ids.AGENCY_TABLE, "children"), Output(ids.OFFICER_TABLE, "children"),
                Output(ids.WEEKLY, "children"), Output(ids.HONESTY_TABLE, "children")]

    dash_app.clientside_callback("function (lang) { document.documentElement.lang = lang; return lang; }",
                                 Output(ids.LANG_SET, "data"), Input(ids.LANG, "data"))

    @dash_app.callback(*outputs, Input(ids.PERIOD, "value"), Input(ids.AGENCY, "value"),
                       Input(ids.CATEGORY, "value"), Input(ids.KECAMATAN, "value"), Input(ids.LANG, "data"))
    def show(period, agency, category, kecamatan, lang):
        lang = lang if lang in ("id", "en") else "id"
        today = datetime.now(zone).date()
        user = current_staff()
        chosen = {"period": period, "agency": agency, "category": category, "kecamatan": kecamatan}
        try:
            flt = kinerja.Filters.from_params(
                {k: (None if v == ids.ALL else v) for k, v in chosen.items()}, today,
                agencies={a.code for a in preset.agencies}, categories={c.code for c in CATEGORIES})
        except kinerja.FilterInvalid as err:
            flt = kinerja.Filters.from_params({}, today)
            message = (t("kinerja.bad_filter", lang, field=err.field), True)
        else:
            message = ("", False)
        # an agency-bound account (a kepala OPD) sees its own agency only, whatever the callback body says
        scope = permissions.scope_agency(user.role, user.agency) if user is not None else None
        flt = flt.scoped(scope)
        # heavy reads: the read replica when DATABASE_REPLICA_URL is set (nothing here writes)
        engine, city, k = services.read_engine or services.engine, preset.slug, services.settings.public_k
        agencies, cats = _names(services, lang)
        agencies_full = {a.code: f"{a.code} — {a.name(lang)}" for a in preset.agencies}
        agencies_full[""] = agencies[""]
        days = flt.days()
        bins = data.duration_bins(engine, city, flt)
        sensitive = {c.code for c in CATEGORIES if is_sensitive(c.code)}
        if flt.kecamatan:
            names = {a.code: a.name for a in services.areas.areas()} if services.areas.has_areas else {}
        else:
            names = dict(ids.kecamatan_options(services))
        area_fig, _hidden = fig_areas(data.areas(engine, city, flt, sensitive, preset.timezone), names, k, lang)
        figures = {
            "daily": fig_daily(data.per_day_by_category(engine, city, flt), days, lang, cats),
            "backlog": fig_backlog(data.backlog(engine, city, flt, today), days, lang),
            "sla": fig_sla(data.sla_by_agency_week(engine, city, flt), lang, agencies),
            "first_action": fig_durations(bins["first_action"], lang, agencies),
            "resolve": fig_durations(bins["resolve"], lang, agencies),
            "heatmap": fig_heatmap(data.hour_of_week(engine, city, flt, preset.timezone), lang),
            "areas": area_fig,
        }
        out = [t("kinerja.range", lang, first=formats.long_day(flt.first, lang), last=formats.long_day(flt.last, lang),
                 zone=preset.tz_label), *message]
        for chart in ids.CHARTS:
            method = t(f"kinerja.method.{chart}", lang, k1=k - 1)
            out += [figures[chart], drill_href(flt, chart, lang), method]
        out += [agency_table(data.agency_performance(engine, city, flt), lang, agencies_full),
                officer_table(data.officer_performance(engine, city, flt), lang),
                weekly_list(services, lang, scope),
                honesty_table(data.honesty(engine, city, flt), lang, agencies_full)]
        return out

