"""The page shell: a URL location and the container the router fills per screen."""
from dash import dcc, html

LOCATION = "shell-location"
PAGE = "shell-page"


def layout():
    return html.Div([dcc.Location(id=LOCATION, refresh="callback-nav"), html.Div(id=PAGE)])
