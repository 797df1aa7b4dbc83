"""Routes a URL path to its screen's layout; unknown paths get a bilingual 404."""
from __future__ import annotations

from urllib.parse import parse_qs

from dash import Input, Output, State, html

from layouts import home, shell

SCREENS = {home.PATH: home}


def add_screen(module) -> None:
    SCREENS[module.PATH] = module


def register(dash_app, services) -> None:
    @dash_app.callback(Output(shell.PAGE, "children"), Input(shell.LOCATION, "pathname"),
                       State(shell.LOCATION, "search"))
    def route(pathname, search):
        params = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
        screen = SCREENS.get(pathname or "/")
        if screen is None:
            return html.Div([html.H1("404"), html.P("Halaman tidak ditemukan / Page not found")],
                            className="container mt-5")
        return screen.layout(services, params)
