"""Routes a URL path to its screen's layout; unknown paths get a bilingual 404.

On a citizen screen's first load the page comes drawn ahead (``first_page``, put in the HTML by
``app/web_assets.py``): the router does not run on load (``prevent_initial_call``), only when the
address changes afterwards or a fragment the server could not know is there (a reporter's link,
``#k=...``: the browser gives it to the location, which routes again).
"""
from __future__ import annotations

from urllib.parse import parse_qs

from dash import Input, Output, State, html

from app import web_paths
from layouts import shell

# The fragment (a reporter's secret) never reaches the server but in a callback's body: when the
# location was drawn ahead without it, the browser hands it over (no round trip when there is none).
TAKE_FRAGMENT = """function (href, hash) {
    var now = window.location.hash || "";
    return now && now !== (hash || "") ? now : window.dash_clientside.no_update;
}"""


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


def render(services, screens: dict, pathname: str | None, search: str | None, fragment: str | None):
    """The screen for a browser path, query and fragment."""
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


def register(dash_app, services, screens: dict) -> None:
    # The hash is an input too: a reporter's link (#k=...) opened in a tab already on the ticket
    # changes only the fragment, and must still show the holder's view.
    @dash_app.callback(Output(shell.PAGE, "children"), Input(shell.LOCATION, "pathname"),
                       State(shell.LOCATION, "search"), Input(shell.LOCATION, "hash"), prevent_initial_call=True)
    def route(pathname, search, fragment=None):
        return render(services, screens, pathname, search, fragment)

    dash_app.clientside_callback(TAKE_FRAGMENT, Output(shell.LOCATION, "hash"), Input(shell.LOCATION, "href"),
                                 State(shell.LOCATION, "hash"))

    def first_page(pathname: str, search: str) -> tuple:
        """The shell with the screen of ``pathname`` drawn ahead (no fragment: the server never has
        it), and the callbacks that page needs: the screen's own and the shell's."""
        screen = screen_for(screens, web_paths.local(pathname or "/"))
        layout = shell.layout(render(services, screens, pathname, search, None), pathname, search)
        owners = dash_app.server.extensions["pantau_screen_ids"].by_output
        own = paths_of(screen)[0] if screen is not None else None
        return layout, [item for item in dash_app._callback_list if owners.get(item["output"]) in (None, own)]

    dash_app.first_page = first_page
