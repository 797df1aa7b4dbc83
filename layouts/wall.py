"""The command-center wall (``/wall``): the city's live hex map with its KPIs, categories,
agencies, newest reports, clock and alerts, for a large screen nobody touches.

Everything is settable by URL: ``city`` (must be the running preset), ``metric``
(reports/open/breaches), ``window`` (today/60m/24h), ``lang`` (id/en),
``rotate`` (seconds between metric views; a display token's wall rotates every
``DISPLAY_ROTATE_S`` unless ``rotate=0``), ``kiosk=1`` (no controls),
``stale`` (seconds without updates before the stale banner), ``timelapse=1`` (replay the
last 24 hours first), ``res`` (a fixed H3 resolution instead of following the zoom).
The hex layer itself is drawn and kept live by ``assets/wall.js``; the panels around it arrive
over the same push (``app.live``: one computation per process for every wall, no polling).
A staff session's wall opens ``/dispatch?h3=<cell>`` on a click; a display token's does not.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import urlencode

import dash_leaflet as dl
from dash import dcc, html

from app import agency_stats, hexagg, live, queries, spikes
from app.i18n import duration, duration_parts, number, number_symbols, percent, t
from config.catalogue import BY_CODE
from app.web_paths import url
from app.auth.permissions import can_open
from app.auth import displays

PATH = "/wall"

ROOT = "wall-root"
MAP = "wall-map"
TILES = "wall-tiles"
OUTLINES = "wall-outlines"
ANCHOR = "wall-anchor"
CONFIG = "wall-config"
HEXSTATE = "wall-hexstate"
LEGEND = "wall-legend"
VIEW_LABEL = "wall-view-label"
CLOCK = "wall-clock"
NOTICE = "wall-notice"
STALE = "wall-stale-banner"
SPIKE = "wall-spike-banner"
SPIKES_STORE = "wall-spikes"
SPIKES_SINK = "wall-spikes-sink"
KPIS = "wall-kpis"
CATEGORIES = "wall-categories"
AGENCIES = "wall-agencies"
TICKER = "wall-ticker"
CONTROLS = "wall-controls"
TIMELAPSE = "wall-timelapse"
LANG = "wall-lang"
ROTOR = "wall-rotor"
PROGRESS = "wall-progress"
VIEW_POS = "wall-view-pos"
# An unattended screen (a display token) goes through the views by itself, this often.
DISPLAY_ROTATE_S = 30.0

# red / yellow / green, the statuses the cities' staff already know
GREEN, YELLOW, RED = "wall-ok", "wall-warn", "wall-bad"


# The display profile: a 16:9 screen of this diagonal read from this distance (URL ``diag``, ``dist``).
DEFAULT_DIAGONAL_IN, DEFAULT_DISTANCE_M = 55.0, 5.0
PROFILE_LIMITS = {"diag": (20.0, 400.0), "dist": (0.5, 50.0)}


def _profile(params: dict, lang: str) -> tuple[dict, list[str]]:
    """(profile, notices): ``diag`` inches and ``dist`` metres, each checked against its range."""
    profile, notices = {"diag": DEFAULT_DIAGONAL_IN, "dist": DEFAULT_DISTANCE_M}, []
    for name, (low, high) in PROFILE_LIMITS.items():
        raw = params.get(name)
        if raw in (None, ""):
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = None
        if value is None or not low <= value <= high:
            notices.append(t(f"wall.bad_{name}", lang, got=str(raw)[:20], low=number(low, lang),
                             high=number(high, lang), default=number(profile[name], lang)))
        else:
            profile[name] = value
    return profile, notices


def viewer() -> tuple[str, str] | None:
    """("staff", username), ("display", id) or None (no request: a layout built outside one)."""
    from flask import has_request_context

    return displays.wall_viewer() if has_request_context() else None


def _params(services, params: dict, watcher: tuple[str, str] | None = None) -> dict:
    lang = params.get("lang") if params.get("lang") in ("id", "en") else services.settings.language
    metric, window_name = live.view_of(params.get("metric"), params.get("window"))
    def _number(name, default):
        try:
            value = float(params.get(name, default))
        except (TypeError, ValueError):
            return default
        return value if value > 0 else default
    profile, notices = _profile(params, lang)
    return {"lang": lang, "metric": metric, "window": window_name,
            "rotate": _number("rotate", 0) if str(params.get("rotate") or "").strip()
            else DISPLAY_ROTATE_S if watcher and watcher[0] == "display" else 0,
            "stale": _number("stale", services.settings.wall_stale_s),
            "kiosk": params.get("kiosk") in ("1", "true", "yes"),
            "timelapse": params.get("timelapse") in ("1", "true", "yes"),
            "city": params.get("city"), "profile": profile, "notices": notices,
            "res": int(params["res"]) if str(params.get("res", "")).isdigit()
            and int(params["res"]) in hexagg.MAP_RESOLUTIONS else None}


def _current_user():
    from flask_login import current_user

    return current_user


def kpi_tiles(kpi: dict, lang: str) -> list:
    compliance = kpi["sla_compliance"]
    status = {"sla_compliance": GREEN if compliance is None or compliance >= 90 else
              YELLOW if compliance >= 75 else RED,
              "sla_breaches": GREEN if kpi["sla_breaches"] == 0 else RED}
    tiles = [("received", number(kpi["received"], lang), ""),
             ("open_backlog", number(kpi["open_backlog"], lang), ""),
             ("resolved", number(kpi["resolved"], lang), ""),
             ("median_resolve", *duration_parts(kpi["median_resolve_s"], lang)),
             ("sla_compliance", "—" if compliance is None else percent(compliance, lang), ""),
             ("sla_breaches", number(kpi["sla_breaches"], lang), "")]
    return [html.Div([html.Div(t(f"wall.kpi.{name}", lang), className="wall-kpi-label"),
                      html.Div([value] + ([html.Span(unit, className="wall-kpi-unit")] if unit else []),
                               id=f"wall-kpi-{name}", className="wall-kpi-value")],
                     className=f"wall-kpi {status.get(name, '')}") for name, value, unit in tiles]


def category_list(kpi: dict, lang: str) -> list:
    rows = sorted(kpi["by_category"].items(), key=lambda kv: -kv[1]["received"])
    return [html.Div([html.Span(BY_CODE[code].icon if code in BY_CODE else "📌", className="wall-cat-icon",
                                **{"aria-hidden": "true"}),
                      html.Span(BY_CODE[code].name(lang) if code in BY_CODE else t("wall.other", lang),
                                className="wall-cat-name"),
                      html.Span(number(v["received"], lang), className="wall-cat-count",
                                **{"data-category": code})], className="wall-cat wall-row")
            for code, v in rows if v["received"]]


def agency_table(board: list[dict], lang: str, now: datetime | None = None) -> html.Table:
    now = now or datetime.now(timezone.utc)
    rows = []
    for row in board:
        pct = row["sla_pct"]
        status = "" if pct is None else GREEN if pct >= 90 else YELLOW if pct >= 75 else RED
        oldest = row["oldest_open"]
        rows.append(html.Tr([html.Td(row["code"], title=row[f"name_{lang}"]),
                             html.Td(number(row["backlog"], lang)),
                             html.Td("—" if pct is None else percent(pct, lang, 0), className=status),
                             html.Td(duration((now - oldest).total_seconds() if oldest else None, lang))],
                            className="wall-row"))
    head = html.Tr([html.Th(t(k, lang)) for k in ("wall.agency", "wall.backlog", "wall.sla", "wall.oldest")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="wall-table")


def _places(incident, services, lang: str) -> str:
    """"Kebon Baru, Tebet" for the incident's strongest hexes, up to three places, then "+N lainnya"."""
    import h3

    seen = []
    for cell in incident.cells:
        lat, lng = h3.cell_to_latlng(cell)
        area = services.areas.locate(lat, lng)
        place = (f"{area.name}, {area.district_name}" if area.district_name else area.name) if area \
            else f"{number(lat, lang, 3)}, {number(lng, lang, 3)}"
        if place not in seen:
            seen.append(place)
    text = "; ".join(seen[:3])
    if len(seen) > 3:
        text += " " + t("wall.spike_more", lang, n=number(len(seen) - 3, lang))
    return text


def _usual(value: float, lang: str) -> str:
    return t("wall.usual_under_one", lang) if value < 1 else t("wall.usual", lang, n=number(round(value), lang))


def spike_banner(incidents: list, services, lang: str):
    """One line per incident (at most two; "+N more incidents"), blinking until acknowledged."""
    if not incidents:
        return [], {"display": "none"}, "wall-banner wall-spike"
    lines = []
    for incident in incidents[:2]:
        category = BY_CODE[incident.category].name(lang) if incident.category in BY_CODE else t("wall.other", lang)
        text = t("wall.spike", lang, category=category, count=number(incident.category_count, lang),
                 place=_places(incident, services, lang), usual=_usual(incident.usual, lang))
        if incident.acknowledged:
            text += " · " + t("wall.acknowledged", lang)
        lines.append(html.Span([html.Span("⚠", className="wall-spike-icon", **{"aria-hidden": "true"}), text],
                               className="wall-spike-line", **{"data-incident": incident.id}))
    if len(incidents) > 2:
        lines.append(html.Span(t("wall.incidents_more", lang, n=number(len(incidents) - 2, lang)),
                               className="wall-spike-line"))
    blink = any(not i.acknowledged for i in incidents)
    return lines, {}, "wall-banner wall-spike" + (" wall-blink" if blink else "")


# The relay renders the panels at most this often; one computation per process serves every wall.
PANEL_TTL_S = 1.0
# The agency table aggregates the whole reports table in SQL: recomputed at most every 10 s.
BOARD_TTL_S = 10.0
# The spike baseline (a week of hourly buckets) moves slowly: read at most once a minute.
BASELINE_TTL_S = 60.0


def incidents(services) -> list:
    memo = services.memo
    return memo.get("wall:incidents", PANEL_TTL_S, lambda: spikes.current_incidents(
        services.redis, services.preset,
        baseline=memo.get("wall:baseline", BASELINE_TTL_S,
                          lambda: spikes.baseline_counts(services.redis, services.preset))))


def panels(services, lang: str) -> dict:
    """Everything around the map, from the same aggregates the map reads."""
    memo = services.memo
    kpi = memo.get("wall:kpis", PANEL_TTL_S, lambda: queries.kpis(services.redis, services.preset, "today"))
    found = incidents(services)
    board = memo.get("wall:agencies", BOARD_TTL_S,
                     lambda: agency_stats.agency_board(services.engine, services.preset))
    banner, style, class_name = spike_banner(found, services, lang)
    return {"kpis": kpi_tiles(kpi, lang), "categories": category_list(kpi, lang),
            "agencies": agency_table(board, lang),
            "spike": banner, "spike_style": style, "spike_class": class_name,
            "spikes": [{"id": i.id, "cells": list(i.cells), "ack": i.acknowledged} for i in found]}


def panels_push(services, lang: str) -> dict:
    """The panels as the push carries them: each section's Dash component tree as plain JSON (the
    browser hands it to ``dash_clientside.set_props``), keyed by the component it replaces."""
    from plotly.utils import PlotlyJSONEncoder

    data = panels(services, lang)
    return json.loads(json.dumps({
        KPIS: {"children": data["kpis"]}, CATEGORIES: {"children": data["categories"]},
        AGENCIES: {"children": data["agencies"]},
        SPIKE: {"children": data["spike"], "style": data["spike_style"], "className": data["spike_class"]},
        "spikes": data["spikes"]}, cls=PlotlyJSONEncoder))


def _view_label(metric: str, window_name: str, lang: str) -> str:
    return f"{t(f'wall.metric.{metric}', lang)} · {t(f'wall.window.{window_name}', lang)}"


def _controls(services, p: dict) -> html.Div:
    def link(label, **change):
        query = {"metric": p["metric"], "window": p["window"], "lang": p["lang"]}
        if p["profile"] != {"diag": DEFAULT_DIAGONAL_IN, "dist": DEFAULT_DISTANCE_M}:
            query.update({k: f"{v:g}" for k, v in p["profile"].items()})
        query.update(change)
        return html.A(label, href=url(f"{PATH}?{urlencode(query)}"), className="wall-control")
    items = [link(t(f"wall.metric.{m}", p["lang"]), metric=m) for m in queries.METRICS]
    items += [link(t(f"wall.window.{w}", p["lang"]), metric="reports", window=w) for w in live.WALL_WINDOWS]
    items += [link("ID", lang="id"), link("EN", lang="en"),
              html.Button(t("wall.timelapse", p["lang"]), id=TIMELAPSE, className="wall-control")]
    return html.Div(items, id=CONTROLS, className="wall-controls")


def _section(key: str, title: str, body, lang: str) -> html.Section:
    return html.Section([html.H2([html.Span(title), html.Span(className="wall-page")]),
                         html.Div(body, id=key, className="wall-section-body")],
                        className="wall-section", **{"data-section": key})


def layout(services, params: dict) -> html.Div:
    watcher = viewer()
    p = _params(services, params, watcher)
    lang, preset = p["lang"], services.preset
    # a signed-in operator's click on a hex opens the console filtered to it; a display's does not
    clickable = bool(watcher and watcher[0] == "staff" and can_open(getattr(_current_user(), "role", None),
                                                                 "/dispatch"))
    (south, west), (north, east) = preset.bounds
    notices = list(p["notices"])
    if p["city"] and p["city"] != preset.slug:
        notices.insert(0, t("wall.city_notice", lang, asked=p["city"], city=preset.name))
    data = panels(services, lang)
    recent = [{k: r.get(k) for k in live.TICKER_FIELDS}
              for r in queries.latest_reports(services.redis, preset, live.TICKER_MAX)]
    texts = ("stale", "age_seconds", "age_minutes", "age_hours", "minutes_ago", "hours_ago", "days_ago",
             "just_now", "replay", "today", "yesterday", "legend_spike", "page", "other", "view_of",
             "open_hex")
    config = {"metric": p["metric"], "window": p["window"], "res": p["res"], "lang": lang, "rotate": p["rotate"],
              "stale": p["stale"], "kiosk": p["kiosk"], "timelapse": p["timelapse"],
              "profile": p["profile"], "numbers": number_symbols(lang),
              "bounds": [[south, west], [north, east]], "timezone": preset.timezone, "tzLabel": preset.tz_label,
              "resolutions": list(hexagg.MAP_RESOLUTIONS), "namespace": live.NAMESPACE,
              "views": [list(v) for v in live.VIEWS],
              "labels": {f"{m}:{w}": _view_label(m, w, lang) for m, w in live.VIEWS},
              "legendTitles": {m: t(f"wall.legend.{m}", lang) for m in queries.METRICS},
              "icons": {c.code: c.icon for c in BY_CODE.values()},
              "names": {c.code: c.name(lang) for c in BY_CODE.values()},
              "text": {k: t(f"wall.{k}", lang) for k in texts},
              "clickable": clickable, "dispatch": "/dispatch",
              # place names from the boundaries: kecamatan at the city's scale, kelurahan closer in
              # (a kecamatan is as busy as its kelurahan together: their cells, resolution 8)
              "places": {"district": [[p["name"], p["lat"], p["lng"], [], "", p["inside_m"]]
                                      for p in services.areas.label_points("district")],
                         "area": [[p["name"], p["lat"], p["lng"], p["cells"], p["district"], p["inside_m"]]
                                  for p in services.areas.label_points("area")]}
              if services.areas.has_areas else {},
              "recent": recent}
    hex_map = dl.Map(
        # center/zoom too: dash-leaflet's moveend handler compares against them (undefined: a TypeError)
        id=MAP, bounds=[[south, west], [north, east]], center=list(preset.center), zoom=preset.zoom,
        preferCanvas=True, zoomControl=not p["kiosk"],
        attributionControl=not p["kiosk"], zoomSnap=0.25,
        children=[
            dl.TileLayer(id=TILES, url=services.settings.tile_url, maxZoom=18,
                         attribution="© OpenStreetMap"),
            dl.GeoJSON(id=OUTLINES, data=services.areas.outlines_geojson("district"),
                       style={"color": "#6b7a90", "weight": 1, "fill": False}, interactive=False),
            dl.GeoJSON(id=ANCHOR, data={"type": "FeatureCollection", "features": [{
                "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
                    [west, south], [west, south + 1e-6], [west + 1e-6, south], [west, south]]]}}]},
                style={"opacity": 0, "fillOpacity": 0}, interactive=False,
                onEachFeature={"variable": "pantauWall.onEachAnchor"}),
        ], className="wall-leaflet")
    live_tag = html.Span(" · " + t("wall.live", lang), className="wall-live-tag")
    return html.Div([
        html.Header([
            html.Div([html.Span("Pantau", className="wall-brand"), html.Span(preset.name, className="wall-city")]),
            html.Div([html.Div(_view_label(p["metric"], p["window"], lang), id=VIEW_LABEL, className="wall-view-label"),
                      html.Div(id=VIEW_POS, className="wall-view-pos", style={"display": "none"})],
                     className="wall-view"),
            html.Div(id=CLOCK, className="wall-clock"),
        ], className="wall-header"),
        html.Div([html.Div(n) for n in notices], id=NOTICE, className="wall-notice",
                 style={} if notices else {"display": "none"}),
        html.Div(id=STALE, className="wall-banner wall-stale", role="status", style={"display": "none"}),
        html.Div(data["spike"], id=SPIKE, className=data["spike_class"], role="alert", style=data["spike_style"]),
        html.Main([
            html.Section([hex_map, html.Div(html.Span(), id=PROGRESS, className="wall-progress"),
                          html.Div(id=LEGEND, className="wall-legend"),
                          html.Div(id=HEXSTATE, style={"display": "none"})], className="wall-map",
                         **{"aria-label": t("wall.map", lang)}),
            html.Aside([
                html.H2([t("wall.today_panel", lang), live_tag], className="wall-kpis-title"),
                html.Div(data["kpis"], id=KPIS, className="wall-kpis"),
                html.Div([_section(CATEGORIES, t("wall.categories", lang), data["categories"], lang),
                          _section(AGENCIES, t("wall.agencies", lang), data["agencies"], lang),
                          _section(TICKER, t("wall.ticker", lang), [], lang)],
                         id=ROTOR, className="wall-rotor"),
            ], className="wall-side"),
        ], className="wall-main"),
        html.Div() if p["kiosk"] else _controls(services, p),
        html.Div(id=CONFIG, style={"display": "none"}, **{"data-config": json.dumps(config)}),
        dcc.Store(id=SPIKES_STORE, data=data["spikes"]), dcc.Store(id=SPIKES_SINK), dcc.Store(id=LANG, data=lang),
    ], id=ROOT, className="wall" + (" wall-kiosk" if p["kiosk"] else ""), lang=lang, **{"data-lang": lang})
