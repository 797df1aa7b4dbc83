"""The kiosk rotates: every tick shows the next view (and, after a full round, the other language)."""
from __future__ import annotations

from dash import Input, Output, State

from layouts import kiosk


def register(dash_app, services) -> None:
    @dash_app.callback(Output(kiosk.VIEW, "children"), Output(kiosk.TITLE, "children"),
                       Output(kiosk.FORMULA, "children"), Output(kiosk.PRIVACY, "children"),
                       Output(kiosk.ROOT, "lang"),
                       Input(kiosk.TICK, "n_intervals"), State(kiosk.CONFIG, "data"),
                       prevent_initial_call=True)
    def rotate(tick, config):
        view, lang = kiosk.current(config, tick or 0)
        content, title, formula, privacy = kiosk.render(services, view, lang)
        return content, title, formula, privacy, lang
