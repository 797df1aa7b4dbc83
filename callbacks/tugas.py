"""The field officer's task list reacts to its search, filters and pages. Actions on one task are not
Dash callbacks: ``assets/tugas.js`` posts them to the staff API from the task's own page."""
from __future__ import annotations

from dash import Input, Output, State, ctx, no_update

from app.staff.tasks import TASK_STATES, TaskFilter
from layouts import tugas as ids
from layouts.staff_common import current_staff


def register(app, services) -> None:
    chips = [ids.state_id(s) for s in ("",) + TASK_STATES]

    @app.callback(Output(ids.STATE, "data"), *[Output(c, "aria-pressed") for c in chips],
                  *[Input(c, "n_clicks") for c in chips], prevent_initial_call=True)
    def pick_state(*_clicks):
        state = (ctx.triggered_id or "").removeprefix("tugas-state-")
        state = "" if state == "all" else state
        return (state, *["true" if c == ids.state_id(state) else "false" for c in chips])

    @app.callback(Output(ids.FLAGS, "data"), Output("tugas-overdue", "aria-pressed"),
                  Output("tugas-mine", "aria-pressed"),
                  Input("tugas-overdue", "n_clicks"), Input("tugas-mine", "n_clicks"), prevent_initial_call=True)
    def toggle(overdue, mine):
        on = [name for name, n in (("overdue", overdue), ("mine", mine)) if (n or 0) % 2]
        return on, str("overdue" in on).lower(), str("mine" in on).lower()

    @app.callback(Output(ids.PAGE, "data"),
                  Input(ids.PREV, "n_clicks"), Input(ids.NEXT, "n_clicks"),
                  Input(ids.SEARCH, "value"), Input(ids.FLAGS, "data"), Input(ids.STATE, "data"),
                  State(ids.PAGE, "data"), prevent_initial_call=True)
    def turn_page(_prev, _next, _search, _flags, _state, page):
        if ctx.triggered_id == ids.PREV:
            return max((page or 0) - 1, 0)
        if ctx.triggered_id == ids.NEXT:
            return (page or 0) + 1
        return 0           # a new search or filter starts at the first page

    # Drawn with the screen (layouts.tugas.list_parts): redrawn on a new page, search or filter and
    # every half minute, never on the screen's first load (no round trip before the first task shows).
    @app.callback(Output(ids.LIST, "children"), Output(ids.COUNTS, "children"), Output(ids.PAGE_LABEL, "children"),
                  Output(ids.PREV, "disabled"), Output(ids.NEXT, "disabled"),
                  Input(ids.PAGE, "data"), Input(ids.TICK, "n_intervals"),
                  State(ids.SEARCH, "value"), State(ids.FLAGS, "data"), State(ids.STATE, "data"),
                  State(ids.LANG_CODE, "data"), prevent_initial_call=True)
    def refresh(page, _tick, search, flags, state, lang):
        user = current_staff()
        if user is None:
            return no_update, no_update, no_update, no_update, no_update
        lang = lang if lang in ("id", "en") else services.settings.language
        flags = flags or []
        flt = TaskFilter(search=(search or "")[:100], overdue="overdue" in flags, mine="mine" in flags,
                         state=state if state in TASK_STATES else None)
        return ids.list_parts(services, user, flt, page or 0, lang)
