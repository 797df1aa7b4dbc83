"""Routes a URL path to its screen's layout; unknown paths get a bilingual 404."""
from __future__ import annotations

from urllib.parse import parse_qs

from dash import Input, Output, State, html

from app import web_paths
from layouts import shell


def paths_of(module) -> tuple[str, ...]:
    return tuple(module.PATHS) if hasattr(module, "PATHS") else (module.PATH,)


def screen_for(screens: dict, pathname: str):
    """The screen module for a path; a prefix match lets /lacak/<ticket> reach /lacak."""
    if pathname in screens:
        return screens[pathname]
    for path, module in screens.items():
        if path != "/" and pathname.startswith(path.rstrip("/") + "/"):
            return module
    return None


def register(dash_app, services, screens: dict) -> None:
    # The hash is an input too: a reporter's link (#k=...) opened in a tab already on the ticket
    # changes only the fragment, and must still show the holder's view.
    @dash_app.callback(Output(shell.PAGE, "children"), Input(shell.LOCATION, "pathname"),
                       State(shell.LOCATION, "search"), Input(shell.LOCATION, "hash"))
    def route(pathname, search, fragment=None):
        params = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
        # The fragment (/lacak/<ticket>#k=<reporter's secret>) reaches the server only here, in the
        # callback's body: never in a request line, so never in an access log.
        params["fragment"] = {k: v[-1] for k, v in parse_qs((fragment or "").lstrip("#")).items()}
        pathname = web_paths.local(pathname or "/")   # /kupang/wall on a several-city install
        screen = screen_for(screens, pathname)
        if screen is None:
            return html.Div([html.H1("404"), html.P("Halaman tidak ditemukan / Page not found")],
                            className="container mt-5")
        params["path"] = pathname
        return screen.layout(services, params)
