"""The wall's reactions. The hex layer and the panels around the map (KPIs, categories, agencies,
spikes) reach every wall over Socket.IO (``app.live``, drawn by ``assets/wall.js``): no display
polls. This module hands the relay the panels' renderer and wires the spike rings and replay."""
from __future__ import annotations

from dash import Input, Output

from layouts import wall


def register(dash_app, services) -> None:
    # The relay (app.live, installed after the screens) renders the panels through this, once per
    # process and language, and pushes them to every wall of that language.
    dash_app.server.extensions["pantau_wall_panels"] = lambda lang: wall.panels_push(services, lang)

    dash_app.clientside_callback(
        "function(cells) { if (window.pantauWall) { window.pantauWall.setSpikes(cells || []); } return null; }",
        Output(wall.SPIKES_SINK, "data"), Input(wall.SPIKES_STORE, "data"))

    dash_app.clientside_callback(
        "function(n) { if (n && window.pantauWall) { window.pantauWall.timelapse(); } return null; }",
        Output(wall.TIMELAPSE, "title"), Input(wall.TIMELAPSE, "n_clicks"), prevent_initial_call=True)
