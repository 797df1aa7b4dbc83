"""The public kiosk (``/kiosk``): an unattended, anonymized view of how the city responds.

It rotates between views (map with today's and this week's counts, agency performance, the
responsiveness ranking with its formula, recently resolved with before/after photos), alternates
Indonesian and English unless ``?lang=id|en`` fixes one, and fits portrait 1080×1920 or landscape
1920×1080 (``?orientation=portrait|landscape``; otherwise CSS media queries decide). ``?view=``
pins one view. Every figure comes from ``app.public`` (cached, k-anonymous, no personal data).
"""
from __future__ import annotations

import dash_leaflet as dl
import h3
from dash import dcc, html

from app import public
from app.i18n import number, percent, t
from config.catalogue import BY_CODE
from app import web_paths

PATH = "/kiosk"
ROOT = "kiosk-root"
VIEW = "kiosk-view"
TITLE = "kiosk-title"
CONFIG = "kiosk-config"
TICK = "kiosk-tick"
FORMULA = "kiosk-formula"
PRIVACY = "kiosk-privacy"
MAP = "kiosk-map"
VIEWS = ("map", "agencies", "ranking", "resolved")
ROTATE_MS = 15000
ORIENTATIONS = ("portrait", "landscape")
# Colour ramp of the hex layers (few bins: one GeoJSON layer per bin, a static style each).
RAMP = ("#fde68a", "#fbbf24", "#f97316", "#dc2626", "#7f1d1d")


def config_from(services, params: dict) -> dict:
    lang = params.get("lang") if params.get("lang") in ("id", "en") else None
    view = params.get("view") if params.get("view") in VIEWS else None
    orientation = params.get("orientation") if params.get("orientation") in ORIENTATIONS else "auto"
    return {"lang": lang, "view": view, "orientation": orientation,
            "default_lang": services.settings.language}


def current(config: dict, tick: int) -> tuple[str, str]:
    """(view, language) shown at the ``tick``-th rotation step."""
    views = [config["view"]] if config["view"] else list(VIEWS)
    view = views[tick % len(views)]
    if config["lang"]:
        return view, config["lang"]
    # Alternate the language after each full round of views (each view every round in both).
    first = config["default_lang"]
    other = "en" if first == "id" else "id"
    return view, first if (tick // len(views)) % 2 == 0 else other


def duration(hours: float | None, lang: str) -> str:
    if hours is None:
        return "—"
    # numbers by the language's rules (Babel, app.i18n): "1,5 jam" / "1.5 h"
    if hours < 1:
        return t("kiosk.minutes", lang, n=number(max(1, round(hours * 60)), lang))
    if hours < 48:
        return t("kiosk.hours", lang, n=number(round(hours, 1), lang, 1) if hours < 10 else number(round(hours), lang))
    return t("kiosk.days", lang, n=number(round(hours / 24, 1), lang, 1))


def _number(value, lang: str) -> str:
    return "—" if value is None else number(value, lang)


def _tile(label: str, value: str, name: str) -> html.Div:
    return html.Div([html.Div(value, className="kiosk-tile-value", id=f"kiosk-tile-{name}"),
                     html.Div(label, className="kiosk-tile-label")], className="kiosk-tile")


def counts_panel(summary: dict, lang: str) -> html.Div:
    blocks = []
    for window_name, label in (("today", "kiosk.today"), ("7d", "kiosk.week")):
        w = summary[window_name]
        median = duration(w["median_resolve_s"] / 3600, lang) if w["median_resolve_s"] else "—"
        blocks.append(html.Div([
            html.H2(t(label, lang)),
            html.Div([_tile(t("kiosk.received", lang), _number(w["received"], lang), f"{window_name}-received"),
                      _tile(t("kiosk.resolved", lang), _number(w["resolved"], lang), f"{window_name}-resolved"),
                      _tile(t("kiosk.median", lang), median, f"{window_name}-median")],
                     className="kiosk-tiles")], className="kiosk-counts-block"))
    return html.Div(blocks, className="kiosk-counts")


def hex_layers(cells: dict[str, int]) -> list:
    """One GeoJSON layer per colour bin: polygons of the res-7 cells (a few hundred at most)."""
    if not cells:
        return []
    top = max(cells.values())
    bins: list[list] = [[] for _ in RAMP]
    for cell, count in cells.items():
        index = min(len(RAMP) - 1, int(len(RAMP) * (count / top) ** 0.5 - 1e-9)) if top else 0
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
        bins[index].append({"type": "Feature", "properties": {"count": count},
                            "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}})
    return [dl.GeoJSON(data={"type": "FeatureCollection", "features": features}, interactive=False,
                       style={"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.65})
            for colour, features in zip(RAMP, bins) if features]


def map_view(services, lang: str) -> html.Div:
    summary = public.payload(services, "summary")
    today = public.payload(services, "hexes", "today")
    (south, west), (north, east) = services.preset.bounds
    hex_map = dl.Map(
        id=MAP, bounds=[[south, west], [north, east]], center=list(services.preset.center),
        zoom=services.preset.zoom, zoomSnap=0.25, preferCanvas=True, zoomControl=False, attributionControl=False,
        dragging=False, scrollWheelZoom=False, doubleClickZoom=False, touchZoom=False, keyboard=False,
        children=[dl.GeoJSON(data=services.areas.outlines_geojson("district"), interactive=False,
                             style={"color": "#8aa0bd", "weight": 1, "fill": True, "fillColor": "#1c2635",
                                    "fillOpacity": 0.6}),
                  *hex_layers(today["cells"])], className="kiosk-leaflet")
    legend = html.Div([html.Span(t("kiosk.legend", lang, window=t("kiosk.today", lang).lower())),
                       *[html.Span(className="kiosk-swatch", style={"background": c}) for c in RAMP]],
                      className="kiosk-legend")
    return html.Div([html.Div([hex_map, legend], className="kiosk-map"), counts_panel(summary, lang)],
                    className="kiosk-split")


def agencies_view(services, lang: str) -> html.Div:
    data = public.payload(services, "agencies")
    head = html.Tr([html.Th(t("kiosk.agency", lang)), html.Th(t("kiosk.reports", lang)),
                    html.Th(t("kiosk.resolution_rate", lang)), html.Th(t("kiosk.median_short", lang))])
    rows = []
    for a in data["agencies"]:
        if a["reports"] is None:
            continue
        rate = a["resolution_rate"]
        rows.append(html.Tr([html.Td(a["name"][lang]), html.Td(_number(a["reports"], lang)),
                             html.Td([html.Div(percent(rate * 100, lang, 0)),
                                      html.Div(html.Div(style={"width": f"{rate * 100:.0f}%"}),
                                               className="kiosk-bar")]),
                             html.Td(duration(a["median_hours"], lang))]))
    hidden = sum(1 for a in data["agencies"] if a["reports"] is None)
    note = t("kiosk.too_few", lang, k=number(data["k"], lang)) + f": {number(hidden, lang)}" if hidden else ""
    body = html.Table([html.Thead(head), html.Tbody(rows)], className="kiosk-table") if rows else \
        html.P(t("kiosk.none_yet", lang))
    return html.Div([body, html.P(note, className="kiosk-note")], className="kiosk-agencies")


def _ranking_block(data: dict, lang: str, limit: int) -> html.Div:
    items = [html.Li([html.Span(number(row["rank"], lang), className="kiosk-rank"),
                      html.Div([html.Div(row["name"][lang], className="kiosk-rank-name"),
                                html.Div(t("kiosk.rank_detail", lang,
                                           resolved=number(round(row["resolved_share"] * 100), lang),
                                           median=duration(row["median_hours"], lang),
                                           rating=number(1 + 4 * row["rating"], lang, 1),
                                           reopened=number(round(row["reopened_share"] * 100), lang),
                                           photo=number(round(row["photo_share"] * 100), lang)),
                                         className="kiosk-rank-detail")],
                               className="kiosk-rank-body"),
                      html.Span(number(row["score"], lang), className="kiosk-rank-score")])
             for row in data["ranked"][:limit]]
    return html.Div([html.H2(t(f"kiosk.level.{data['level']}", lang)),
                     html.Ol(items, className="kiosk-ranking") if items else html.P(t("kiosk.none_yet", lang)),
                     html.P(t("kiosk.not_ranked", lang, n=number(len(data["not_ranked"]), lang),
                              min=number(data["min_reports"], lang)),
                            className="kiosk-note")], className="kiosk-ranking-block")


def ranking_view(services, lang: str) -> html.Div:
    blocks = [_ranking_block(public.payload(services, "ranking", level), lang, 8)
              for level in ("agency", "kecamatan", "kelurahan")]
    return html.Div(blocks, className="kiosk-rankings")


def resolved_view(services, lang: str) -> html.Div:
    items = public.payload(services, "resolved")["items"]
    if not items:
        return html.Div(html.P(t("kiosk.none_yet", lang)), className="kiosk-resolved")

    def photo(url, label):
        image = html.Img(src=web_paths.url(url), alt=label) if url else html.Div(t("kiosk.no_photo", lang), className="kiosk-nophoto")
        return html.Figure([image, html.Figcaption(label)])

    cards = []
    for item in items[:4]:
        category = BY_CODE.get(item["category"])
        cards.append(html.Div([
            html.Div([photo(item["before_photo"], t("kiosk.before", lang)),
                      photo(item["after_photo"], t("kiosk.after", lang))], className="kiosk-photos"),
            html.Div([html.Strong(f"{category.icon} {category.name(lang)}" if category else item["category"]),
                      html.Span(" · " + " / ".join(x for x in (item["kelurahan"], item["kecamatan"]) if x))],
                     className="kiosk-card-title"),
            html.Div(t("kiosk.resolved_in", lang, d=duration(item["hours_to_resolve"], lang)),
                     className="kiosk-card-meta"),
            html.P(item["text"], className="kiosk-card-text") if item["text"] else None,
        ], className="kiosk-card"))
    return html.Div(cards, className="kiosk-resolved")


RENDER = {"map": map_view, "agencies": agencies_view, "ranking": ranking_view, "resolved": resolved_view}


def render(services, view: str, lang: str) -> tuple:
    """(view children, title, formula line, privacy line) of one rotation step."""
    minimum = public.min_reports(services)
    formula = public.ranking.FORMULA[lang].format(min=number(minimum, lang))
    privacy = t("kiosk.privacy", lang, k=number(services.settings.public_k, lang))
    return RENDER[view](services, lang), t(f"kiosk.view.{view}", lang), formula, privacy


def layout(services, params: dict) -> html.Div:
    config = config_from(services, params)
    view, lang = current(config, 0)
    content, title, formula, privacy = render(services, view, lang)
    preset = services.preset
    return html.Div([
        html.Header([html.Div([html.Span("Pantau", className="kiosk-brand"),
                               html.Span(preset.name, className="kiosk-city")]),
                     html.H1(title, id=TITLE, className="kiosk-title")], className="kiosk-header"),
        html.Main(content, id=VIEW, className="kiosk-body"),
        html.Footer([html.Div(formula, id=FORMULA, className="kiosk-formula"),
                     html.Div(privacy, id=PRIVACY, className="kiosk-privacy")],
                    className="kiosk-footer"),
        dcc.Store(id=CONFIG, data=config),
        dcc.Interval(id=TICK, interval=ROTATE_MS),
    ], id=ROOT, className=f"kiosk kiosk-{config['orientation']}", lang=lang)
