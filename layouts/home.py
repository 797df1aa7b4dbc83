"""The start page: the city, its live figures, and links to every screen."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from app import queries
from app.i18n import number, t
from app.web_paths import url

PATH = "/"


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang") if params.get("lang") in ("id", "en") else services.settings.language
    kpi = queries.kpis(services.redis, services.preset, "today")
    tiles = [("received", kpi["received"]), ("open_backlog", kpi["open_backlog"]),
             ("resolved", kpi["resolved"]), ("sla_breaches", kpi["sla_breaches"])]
    return dbc.Container([
        html.H1(f"Pantau — {services.preset.name}", className="mt-4"),
        html.P(t("home.tagline", lang)),
        dbc.Row([dbc.Col(dbc.Card(dbc.CardBody([html.Div(t(f"kpi.{name}", lang), className="text-muted"),
                                                html.H2(number(value, lang), id=f"home-kpi-{name}")])))
                 for name, value in tiles], className="g-3 my-3"),
        html.Ul([html.Li(html.A(t(f"screen.{name}", lang), href=href)) for name, href in
                 (("wall", url("/wall")), ("lapor", url("/lapor")), ("kiosk", url("/kiosk")),
                  ("dispatch", url("/dispatch")), ("tugas", url("/tugas")), ("kinerja", url("/kinerja")),
                  ("open311", url("/open311/v2/discovery.json")), ("healthz", url("/healthz")),
                  ("metrics", url("/metrics")))], id="home-links"),
    ])
