"""How /lacak reacts: the small map, drawn on a tap (the map library is fetched only then).

The map is the app's own Leaflet (dash-leaflet) with the configured tiles and the kecamatan outlines
(readable where no tile server is reachable). An ordinary report shows its point; a sensitive
category (social aid, health...) only the H3 cell around it, never the exact point, whoever looks.
"""
from __future__ import annotations

import re

import dash_leaflet as dl
import h3
from dash import ClientsideFunction, Input, Output, State, html
from sqlalchemy import select

from app.i18n import t
from app.public import is_sensitive
from app.store import db
from app.web_errors import CallbackInputInvalid
from layouts import lacak as ids

AREA_RESOLUTION = 7          # a sensitive report's area: an H3 cell of about 5 km²
_TICKET = re.compile(r"[A-Z0-9-]{4,24}")


def register(dash_app, services) -> None:
    dash_app.clientside_callback(ClientsideFunction("pantauLacak", "loadMap"), Output(ids.MAP_READY, "data"),
                                 Input(ids.MAP_OPEN, "n_clicks"), prevent_initial_call=True)

    @dash_app.callback(Output(ids.MAP_BOX, "children"), Input(ids.MAP_READY, "data"),
                       State(ids.MAP_TICKET, "data"), State(ids.MAP_LANG, "data"), prevent_initial_call=True)
    def open_map(ready, ticket, lang):
        lang = lang if lang in ("id", "en") else "id"
        if not isinstance(ticket, str) or not _TICKET.fullmatch(ticket):
            raise CallbackInputInvalid("ticket", "must be a ticket number")
        if ready != "ready":
            return html.Div(t("lapor.map_failed" if ready == "failed" else "lapor.map_loading", lang),
                            className="lapor-hint", role="status")
        with services.engine.connect() as conn:
            row = conn.execute(select(db.reports.c.lat, db.reports.c.lng, db.reports.c.category)
                               .where(db.reports.c.city == services.preset.slug,
                                      db.reports.c.ticket == ticket)).first()
        if row is None:
            raise CallbackInputInvalid("ticket", "no such report in this city")
        sensitive = is_sensitive(row.category)
        tiles = getattr(services.settings, "tile_url", None) or "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        layers = [dl.TileLayer(url=tiles),
                  dl.GeoJSON(data=services.areas.outlines_geojson("district"), interactive=False,
                             style={"color": "#8fa3bf", "weight": 1, "fillOpacity": 0.05})]
        if sensitive:
            cell = h3.latlng_to_cell(row.lat, row.lng, AREA_RESOLUTION)
            center = list(h3.cell_to_latlng(cell))
            layers.append(dl.Polygon(positions=[list(p) for p in h3.cell_to_boundary(cell)], className="lacak-map-area",
                                     color="#ffd27a", weight=2, fillOpacity=0.25, interactive=False))
            zoom = 13
        else:
            center = [row.lat, row.lng]
            layers.append(dl.CircleMarker(center=center, radius=9, color="#ffffff", weight=3, fillColor="#e74c3c",
                                          fillOpacity=1, className="lacak-map-point", interactive=False))
            zoom = 16
        return html.Div([
            dl.Map(id=ids.MAP, center=center, zoom=zoom, className="lapor-map", children=layers),
            html.P(t("lacak.map_area_note", lang), className="lapor-hint", id=f"{ids.MAP}-note") if sensitive else None,
        ], role="region", **{"aria-label": t("lacak.map_label", lang)})
