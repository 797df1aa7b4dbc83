"""The start page: the city, its live figures, and links to every screen."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from app import queries
from app.i18n import number, t

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
                 (("wall", "/wall"), ("lapor", "/lapor"), ("kiosk", "/kiosk"), ("dispatch", "/dispatch"),
                  ("tugas", "/tugas"), ("kinerja", "/kinerja"), ("open311", "/open311/v2/discovery.json"),
                  ("healthz", "/healthz"), ("metrics", "/metrics"))], id="home-links"),
    ])
