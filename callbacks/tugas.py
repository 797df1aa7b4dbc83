"""The agency task list's reactions: list the agency's open work, open one, start, note, resolve."""
from __future__ import annotations

import base64

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, no_update

from app.i18n import t
from app.staff import actions, queue
from app.staff.api import error_kind, report_detail, resolve_with_upload
from callbacks.dispatch import detail_panel, queue_table
from layouts import tugas as ids
from layouts.staff_common import current_staff


def register(app, services) -> None:
    lang = services.settings.language

    @app.callback(Output(ids.LIST, "children"), Input(ids.MESSAGE, "children"), Input(ids.TICK, "n_intervals"))
    def refresh(_msg, _tick):
        flt = queue.QueueFilter(statuses=ids.OPEN_STATUSES, sort="sla_due")
        result = queue.page(services.engine, services.preset, flt, current_staff(), 0)
        return queue_table(result["items"], lang, ids.PICK, ids.ROW)

    @app.callback(Output(ids.PHOTO_NAME, "children"), Input(ids.PHOTO, "filename"), prevent_initial_call=True)
    def show_photo_name(filename):
        return filename or ""

    @app.callback(Output(ids.SELECTED, "data"), Output(ids.DETAIL, "children"),
                  Input({"type": ids.ROW, "id": ALL}, "n_clicks"), Input(ids.MESSAGE, "children"),
                  State(ids.SELECTED, "data"), prevent_initial_call=True)
    def open_report(clicks, _msg, selected):
        trigger = ctx.triggered_id
        # A re-rendered queue re-fires the row inputs with no clicks: then reload the open report.
        if isinstance(trigger, dict) and any(clicks):
            report_id = trigger["id"]
        elif selected:
            report_id = selected["id"]
        else:
            return no_update, no_update
        try:
            data = report_detail(services, current_staff(), report_id)
        except Exception as err:  # noqa: BLE001
            if error_kind(err)[0] is None:
                raise
            return None, dbc.Alert(str(err), color="warning")
        return {"id": report_id, "version": data["version"]}, detail_panel(data, lang)

    @app.callback(Output(ids.MESSAGE, "children"), Output(ids.MESSAGE, "color"), Output(ids.MESSAGE, "is_open"),
                  Input(ids.START, "n_clicks"), Input(ids.ADD_NOTE, "n_clicks"), Input(ids.RESOLVE, "n_clicks"),
                  State(ids.SELECTED, "data"), State(ids.NOTE, "value"), State(ids.PHOTO, "contents"),
                  State(ids.PHOTO, "filename"), prevent_initial_call=True)
    def act(_start, _note, _resolve, selected, note, contents, filename):
        user = current_staff()
        try:
            if not selected:
                raise actions.ActionInvalid("report", "select a report first")
            rid, version = selected["id"], selected["version"]
            if ctx.triggered_id == ids.START:
                out = actions.start(services, user, rid, version, note)
            elif ctx.triggered_id == ids.ADD_NOTE:
                out = actions.add_note(services, user, rid, note)
                out["status"] = "note"
            else:
                data = base64.b64decode(contents.split(",", 1)[1]) if contents else None
                out = resolve_with_upload(services, user, rid, version, None, note, data=data, filename=filename)
        except Exception as err:  # noqa: BLE001
            kind, _ = error_kind(err)
            if kind is None:
                raise
            return str(err), "danger" if kind in ("conflict", "forbidden") else "warning", True
        return t("staff.done", lang, ticket=rid[:8], status=out["status"]), "success", True
