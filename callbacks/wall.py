"""The wall's reactions: the panels around the map refresh every few seconds from the
aggregates (the hex layer itself is pushed over Socket.IO and drawn by ``assets/wall.js``)."""
from __future__ import annotations

from dash import Input, Output, State

from layouts import wall


def register(dash_app, services) -> None:
    @dash_app.callback(
        Output(wall.KPIS, "children"), Output(wall.CATEGORIES, "children"), Output(wall.AGENCIES, "children"),
        Output(wall.SPIKE, "children"), Output(wall.SPIKE, "style"), Output(wall.SPIKE, "className"),
        Output(wall.SPIKES_STORE, "data"),
        Input(wall.REFRESH, "n_intervals"), State(wall.LANG, "data"), prevent_initial_call=True)
    def refresh_panels(_n, lang):
        data = wall.panels(services, lang or services.settings.language)
        return (data["kpis"], data["categories"], data["agencies"], data["spike"], data["spike_style"],
                data["spike_class"], data["spikes"])

    dash_app.clientside_callback(
        "function(cells) { if (window.pantauWall) { window.pantauWall.setSpikes(cells || []); } return null; }",
        Output(wall.SPIKES_SINK, "data"), Input(wall.SPIKES_STORE, "data"))

    dash_app.clientside_callback(
        "function(n) { if (n && window.pantauWall) { window.pantauWall.timelapse(); } return null; }",
        Output(wall.TIMELAPSE, "title"), Input(wall.TIMELAPSE, "n_clicks"), prevent_initial_call=True)
