"""The agency task list (/tugas): an officer's own agency's reports; start, note, resolve with a photo."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app.auth import permissions
from app.i18n import t
from layouts.staff_common import current_staff, not_allowed, signed_in_bar

PATH = "/tugas"

LIST = "tugas-list"
ROW = "tugas-row"            # pattern-matching: {"type": ROW, "id": report_id}
PICK = "tugas-pick"          # unused checkbox type the shared table renders
SELECTED = "tugas-selected"
DETAIL = "tugas-detail"
NOTE = "tugas-note"
PHOTO = "tugas-photo"
PHOTO_NAME = "tugas-photo-name"
START = "tugas-start"
ADD_NOTE = "tugas-add-note"
RESOLVE = "tugas-resolve"
MESSAGE = "tugas-message"
TICK = "tugas-tick"
OPEN_STATUSES = ("dispatched", "in_progress", "reopened", "verified")


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang", services.settings.language)
    user = current_staff()
    if user is None or not permissions.can_open(user.role, PATH):
        return not_allowed(lang)
    from app.auth.web import csrf_token

    heading = t("staff.tugas", lang) + (f" — {user.agency}" if user.agency else "")
    return dbc.Container([
        signed_in_bar(user, lang, csrf_token()),
        html.H2(heading),
        dbc.Row([
            dbc.Col(html.Div(id=LIST), md=6),
            dbc.Col([
                dbc.Input(id=NOTE, placeholder=t("staff.reason", lang), className="mb-2"),
                dcc.Upload(id=PHOTO, children=html.Div(t("staff.upload", lang)), accept="image/*",
                           style={"border": "1px dashed #888", "padding": "1rem", "textAlign": "center"}),
                html.Div(id=PHOTO_NAME, className="small text-muted"),
                html.Div([dbc.Button(t("staff.start", lang), id=START, size="sm", className="me-2 mt-2"),
                          dbc.Button(t("staff.note", lang), id=ADD_NOTE, size="sm", className="me-2 mt-2"),
                          dbc.Button(t("staff.resolve", lang), id=RESOLVE, size="sm", color="success",
                                     className="mt-2")]),
                dbc.Alert(id=MESSAGE, is_open=False, className="mt-2 py-1"),
                html.Hr(), html.Div(t("staff.select_report", lang), id=DETAIL),
            ], md=6),
        ]),
        dcc.Store(id=SELECTED), dcc.Interval(id=TICK, interval=15_000),
    ], fluid=True)
