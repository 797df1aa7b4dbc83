"""The command-center wall (``/wall``): the city's live hex map with its KPIs, categories,
agencies, newest reports, clock and alerts, for a large screen nobody touches.

Everything is settable by URL: ``city`` (must be the running preset), ``metric``
(reports/open/breaches), ``window`` (today/60m/24h), ``lang`` (id/en),
``rotate`` (seconds between metric views), ``kiosk=1`` (no controls),
``stale`` (seconds without updates before the stale banner), ``timelapse=1`` (replay the
last 24 hours first), ``res`` (a fixed H3 resolution instead of following the zoom).
The hex layer itself is drawn and kept live by ``assets/wall.js``.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import urlencode

import dash_leaflet as dl
from dash import dcc, html

from app import agency_stats, hexagg, live, queries, spikes
from app.i18n import t
from config.catalogue import BY_CODE

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
REFRESH = "wall-refresh"
TIMELAPSE = "wall-timelapse"
LANG = "wall-lang"
REFRESH_MS = 2000

# red / yellow / green, the statuses the cities' staff already know
GREEN, YELLOW, RED = "wall-ok", "wall-warn", "wall-bad"


def _params(services, params: dict) -> dict:
    lang = params.get("lang") if params.get("lang") in ("id", "en") else services.settings.language
    metric, window_name = live.view_of(params.get("metric"), params.get("window"))
    def _number(name, default):
        try:
            value = float(params.get(name, default))
        except (TypeError, ValueError):
            return default
        return value if value > 0 else default
    return {"lang": lang, "metric": metric, "window": window_name,
            "rotate": _number("rotate", 0) if params.get("rotate") else 0,
            "stale": _number("stale", services.settings.wall_stale_s),
            "kiosk": params.get("kiosk") in ("1", "true", "yes"),
            "timelapse": params.get("timelapse") in ("1", "true", "yes"),
            "city": params.get("city"),
            "res": int(params["res"]) if str(params.get("res", "")).isdigit()
            and int(params["res"]) in hexagg.MAP_RESOLUTIONS else None}


def _duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return t("wall.none", lang)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return t("wall.hours", lang, n=round(seconds / 3600, 1))
    return t("wall.days", lang, n=round(seconds / 86400, 1))


def kpi_tiles(kpi: dict, lang: str) -> list:
    compliance = kpi["sla_compliance"]
    status = {"sla_compliance": GREEN if compliance is None or compliance >= 90 else
              YELLOW if compliance >= 75 else RED,
              "sla_breaches": GREEN if kpi["sla_breaches"] == 0 else RED}
    tiles = [("received", f"{kpi['received']:,}"), ("open_backlog", f"{kpi['open_backlog']:,}"),
             ("resolved", f"{kpi['resolved']:,}"),
             ("median_resolve", _duration(kpi["median_resolve_s"], lang)),
             ("sla_compliance", "—" if compliance is None else f"{compliance:.1f}%"),
             ("sla_breaches", f"{kpi['sla_breaches']:,}")]
    return [html.Div([html.Div(t(f"kpi.{name}", lang), className="wall-kpi-label"),
                      html.Div(value, id=f"wall-kpi-{name}", className="wall-kpi-value")],
                     className=f"wall-kpi {status.get(name, '')}") for name, value in tiles]


def category_list(kpi: dict, lang: str) -> list:
    rows = sorted(kpi["by_category"].items(), key=lambda kv: -kv[1]["received"])
    top = max([v["received"] for _, v in rows] + [1])
    return [html.Div([html.Span(BY_CODE[code].icon if code in BY_CODE else "📌", className="wall-cat-icon"),
                      html.Span(BY_CODE[code].name(lang) if code in BY_CODE else code, className="wall-cat-name"),
                      html.Span(html.Span(style={"width": f"{100 * v['received'] / top:.0f}%"}),
                                className="wall-cat-bar"),
                      html.Span(f"{v['received']:,}", className="wall-cat-count",
                                **{"data-category": code})], className="wall-cat")
            for code, v in rows[:10] if v["received"]]


def agency_table(board: list[dict], lang: str, now: datetime | None = None) -> html.Table:
    now = now or datetime.now(timezone.utc)
    rows = []
    for row in board[:8]:
        pct = row["sla_pct"]
        status = "" if pct is None else GREEN if pct >= 90 else YELLOW if pct >= 75 else RED
        oldest = row["oldest_open"]
        rows.append(html.Tr([html.Td(row["code"], title=row[f"name_{lang}"]),
                             html.Td(f"{row['backlog']:,}"),
                             html.Td("—" if pct is None else f"{pct:.0f}%", className=status),
                             html.Td(_duration((now - oldest).total_seconds() if oldest else None, lang))]))
    head = html.Tr([html.Th(t(k, lang)) for k in ("wall.agency", "wall.backlog", "wall.sla", "wall.oldest")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="wall-table")


def spike_banner(found: list, services, lang: str):
    if not found:
        return [], {"display": "none"}
    top = found[0]
    import h3

    lat, lng = h3.cell_to_latlng(top.cell)
    area = services.areas.locate(lat, lng)
    place = area.name if area else f"{lat:.4f}, {lng:.4f}"
    text = t("wall.spike", lang, count=top.recent, place=place)
    if len(found) > 1:
        text += " " + t("wall.spike_more", lang, n=len(found) - 1)
    return [html.Span("⚠", className="wall-spike-icon"), html.Span(text)], {}


# Every display refreshes its panels every REFRESH_MS; one computation per process serves them all.
PANEL_TTL_S = 1.0
# The agency table aggregates the whole reports table in SQL: recomputed at most every 10 s.
BOARD_TTL_S = 10.0


def panels(services, lang: str) -> dict:
    """Everything around the map, from the same aggregates the map reads."""
    memo = services.memo
    kpi = memo.get("wall:kpis", PANEL_TTL_S, lambda: queries.kpis(services.redis, services.preset, "today"))
    found = memo.get("wall:spikes", PANEL_TTL_S, lambda: spikes.current_spikes(services.redis, services.preset))
    board = memo.get("wall:agencies", BOARD_TTL_S,
                     lambda: agency_stats.agency_board(services.engine, services.preset))
    banner, style = spike_banner(found, services, lang)
    return {"kpis": kpi_tiles(kpi, lang), "categories": category_list(kpi, lang),
            "agencies": agency_table(board, lang),
            "spike": banner, "spike_style": style, "spikes": [s.cell for s in found]}


def _view_label(metric: str, window_name: str, lang: str) -> str:
    return f"{t(f'wall.metric.{metric}', lang)} · {t(f'wall.window.{window_name}', lang)}"


def _controls(services, p: dict) -> html.Div:
    def link(label, **change):
        query = {k: v for k, v in {"metric": p["metric"], "window": p["window"], "lang": p["lang"]}.items()}
        query.update(change)
        return html.A(label, href=f"{PATH}?{urlencode(query)}", className="wall-control")
    items = [link(t(f"wall.metric.{m}", p["lang"]), metric=m) for m in queries.METRICS]
    items += [link(t(f"wall.window.{w}", p["lang"]), metric="reports", window=w) for w in live.WALL_WINDOWS]
    items += [link("ID", lang="id"), link("EN", lang="en"),
              html.Button(t("wall.timelapse", p["lang"]), id=TIMELAPSE, className="wall-control")]
    return html.Div(items, id=CONTROLS, className="wall-controls")


def layout(services, params: dict) -> html.Div:
    p = _params(services, params)
    lang, preset = p["lang"], services.preset
    (south, west), (north, east) = preset.bounds
    notice = None
    if p["city"] and p["city"] != preset.slug:
        notice = t("wall.city_notice", lang, asked=p["city"], city=preset.name)
    data = panels(services, lang)
    recent = [{k: r.get(k) for k in ("category", "kelurahan", "kecamatan", "created_at", "cell9")}
              for r in queries.latest_reports(services.redis, preset, 12)]
    config = {"metric": p["metric"], "window": p["window"], "res": p["res"], "lang": lang, "rotate": p["rotate"],
              "stale": p["stale"], "kiosk": p["kiosk"], "timelapse": p["timelapse"],
              "bounds": [[south, west], [north, east]], "timezone": preset.timezone, "tzLabel": preset.tz_label,
              "resolutions": list(hexagg.MAP_RESOLUTIONS), "namespace": live.NAMESPACE,
              "views": [list(v) for v in live.VIEWS],
              "labels": {f"{m}:{w}": _view_label(m, w, lang) for m, w in live.VIEWS},
              "icons": {c.code: c.icon for c in BY_CODE.values()},
              "names": {c.code: c.name(lang) for c in BY_CODE.values()},
              "text": {k: t(f"wall.{k}", lang) for k in ("stale", "minutes_ago", "hours_ago", "days_ago", "just_now",
                                                         "replay")},
              "recent": recent}
    hex_map = dl.Map(
        # center/zoom too: dash-leaflet's moveend handler compares against them (undefined: a TypeError)
        id=MAP, bounds=[[south, west], [north, east]], center=list(preset.center), zoom=preset.zoom,
        preferCanvas=True, zoomControl=not p["kiosk"],
        attributionControl=not p["kiosk"], zoomSnap=1,
        children=[
            dl.TileLayer(id=TILES, url=services.settings.tile_url, maxZoom=18,
                         attribution="© OpenStreetMap contributors"),
            dl.GeoJSON(id=OUTLINES, data=services.areas.outlines_geojson("district"),
                       style={"color": "#6b7a90", "weight": 1, "fill": False}, interactive=False),
            dl.GeoJSON(id=ANCHOR, data={"type": "FeatureCollection", "features": [{
                "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
                    [west, south], [west, south + 1e-6], [west + 1e-6, south], [west, south]]]}}]},
                style={"opacity": 0, "fillOpacity": 0}, interactive=False,
                onEachFeature={"variable": "pantauWall.onEachAnchor"}),
        ], className="wall-leaflet")
    return html.Div([
        html.Header([
            html.Div([html.Span("Pantau", className="wall-brand"), html.Span(preset.name, className="wall-city")]),
            html.Div(_view_label(p["metric"], p["window"], lang), id=VIEW_LABEL, className="wall-view-label"),
            html.Div(id=CLOCK, className="wall-clock"),
        ], className="wall-header"),
        html.Div(notice, id=NOTICE, className="wall-notice", style={} if notice else {"display": "none"}),
        html.Div(id=STALE, className="wall-banner wall-stale", style={"display": "none"}),
        html.Div(data["spike"], id=SPIKE, className="wall-banner wall-spike", style=data["spike_style"]),
        html.Main([
            html.Section([hex_map, html.Div(id=LEGEND, className="wall-legend"),
                          html.Div(id=HEXSTATE, style={"display": "none"})], className="wall-map"),
            html.Aside([
                html.Div(data["kpis"], id=KPIS, className="wall-kpis"),
                html.H3(t("wall.categories", lang)), html.Div(data["categories"], id=CATEGORIES),
                html.H3(t("wall.agencies", lang)), html.Div(data["agencies"], id=AGENCIES),
                html.H3(t("wall.ticker", lang)), html.Div(id=TICKER, className="wall-ticker"),
            ], className="wall-side"),
        ], className="wall-main"),
        html.Div() if p["kiosk"] else _controls(services, p),
        html.Div(id=CONFIG, style={"display": "none"}, **{"data-config": json.dumps(config)}),
        dcc.Store(id=SPIKES_STORE, data=data["spikes"]), dcc.Store(id=SPIKES_SINK), dcc.Store(id=LANG, data=lang),
        dcc.Interval(id=REFRESH, interval=REFRESH_MS),
    ], id=ROOT, className="wall" + (" wall-kiosk" if p["kiosk"] else ""), **{"data-lang": lang})
