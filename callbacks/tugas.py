"""The agency task list's reactions: list the agency's open work, open one, start, note, resolve."""
from __future__ import annotations

import base64

from dash import Input, Output, State, ctx

from app.i18n import t
from app.staff import actions, queue
from app.staff.api import error_kind, resolve_with_upload
from callbacks.dispatch import queue_table, register_report_opener
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

    register_report_opener(app, services, ids, lang)

    @app.callback(Output(ids.MESSAGE, "children"), Output(ids.MESSAGE, "color"), Output(ids.MESSAGE, "is_open"),
                  Input(ids.START, "n_clicks"), Input(ids.ADD_NOTE, "n_clicks"), Input(ids.RESOLVE, "n_clicks"),
                  State(ids.SELECTED, "data"), State(ids.NOTE, "value"), State(ids.PHOTO, "contents"),
                  State(ids.PHOTO, "filename"), prevent_initial_call=True)
    def act(_start, _note, _resolve, selected, note, contents, filename):
        user = current_staff()
        try:
            if not selected:
                raise actions.ActionInvalid("report", "select a report first")
            # The browser holds this state: a tampered one is refused, never a crash.
            if not (isinstance(selected, dict) and isinstance(selected.get("id"), str)
                    and isinstance(selected.get("version"), int) and not isinstance(selected["version"], bool)):
                raise actions.ActionInvalid("report", "select a report first")
            if contents is not None and not isinstance(contents, str):
                raise actions.ActionInvalid("photo", "send the photo as a file")
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
        done = "staff.done_feed_pending" if out.get("feed") == "pending" else "staff.done"
        return t(done, lang, ticket=rid[:8], status=out["status"]), "success", True
