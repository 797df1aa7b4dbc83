"""The dispatch console (/dispatch): the filterable queue, a detail panel and the supervisor's actions."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import dash_leaflet as dl
from dash import dcc, html

from app.auth import permissions
from app.i18n import t
from app.public import is_sensitive
from app.reports import PRIORITIES
from app.staff import queue
from app.workflow import Status
from config.catalogue import CATEGORIES
from layouts.staff_common import current_staff, not_allowed, signed_in_bar

PATH = "/dispatch"

STATUS = "dispatch-status"
CATEGORY = "dispatch-category"
AGENCY = "dispatch-agency"
KECAMATAN = "dispatch-kecamatan"
KELURAHAN = "dispatch-kelurahan"
CELL = "dispatch-h3"
SLA = "dispatch-sla"
SORT = "dispatch-sort"
PAGE = "dispatch-page"
PREV = "dispatch-prev"
NEXT = "dispatch-next"
PAGE_LABEL = "dispatch-page-label"
QUEUE = "dispatch-queue"
PICK = "dispatch-pick"          # pattern-matching: {"type": PICK, "id": report_id, "v": version}
ROW = "dispatch-row"            # pattern-matching id type: {"type": ROW, "id": report_id}
SELECTED = "dispatch-selected"
DETAIL = "dispatch-detail"
TARGET_AGENCY = "dispatch-target-agency"
TEAM = "dispatch-team"
REASON = "dispatch-reason"
MERGE_INTO = "dispatch-merge-into"
PRIORITY = "dispatch-priority"
PUBLIC_TEXT = "dispatch-public-text"
ACTIONS = ("verify", "reject", "merge", "assign", "set_priority", "bulk_assign", "publish", "unpublish")
# the permission each button needs, where it is not named like the button
PERMISSION_OF = {"set_priority": "priority", "unpublish": "publish"}
MESSAGE = "dispatch-message"
EXPORTS = {fmt: f"dispatch-export-{fmt}" for fmt in ("csv", "xlsx", "geojson")}
TICK = "dispatch-tick"


REPORT_MAP_CLASS = "staff-report-map"
REPORT_MAP_ZOOM = 16


def report_map(services, lat: float, lng: float, category: str) -> dl.Map:
    """The report's place on the app's own Leaflet map: the kecamatan outlines (always, so it reads
    without tiles), tiles only from ``PANTAU_TILE_URL`` (none when it is empty), never for a
    sensitive category (a tile request tells the tile host where to look), and no third-party frame."""
    tiles = services.settings.tile_url
    with_tiles = bool(tiles) and not is_sensitive(category)
    layers = [dl.TileLayer(url=tiles, maxZoom=19, attribution="© OpenStreetMap contributors")] if with_tiles else []
    layers += [dl.GeoJSON(data=services.areas.outlines_geojson("district"), interactive=False,
                          style={"color": "#6b7a90", "weight": 1, "fillOpacity": 0.04}),
               dl.CircleMarker(center=[lat, lng], radius=8, color="#ffb000", fillColor="#ffb000", fillOpacity=0.8,
                               weight=2, interactive=False)]
    # center/zoom both set: dash-leaflet's moveend handler compares against them
    return dl.Map(center=[lat, lng], zoom=REPORT_MAP_ZOOM, children=layers, className=REPORT_MAP_CLASS,
                  style={"width": "100%", "height": "200px", "background": "#1b2330"}, attributionControl=with_tiles)


def button_id(action: str) -> str:
    return f"dispatch-{action.replace('_', '-')}"


def _options(pairs):
    return [{"label": label, "value": value} for value, label in pairs]


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang", services.settings.language)
    user = current_staff()
    if user is None or not permissions.can_open(user.role, PATH):
        return not_allowed(lang)
    from app.auth.web import csrf_token

    areas = services.areas.areas() if services.areas.has_areas else []
    kecamatan = sorted({(a.district_code, a.district_name) for a in areas}, key=lambda p: p[1])
    kelurahan = sorted({(a.code, f"{a.name} ({a.district_name})") for a in areas}, key=lambda p: p[1])
    agencies = [(a.code, f"{a.code} — {a.name(lang)}") for a in services.preset.agencies]
    filters = dbc.Row([
        dbc.Col(dcc.Dropdown(id=STATUS, multi=True, placeholder=t("staff.status", lang),
                             options=_options((s.value, s.value.replace("_", " ")) for s in Status),
                             value=params.get("status", "").split(",") if params.get("status") else []), md=3),
        dbc.Col(dcc.Dropdown(id=CATEGORY, placeholder=t("staff.category", lang),
                             options=_options((c.code, c.name(lang)) for c in CATEGORIES),
                             value=params.get("category")), md=2),
        dbc.Col(dcc.Dropdown(id=AGENCY, placeholder=t("staff.agency", lang), options=_options(agencies),
                             value=params.get("agency")), md=2),
        dbc.Col(dcc.Dropdown(id=KECAMATAN, placeholder=t("staff.kecamatan", lang), options=_options(kecamatan),
                             value=params.get("kecamatan")),
                md=2),
        dbc.Col(dcc.Dropdown(id=KELURAHAN, placeholder=t("staff.kelurahan", lang), options=_options(kelurahan)),
                md=3),
        dbc.Col(dbc.Input(id=CELL, placeholder=t("staff.h3", lang), debounce=True,
                          value=params.get("h3", "")), md=3),
        dbc.Col(dcc.Dropdown(id=SLA, placeholder=t("staff.sla", lang),
                             options=_options((s, t(f"staff.sla.{s}", lang)) for s in queue.SLA_STATES),
                             value=params.get("sla")), md=2),
        dbc.Col(dcc.RadioItems(id=SORT, value="age", inline=True, inputClassName="me-1",
                               labelClassName="me-3",
                               options=_options((s, t(f"staff.sort.{s}", lang)) for s in queue.SORTS)), md=4),
        dbc.Col([html.Span(t("staff.export", lang) + ": ", className="me-1")] +
                [html.A(fmt.upper(), id=ident, href="#", className="me-2", target="_blank")
                 for fmt, ident in EXPORTS.items()], md=3),
    ], className="g-2 mb-2")
    actions = html.Div([
        dbc.Row([
            dbc.Col(dcc.Dropdown(id=TARGET_AGENCY, placeholder=t("staff.agency", lang), options=_options(agencies)),
                    md=4),
            dbc.Col(dbc.Input(id=TEAM, placeholder=t("staff.team", lang)), md=3),
            dbc.Col(dcc.Dropdown(id=PRIORITY, placeholder=t("staff.priority", lang),
                                 options=_options((p, p) for p in PRIORITIES)), md=2),
            dbc.Col(dbc.Input(id=REASON, placeholder=t("staff.reason", lang)), md=3),
            dbc.Col(dbc.Input(id=MERGE_INTO, placeholder=t("staff.merge_into", lang)), md=4),
            dbc.Col(dbc.Textarea(id=PUBLIC_TEXT, placeholder=t("staff.public_text", lang), maxLength=280,
                                 rows=2), md=8),
        ], className="g-2 mb-2"),
        html.Div([dbc.Button(t(f"staff.{a}", lang), id=button_id(a), size="sm", className="me-2 mb-1",
                             color="danger" if a == "reject" else "secondary" if a == "unpublish" else "primary",
                             disabled=not permissions.can(user.role, PERMISSION_OF.get(a, a)))
                  for a in ACTIONS]),
        dbc.Alert(id=MESSAGE, is_open=False, className="mt-2 py-1"),
    ])
    return dbc.Container([
        signed_in_bar(user, lang, csrf_token()),
        html.H2(t("staff.dispatch", lang)),
        filters,
        dbc.Row([
            dbc.Col([html.Div(id=QUEUE),
                     html.Div([dbc.Button(t("staff.prev", lang), id=PREV, size="sm", className="me-2"),
                               html.Span(id=PAGE_LABEL, className="me-2"),
                               dbc.Button(t("staff.next", lang), id=NEXT, size="sm")], className="my-2")], md=7),
            dbc.Col([actions, html.Hr(), html.Div(t("staff.select_report", lang), id=DETAIL)], md=5),
        ]),
        dcc.Store(id=PAGE, data=0), dcc.Store(id=SELECTED), dcc.Interval(id=TICK, interval=15_000),
    ], fluid=True)
