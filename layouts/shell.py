"""The page shell: a URL location and the container the router fills per screen.

A citizen screen's first load comes drawn ahead (``app/web_assets.py`` puts this layout in the
page): the container already holds the screen and the location already knows its path and query,
so no callback must run before the screen is usable (on 3G each round trip is 300 ms or more).
Elsewhere the location is left empty: it reads the browser's address when drawn and the router
fills the container.
"""
from dash import dcc, html

LOCATION = "shell-location"
PAGE = "shell-page"


def layout(page=None, pathname: str | None = None, search: str | None = None):
    """The shell; ``page``: the screen drawn ahead for ``pathname`` and ``search`` (the browser's own,
    ``/kupang/lapor`` and ``?lang=en``), else an empty container for the router."""
    known = {} if pathname is None else {"pathname": pathname, "search": search or "", "hash": ""}
    return html.Div([dcc.Location(id=LOCATION, refresh="callback-nav", **known), html.Div(page, id=PAGE)])
