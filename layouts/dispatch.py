"""The dispatch console (/dispatch): the filterable queue, a detail panel and the supervisor's actions."""
from __future__ import annotations

from urllib.parse import urlencode

import dash_bootstrap_components as dbc
import dash_leaflet as dl
from dash import dcc, html

from app.auth import permissions
from app.auth.web import csrf_token
from app.i18n import t
from app.privacy import is_sensitive
from app.reports import PRIORITIES
from app.staff import queue
from app.workflow import Status
from config.catalogue import CATEGORIES
from layouts.staff_common import current_staff
from app.web_paths import url

PATH = "/dispatch"

STATUS = "dispatch-status"
CATEGORY = "dispatch-category"
AGENCY = "dispatch-agency"
KECAMATAN = "dispatch-kecamatan"
KELURAHAN = "dispatch-kelurahan"
CELL = "dispatch-h3"              # a store: the hex chosen on the picker or named by ?h3=
CELL_LABEL = "dispatch-h3-label"
CELL_CLEAR = "dispatch-h3-clear"
PICKER = "dispatch-picker"        # the small map to choose a hex on
PICKER_HEX = "dispatch-picker-hex"
PICK_RESOLUTION = 8               # ~0.7 km² hexes: a few streets, as the wall's zoomed-in hexes
DATE_FROM = "dispatch-from"
DATE_TO = "dispatch-to"
PROOF = "dispatch-proof"
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
DETAIL_MORE = "dispatch-detail-more"
TARGET_AGENCY = "dispatch-target-agency"
TEAM = "dispatch-team"
REASON = "dispatch-reason"
MERGE_INTO = "dispatch-merge-into"
PRIORITY = "dispatch-priority"
PUBLIC_TEXT = "dispatch-public-text"
ACTIONS = ("verify_route", "verify", "assign", "reject", "merge", "set_priority", "publish", "unpublish",
           "bulk_verify_route", "bulk_verify", "bulk_assign")
SINGLE = ACTIONS[:8]
BULK = ACTIONS[8:]
SEARCH = "dispatch-search"
COUNTS = "dispatch-counts"
COUNT = "dispatch-count"        # pattern-matching: {"type": COUNT, "state": status | "work" | "open"}
PICKED = "dispatch-picked"      # {report_id: version} of the ticked rows, kept across refreshes
PICKED_LABEL = "dispatch-picked-label"
CLEAR = "dispatch-clear"
PICK_PAGE = "dispatch-pick-page"
LANG = "dispatch-lang"
LANG_SET = "dispatch-lang-set"
SUGGESTED = "dispatch-suggested"
DUPLICATE = "dispatch-duplicate"  # pattern-matching: {"type": DUPLICATE, "id": report_id}
ACTION_BOX = "dispatch-actions"
INCIDENTS = "dispatch-incidents"
ACK = "dispatch-ack"             # pattern-matching: {"type": ACK, "id": incident_id}
# the permission each button needs, where it is not named like the button
PERMISSION_OF = {"set_priority": "priority", "unpublish": "publish", "verify_route": "assign",
                 "bulk_verify_route": "bulk_assign", "bulk_verify": "verify"}
# the states in which each single-report action applies (the workflow's transitions)
APPLIES = {"verify_route": ("new", "reopened", "verified"), "verify": ("new", "reopened"),
           "assign": ("verified", "reopened", "dispatched"), "reject": ("new", "verified", "reopened"),
           "merge": ("new", "verified", "reopened"), "set_priority": ("new", "verified", "dispatched",
                                                                       "in_progress", "reopened"),
           "publish": ("resolved", "closed"), "unpublish": ("resolved", "closed")}
WORK_STATES = ("new", "reopened")
DEFAULT_STATES = ("new", "reopened", "verified", "dispatched", "in_progress")
MESSAGE = "dispatch-message"
EXPORTS = {fmt: f"dispatch-export-{fmt}" for fmt in ("csv", "xlsx", "geojson")}
TICK = "dispatch-tick"
PUSH = "dispatch-push"          # set by assets/dispatch.js when the queue changed (app.staff.push)
PUSH_ACK = "dispatch-push-ack"  # the last push the queue applied (assets/dispatch.js sends the next then)
SHOWN = "dispatch-shown"        # the rows on screen, their counts and filters (what a push is applied to)
ROW_CLICK = "dispatch-row-click"  # {id}: the ticket clicked in the queue (set by assets/dispatch.js)
RELOAD = "dispatch-reload"      # set when the queue was redrawn: the open report is read again
ROW_PREFIX = "dispatch-row-"    # each queue row's id: its report id after this


REPORT_MAP_CLASS = "staff-report-map"
REPORT_MAP_ZOOM = 16


def report_map(services, lat: float, lng: float, category: str, others=()) -> dl.Map:
    """The report's place on the app's own Leaflet map: the kecamatan outlines (always, so it reads
    without tiles), tiles only from ``PANTAU_TILE_URL`` (none when it is empty), never for a
    sensitive category (a tile request tells the tile host where to look), and no third-party frame.
    ``others``: its likely duplicates, (lat, lng, ticket), drawn as smaller blue rings with a tooltip."""
    tiles = services.settings.tile_url
    with_tiles = bool(tiles) and not is_sensitive(category)
    layers = [dl.TileLayer(url=tiles, maxZoom=19, attribution="© OpenStreetMap contributors")] if with_tiles else []
    layers += [dl.GeoJSON(data=services.areas.outlines_geojson("district"), interactive=False,
                          style={"color": "#6b7a90", "weight": 1, "fillOpacity": 0.04}),
               *[dl.CircleMarker(center=[o_lat, o_lng], radius=6, color="#6cb4ff", fillColor="#6cb4ff",
                                 fillOpacity=0.35, weight=2, children=dl.Tooltip(ticket))
                 for o_lat, o_lng, ticket in others],
               dl.CircleMarker(center=[lat, lng], radius=8, color="#ffb000", fillColor="#ffb000", fillOpacity=0.8,
                               weight=2, interactive=False)]
    # center/zoom both set: dash-leaflet's moveend handler compares against them
    return dl.Map(center=[lat, lng], zoom=REPORT_MAP_ZOOM, children=layers, className=REPORT_MAP_CLASS,
                  style={"width": "100%", "height": "200px", "background": "#1b2330"}, attributionControl=with_tiles)


def cell_words(services, cell: str | None, lang: str) -> str:
    """A hex named by where it is: "Hex di Kel. Pluit" (its centre's kelurahan), else its kecamatan-less
    "Hex di peta" — never the H3 id."""
    import h3

    if not cell:
        return ""
    lat, lng = h3.cell_to_latlng(cell)
    area = services.areas.locate(lat, lng) if services.areas.has_areas else None
    if area is None:
        return t("dispatch.hex_somewhere", lang)
    prefix = {"desa": "Desa "}.get(area.kind, "Kel. ")
    return t("dispatch.hex_in", lang, area=f"{prefix}{area.name}")


def cell_outline(cell: str | None) -> list:
    import h3

    if not cell:
        return []
    return [dl.Polygon(positions=[list(p) for p in h3.cell_to_boundary(cell)], color="#ffb000", weight=2,
                       fillOpacity=0.2, interactive=False)]


def hex_picker(services, cell: str | None, lang: str) -> html.Div:
    """Choose an area with the kecamatan/kelurahan filters, or a hex here: a click on the small map
    picks the hex under it; the choice reads in words with a button to clear it."""
    import h3

    (south, west), (north, east) = services.preset.bounds
    center = list(h3.cell_to_latlng(cell)) if cell else [(south + north) / 2, (west + east) / 2]
    tiles = services.settings.tile_url
    layers = [dl.TileLayer(url=tiles, maxZoom=19, attribution="© OpenStreetMap contributors")] if tiles else []
    layers += [dl.GeoJSON(data=services.areas.outlines_geojson("district"), interactive=False,
                          style={"color": "#8fa3bf", "weight": 1, "fillOpacity": 0.05}),
               dl.LayerGroup(id=PICKER_HEX, children=cell_outline(cell))]
    label = cell_words(services, cell, lang)
    return html.Div([
        html.Div([html.Span(label, id=CELL_LABEL, className="me-2", **{"aria-live": "polite"}),
                  dbc.Button(t("dispatch.hex_clear", lang), id=CELL_CLEAR, size="sm", color="secondary",
                             outline=True, className="py-0", style=None if cell else {"display": "none"})],
                 className="small mb-1 dispatch-hex-chosen"),
        html.Details([html.Summary(t("dispatch.hex_pick", lang), className="small"),
                      html.Div(dl.Map(id=PICKER, center=center, zoom=13 if cell else 11, children=layers,
                                      style={"width": "100%", "height": "220px", "background": "#1b2330"},
                                      attributionControl=bool(tiles)),
                               role="region", **{"aria-label": t("dispatch.hex_pick_map", lang)}),
                      html.P(t("dispatch.hex_pick_help", lang), className="small mb-0")],
                     className="dispatch-picker"),
    ])


def button_id(action: str) -> str:
    return f"dispatch-{action.replace('_', '-')}"


def _options(pairs):
    return [{"label": label, "value": value} for value, label in pairs]


def dropdown_labels(lang: str) -> dict:
    """Dash's own dropdown texts (Select All, Clear selection...) in the screen's language."""
    keys = ("select_all", "deselect_all", "selected_count", "search", "clear_search", "clear_selection",
            "no_options_found")
    return {k: t(f"dispatch.dd.{k}", lang) for k in keys}


def labelled(ident: str, label: str, control) -> html.Div:
    return html.Div([dbc.Label(label, html_for=ident, className="form-label small mb-0"), control])


def dropdown(ident: str, label: str, options, lang: str, value=None, multi=False, choose=False) -> html.Div:
    """A labelled dropdown; a filter's empty choice reads "all", an action field's "choose"."""
    return labelled(ident, label, dcc.Dropdown(id=ident, options=options, value=value, multi=multi,
                                               placeholder=t("dispatch.choose" if choose else "dispatch.all", lang),
                                               labels=dropdown_labels(lang),
                                               className="dispatch-dropdown"))


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang") if params.get("lang") in ("id", "en") else services.settings.language
    user = current_staff()
    if user is None or not permissions.can_open(user.role, PATH):
        return html.Div(html.P(t("dispatch.not_allowed", lang)), className="container mt-5", lang=lang)

    preset = services.preset
    areas = services.areas.areas() if services.areas.has_areas else []
    kecamatan = sorted({(a.district_code, a.district_name) for a in areas}, key=lambda p: p[1])
    kelurahan = sorted({(a.code, f"{a.name} ({a.district_name})") for a in areas}, key=lambda p: p[1])
    agencies = [(a.code, f"{a.code} — {a.name(lang)}") for a in preset.agencies]
    states = params.get("status", "").split(",") if params.get("status") else list(DEFAULT_STATES)
    sort = params.get("sort") if params.get("sort") in queue.SORTS else "work"
    import h3

    cell = params.get("h3") if isinstance(params.get("h3"), str) and h3.is_valid_cell(params["h3"]) else None
    filters = dbc.Row([
        dbc.Col(labelled(SEARCH, t("dispatch.search_label", lang),
                         dbc.Input(id=SEARCH, type="search", placeholder=t("dispatch.search", lang), debounce=True,
                                   value=params.get("q", ""), maxLength=queue.SEARCH_MAX)), md=4),
        dbc.Col(dropdown(STATUS, t("dispatch.filter.status", lang),
                         _options((s.value, t(f"dispatch.status.{s.value}", lang)) for s in Status), lang,
                         states, multi=True), md=4),
        dbc.Col(dropdown(CATEGORY, t("staff.category", lang),
                         _options(sorted(((c.code, c.name(lang)) for c in CATEGORIES), key=lambda p: p[1])), lang,
                         params.get("category")), md=2),
        dbc.Col(dropdown(AGENCY, t("staff.agency", lang), _options(agencies), lang, params.get("agency")), md=2),
        dbc.Col(dropdown(KECAMATAN, t("dispatch.kecamatan", lang), _options(kecamatan), lang,
                         params.get("kecamatan")), md=2),
        dbc.Col(dropdown(KELURAHAN, t("dispatch.kelurahan", lang), _options(kelurahan), lang), md=3),
        dbc.Col(dropdown(SLA, t("dispatch.col.deadline", lang),
                         _options((s, t(f"dispatch.sla.{s}", lang)) for s in queue.SLA_STATES), lang,
                         params.get("sla")), md=2),
        dbc.Col(labelled(DATE_FROM, t("dispatch.from", lang),
                         dbc.Input(id=DATE_FROM, type="date", value=params.get("from") or None)), md=2),
        dbc.Col(labelled(DATE_TO, t("dispatch.to", lang),
                         dbc.Input(id=DATE_TO, type="date", value=params.get("to") or None)), md=2),
        dbc.Col(dbc.Checklist(id=PROOF, options=[{"label": t("dispatch.proof_flagged", lang), "value": "flagged"}],
                              value=["flagged"] if params.get("proof") == "flagged" else [], switch=True,
                              className="mt-4"), md=2),
        dbc.Col(html.Fieldset([html.Legend(t("dispatch.filter.h3", lang), className="form-label small mb-0"),
                               hex_picker(services, cell, lang)]), md=4),
        dbc.Col(html.Fieldset([html.Legend(t("dispatch.sort", lang), className="form-label small mb-0"),
                               dbc.RadioItems(id=SORT, value=sort, inline=True,
                                              options=_options((s, t(f"dispatch.sort.{s}", lang))
                                                               for s in queue.SORTS))],
                              className="dispatch-sort"), md=3),
    ], className="g-2 mb-2 dispatch-filters")
    single = [b for b in SINGLE if permissions.can(user.role, PERMISSION_OF.get(b, b))]
    can_bulk = [b for b in BULK if permissions.can(user.role, PERMISSION_OF.get(b, b))]

    def button(action, color="primary", outline=False, label=None):
        allowed = permissions.can(user.role, PERMISSION_OF.get(action, action))
        return dbc.Button(label or t(f"dispatch.{action}", lang), id=button_id(action), size="sm",
                          className="me-2 mb-1", color=color, outline=outline, disabled=True,
                          style=None if allowed else {"display": "none"})

    quick = html.Section([
        html.H2(t("dispatch.actions_title", lang), className="visually-hidden"),
        html.Div(id=SUGGESTED, className="small mb-1"),
        html.Div([button("verify_route", "success", label=t("dispatch.verify_route_none", lang)),
                  button("verify", "primary", True), button("reject", "danger", True)]),
    ], className="dispatch-quick") if single else html.Div()
    actions = html.Section([
        html.H2(t("dispatch.actions_title", lang), className="h6 mt-2"),
        dbc.Row([
            dbc.Col(dropdown(TARGET_AGENCY, t("dispatch.target_agency", lang), _options(agencies), lang,
                             choose=True), md=6),
            dbc.Col(labelled(TEAM, t("dispatch.team", lang), dbc.Input(id=TEAM, maxLength=80)), md=6),
            dbc.Col(labelled(REASON, t("dispatch.reason", lang), dbc.Input(id=REASON, maxLength=500)), md=6),
            dbc.Col(labelled(MERGE_INTO, t("dispatch.merge_into", lang),
                             dbc.Input(id=MERGE_INTO, placeholder=f"{preset.code}-XXXXX-XXXXX", maxLength=40)), md=6),
            dbc.Col(dropdown(PRIORITY, t("staff.priority", lang),
                             _options((p, t(f"dispatch.priority.{p}", lang)) for p in PRIORITIES), lang, choose=True), md=6),
            dbc.Col(labelled(PUBLIC_TEXT, t("dispatch.public_text", lang),
                             dbc.Textarea(id=PUBLIC_TEXT, maxLength=280, rows=2)), md=12),
        ], className="g-2 mb-2"),
        html.Div([button("assign"), button("merge", "secondary", True), button("set_priority", "secondary", True),
                  button("publish", "secondary", True), button("unpublish", "secondary", True)]),
    ], id=ACTION_BOX, **{"aria-label": t("dispatch.actions_title", lang)}) if single else html.Div(id=ACTION_BOX)
    bulk = html.Section([
        html.Span(t("dispatch.picked", lang, n=0), id=PICKED_LABEL, className="me-2", **{"aria-live": "polite"}),
        dbc.Button(t("dispatch.pick_all", lang), id=PICK_PAGE, size="sm", color="secondary", outline=True,
                   className="me-2 mb-1"),
        dbc.Button(t("dispatch.clear", lang), id=CLEAR, size="sm", color="secondary", outline=True,
                   className="me-2 mb-1"),
    ] + [dbc.Button(t(f"dispatch.{b}", lang), id=button_id(b), size="sm", className="me-2 mb-1",
                    color="success" if b == "bulk_verify_route" else "primary", outline=b != "bulk_verify_route",
                    style=None if b in can_bulk else {"display": "none"}) for b in BULK],
        className="dispatch-bulk my-2", **{"aria-label": t("dispatch.bulk_title", lang)})
    other = "en" if lang == "id" else "id"
    switch = {k: v for k, v in params.items() if k not in ("path", "lang", "fragment") and isinstance(v, str)}
    exports = html.Div([html.Span(t("dispatch.exports", lang, zone=preset.tz_label) + ": ", className="me-1")] +
                       [html.A(fmt.upper(), id=ident, href="#", className="me-2", target="_blank")
                        for fmt, ident in EXPORTS.items()], className="small")
    return html.Div(dbc.Container([
        html.Div([html.Span(t("dispatch.signed_in", lang, user=user.username,
                              role=t(f"dispatch.role.{user.role}", lang)), className="me-3"),
                  html.A(t("dispatch.language", lang), href=url(f"{PATH}?{urlencode({**switch, 'lang': other})}"),
                         lang=other, className="me-3"),
                  html.Form([dcc.Input(type="hidden", name="csrf_token", value=csrf_token()),
                             html.Button(t("dispatch.logout", lang), type="submit",
                                         className="btn btn-sm btn-outline-light")],
                            method="POST", action=url("/logout"), style={"display": "inline"})],
                 className="text-end small my-2"),
        html.Div([html.H1(t("dispatch.title", lang), className="h3 me-3 mb-0"), exports],
                 className="d-flex align-items-baseline justify-content-between"),
        html.Section(id=INCIDENTS, **{"aria-label": t("dispatch.incidents", lang)}),
        html.Nav(id=COUNTS, className="my-2 dispatch-counts", **{"aria-label": t("dispatch.counts", lang)}),
        filters,
        dbc.Row([
            dbc.Col([bulk, html.Div(id=QUEUE),
                     html.Div([dbc.Button(t("dispatch.prev", lang), id=PREV, size="sm", className="me-2"),
                               html.Span(id=PAGE_LABEL, className="me-2"),
                               dbc.Button(t("dispatch.next", lang), id=NEXT, size="sm")], className="my-2"),
                     html.P(t("dispatch.keys", lang), className="small dispatch-keys")], md=7),
            dbc.Col([dbc.Alert(id=MESSAGE, is_open=False, className="mt-2 py-1"),
                     html.Div(t("dispatch.select_report", lang), id=DETAIL), quick, html.Div(id=DETAIL_MORE),
                     actions], md=5,
                    className="dispatch-side"),
        ]),
        dcc.Store(id=PAGE, data=0), dcc.Store(id=SELECTED), dcc.Store(id=PICKED, data={}),
        dcc.Store(id=LANG, data=lang), dcc.Store(id=LANG_SET), dcc.Store(id=CELL, data=cell),
        dcc.Store(id=PUSH), dcc.Store(id=SHOWN), dcc.Store(id=ROW_CLICK), dcc.Store(id=RELOAD), html.Span(id=PUSH_ACK, hidden=True),
        dcc.Interval(id=TICK, interval=60_000),     # deadlines and incidents; new reports come by push
    ], fluid=True), className="dispatch", lang=lang)
