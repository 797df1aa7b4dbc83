"""Performance over time (/kinerja): filters, seven charts each answering a head's question with its
method and a drill-down to /dispatch, the per-agency and per-officer tables, the weekly reports."""
from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import kinerja
from app.auth import permissions
from app.auth.web import csrf_token
from app.i18n import t
from config.catalogue import CATEGORIES
from layouts.staff_common import current_staff, not_allowed, signed_in_bar
from app.web_paths import url

PATH = "/kinerja"

PERIOD = "kinerja-period"
AGENCY = "kinerja-agency"
CATEGORY = "kinerja-category"
KECAMATAN = "kinerja-kecamatan"
LANG = "kinerja-lang"
LANG_SET = "kinerja-lang-set"   # the page's <html lang>, set in the browser
RANGE = "kinerja-range"
MESSAGE = "kinerja-message"
AGENCY_TABLE = "kinerja-agency-table"
OFFICER_TABLE = "kinerja-officer-table"
WEEKLY = "kinerja-weekly"
HONESTY_TABLE = "kinerja-honesty-table"
CHARTS = ("daily", "backlog", "sla", "first_action", "resolve", "heatmap", "areas")
ALL = "all"   # the "all" choice of a filter (an empty value would show as no choice)


def graph_id(chart: str) -> str:
    return f"kinerja-chart-{chart.replace('_', '-')}"


def drill_id(chart: str) -> str:
    return f"kinerja-drill-{chart.replace('_', '-')}"


def method_id(chart: str) -> str:
    return f"kinerja-method-{chart.replace('_', '-')}"


def _select(ident: str, label: str, options, value) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=ident, className="mb-0 small"),
                    dbc.Select(id=ident, options=[{"label": text, "value": code} for code, text in options],
                               value=value or ALL, size="sm")], md=3, sm=6)


def kecamatan_options(services) -> list[tuple[str, str]]:
    areas = services.areas.areas() if services.areas.has_areas else []
    return sorted({(a.district_code, a.district_name) for a in areas}, key=lambda p: p[1])


def allowed(user) -> bool:
    return user is not None and permissions.can_open(user.role, PATH)


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang") if params.get("lang") in ("id", "en") else services.settings.language
    user = current_staff()
    if not allowed(user):
        return not_allowed(lang)

    everything = t("kinerja.all", lang)
    scope = permissions.scope_agency(user.role, user.agency)   # a kepala OPD: their own agency only
    drills = permissions.can_open(user.role, "/dispatch")      # the drill-downs open the dispatch console
    period = params.get("period") if params.get("period") in kinerja.PERIODS else kinerja.DEFAULT_PERIOD
    filters = dbc.Row([
        _select(PERIOD, t("kinerja.period", lang), [(p, t(f"kinerja.period.{p}", lang)) for p in kinerja.PERIODS],
                period),
        _select(AGENCY, t("kinerja.agency", lang),
                ([(ALL, everything)] if scope is None else [])
                + [(a.code, f"{a.code} — {a.name(lang)}") for a in services.preset.agencies
                   if scope is None or a.code == scope],
                scope or params.get("agency")),
        _select(CATEGORY, t("kinerja.category", lang),
                [(ALL, everything)] + sorted(((c.code, c.name(lang)) for c in CATEGORIES), key=lambda p: p[1]),
                params.get("category")),
        _select(KECAMATAN, t("kinerja.kecamatan", lang), [(ALL, everything)] + kecamatan_options(services),
                params.get("kecamatan")),
    ], className="g-2 mb-2")
    other = "en" if lang == "id" else "id"
    switch = {k: v for k, v in params.items() if k not in ("path", "lang")}
    cards = [dbc.Col(dbc.Card(dbc.CardBody([
        html.H2(t(f"kinerja.chart.{chart}", lang), className="h6"),
        dcc.Loading(dcc.Graph(id=graph_id(chart), config={"displayModeBar": False, "responsive": True},
                              style={"height": "320px"}), type="dot", color="#8ab4f8"),
        html.P([html.Strong(t("kinerja.method", lang) + ": "), html.Span(id=method_id(chart))],
               className="small mb-1"),
        html.A(t("kinerja.drill", lang), id=drill_id(chart), href=url("/dispatch"), className="small", hidden=not drills),
    ]), className="h-100 kinerja-card"), lg=6, className="mb-3") for chart in CHARTS]
    return html.Div(dbc.Container([
        # the role in words (a kepala OPD reads "kepala OPD · DLH", not the role's code)
        signed_in_bar(SimpleNamespace(username=user.username, role=t(f"dispatch.role.{user.role}", lang),
                                      agency=user.agency), lang, csrf_token()),
        html.Div([html.H1(t("kinerja.title", lang), className="h3 me-3 mb-0"),
                  html.A(t("kinerja.language", lang), href=url(f"{PATH}?{urlencode({**switch, 'lang': other})}"),
                         lang=other, className="small")], className="d-flex align-items-baseline"),
        html.P(id=RANGE, className="small mb-2"),
        filters,
        dbc.Alert(id=MESSAGE, is_open=False, color="danger", className="py-1"),
        dbc.Row(cards),
        html.H2(t("kinerja.table.agencies", lang), className="h5 mt-2"),
        html.Div(id=AGENCY_TABLE),
        html.P([html.Strong(t("kinerja.method", lang) + ": "), t("kinerja.method.agencies", lang)],
               className="small"),
        html.H2(t("kinerja.table.officers", lang), className="h5 mt-3"),
        html.Div(id=OFFICER_TABLE),
        html.P([html.Strong(t("kinerja.method", lang) + ": "), t("kinerja.method.officers", lang)],
               className="small"),
        html.H2(t("kinerja.honesty", lang), className="h5 mt-3"),
        html.Div(id=HONESTY_TABLE),
        html.P([html.Strong(t("kinerja.method", lang) + ": "), t("kinerja.method.honesty", lang, hours=kinerja.FAST_HOURS)],
               className="small"),
        html.H2(t("kinerja.weekly", lang), className="h5 mt-3"),
        html.Div(id=WEEKLY),
        dcc.Store(id=LANG, data=lang), dcc.Store(id=LANG_SET),
    ], fluid=True, className="kinerja pb-4"), lang=lang)
