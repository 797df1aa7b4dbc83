"""The dispatch console's reactions: refresh the queue from the filters, open a report, act on it."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, html, no_update

from app.i18n import local_time, t
from app.staff import actions, queue
from app.staff.actions import error_kind
from app.staff.service import report_detail
from app.web_errors import CallbackInputInvalid
from layouts import dispatch as ids
from layouts.staff_common import current_staff, photo, sla_badge, status_badge


def _filter(status, category, agency, kecamatan, kelurahan, cell, sla_state, sort) -> queue.QueueFilter:
    return queue.QueueFilter.from_params({"status": status or [], "category": category, "agency": agency,
                                          "kecamatan": kecamatan, "kelurahan": kelurahan,
                                          "h3": (cell or "").strip() or None, "sla": sla_state,
                                          "sort": sort or "age"})


def _export_href(flt: queue.QueueFilter, fmt: str) -> str:
    params = [("format", fmt)] + [("status", s) for s in flt.statuses]
    for key, value in (("category", flt.category), ("agency", flt.agency), ("kecamatan", flt.kecamatan_code),
                       ("kelurahan", flt.kelurahan_code), ("h3", flt.h3_cell), ("sla", flt.sla_state),
                       ("sort", flt.sort)):
        if value:
            params.append((key, value))
    return "/staff/api/export?" + urlencode(params)


def queue_table(items: list[dict], lang: str, pick_type: str, row_type: str) -> html.Table:
    head = html.Thead(html.Tr([html.Th(""), html.Th("Tiket"), html.Th(t("staff.status", lang)),
                               html.Th(t("staff.category", lang)), html.Th(t("staff.agency", lang)),
                               html.Th(t("staff.kelurahan", lang)), html.Th(t("staff.sla", lang))]))
    body = html.Tbody([html.Tr([
        html.Td(dbc.Checkbox(id={"type": pick_type, "id": i["id"], "v": i["version"]}, value=False)),
        html.Td(html.Button(i["ticket"], id={"type": row_type, "id": i["id"]}, className="btn btn-link btn-sm p-0",
                            n_clicks=0)),
        html.Td(status_badge(i["status"])), html.Td(i["category"]), html.Td(i["agency"] or "—"),
        html.Td(i["kelurahan_name"] or "—"), html.Td(sla_badge(i)),
    ], **{"data-report": i["id"]}) for i in items])
    return dbc.Table([head, body], size="sm", hover=True, className="queue-table")


def detail_panel(data: dict, lang: str, services) -> html.Div:
    preset = services.preset

    def when(iso: str) -> str:   # stored in UTC, shown in the city's zone
        moment = datetime.fromisoformat(iso)
        return local_time(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc), preset,
                          "%d-%m-%Y %H:%M")

    history = html.Ul([html.Li(f"{when(h['at'])} · {h['actor']} · {h['action']}"
                               + (f" {h['from'] or ''}→{h['to']}" if h["to"] else "")
                               + (f" · {h['note']}" if h.get("note") else "")) for h in data["history"]],
                      className="small")
    dupes = [html.Li(f"{d['ticket']} ({d['status']}) — {d['id']}") for d in data["duplicates"]]
    photos = [photo(ref, t("staff.before", lang)) for ref in data["photos"][:2]] + \
             [photo(ref, t("staff.after", lang)) for ref in data["after_photos"][-1:]]
    return html.Div([
        html.H4([data["ticket"], " ", status_badge(data["status"])], id="dispatch-detail-ticket"),
        html.P([f"{data['category']} · {data.get('kelurahan_name') or ''} · {data['priority']} · "
                f"{data.get('agency') or '—'} / {data.get('team') or '—'} · v{data['version']} · ",
                sla_badge({"sla_state": data["sla"]["state"],
                           "countdown": when(data["sla"]["expected_datetime"])
                           if data["sla"]["expected_datetime"] else ""})]),
        html.P(data["description"]),
        html.Div(photos, className="d-flex"),
        ids.report_map(services, data["lat"], data["lng"], data["category"]),
        html.H6(t("staff.public", lang)),
        html.P(t("staff.public_on", lang, by=data["public"]["by"], at=when(data["public"]["at"]))
               + (f" — “{data['public']['text']}”" if data["public"]["text"] else "")
               if data.get("public") else t("staff.public_off", lang), id="dispatch-public-state",
               className="small"),
        html.H6(t("staff.duplicates", lang)), html.Ul(dupes or [html.Li("—")], className="small"),
        html.H6(t("staff.history", lang)), history,
    ])


def register_report_opener(app, services, ids, lang: str) -> None:
    """Clicking a queue row opens its detail (shared by /dispatch and /tugas; ``ids`` is the screen's
    layout module, so each screen keeps its own component ids)."""

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
        except Exception as err:  # noqa: BLE001  shown to the user by kind
            if error_kind(err)[0] is None:
                raise
            return None, dbc.Alert(str(err), color="warning")
        return {"id": report_id, "version": data["version"]}, detail_panel(data, lang, services)


def _check_filters(status, page=None, **texts) -> None:
    """The filter values as the page's dropdowns send them (text, a list of text, a page number);
    a tampered one is a 400 naming it, before it reaches a query."""
    for name, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise CallbackInputInvalid(name, "must be text")
    if status is not None and not (isinstance(status, str) or (
            isinstance(status, list) and all(isinstance(s, str) for s in status))):
        raise CallbackInputInvalid("status", "must be a list of statuses")
    if page is not None and (not isinstance(page, int) or isinstance(page, bool) or page < 0):
        raise CallbackInputInvalid("page", "must be a page number")


def register(app, services) -> None:
    lang = services.settings.language
    filters = [Input(ids.STATUS, "value"), Input(ids.CATEGORY, "value"), Input(ids.AGENCY, "value"),
               Input(ids.KECAMATAN, "value"), Input(ids.KELURAHAN, "value"), Input(ids.CELL, "value"),
               Input(ids.SLA, "value"), Input(ids.SORT, "value")]

    @app.callback(Output(ids.PAGE, "data"), Input(ids.PREV, "n_clicks"), Input(ids.NEXT, "n_clicks"),
                  *filters, State(ids.PAGE, "data"), prevent_initial_call=True)
    def turn_page(_prev, _next, *rest):
        page = rest[-1] or 0
        if ctx.triggered_id == ids.NEXT:
            return page + 1
        if ctx.triggered_id == ids.PREV:
            return max(page - 1, 0)
        return 0

    @app.callback(Output(ids.QUEUE, "children"), Output(ids.PAGE_LABEL, "children"),
                  *[Output(ident, "href") for ident in ids.EXPORTS.values()],
                  *filters, Input(ids.PAGE, "data"), Input(ids.MESSAGE, "children"), Input(ids.TICK, "n_intervals"))
    def refresh(status, category, agency, kecamatan, kelurahan, cell, sla_state, sort, page, _msg, _tick):
        user = current_staff()
        _check_filters(status, category=category, agency=agency, kecamatan=kecamatan, kelurahan=kelurahan,
                       h3=cell, sla=sla_state, sort=sort, page=page)
        try:
            flt = _filter(status, category, agency, kecamatan, kelurahan, cell, sla_state, sort)
        except ValueError as err:
            return dbc.Alert(str(err), color="warning"), "", *["#"] * 3
        result = queue.page(services.engine, services.preset, flt, user, page or 0)
        total = f"{result['total']}{'+' if result['total_capped'] else ''}"
        return (queue_table(result["items"], lang, ids.PICK, ids.ROW),
                t("staff.page", lang, page=(page or 0) + 1, total=total),
                *[_export_href(flt, fmt) for fmt in ids.EXPORTS])

    register_report_opener(app, services, ids, lang)

    @app.callback(Output(ids.MESSAGE, "children"), Output(ids.MESSAGE, "color"), Output(ids.MESSAGE, "is_open"),
                  *[Input(ids.button_id(a), "n_clicks") for a in ids.ACTIONS],
                  State(ids.SELECTED, "data"), State(ids.TARGET_AGENCY, "value"), State(ids.TEAM, "value"),
                  State(ids.REASON, "value"), State(ids.MERGE_INTO, "value"), State(ids.PRIORITY, "value"),
                  State(ids.PUBLIC_TEXT, "value"),
                  State({"type": ids.PICK, "id": ALL, "v": ALL}, "value"), prevent_initial_call=True)
    def act(*args):
        selected, agency, team, reason, into, priority, public_text, picks = args[len(ids.ACTIONS):]
        action = ctx.triggered_id.removeprefix("dispatch-").replace("-", "_")
        user = current_staff()
        try:
            if action == "bulk_assign":
                picked = [s["id"] for s in ctx.states_list[-1] if s.get("value")]
                items = [{"id": p["id"], "version": p["v"]} for p in picked]
                if not items:
                    raise actions.ActionInvalid("selection", "tick the reports to assign")
                results = actions.bulk_assign(services, user, items, agency, team)
                ok = sum(1 for r in results if r["ok"])
                errors = "; ".join(r["error"] for r in results if not r["ok"])[:300]
                return (t("staff.bulk_done", lang, ok=ok, n=len(items)) + (f" — {errors}" if errors else ""),
                        "success" if ok == len(items) else "warning", True)
            if not selected:
                raise actions.ActionInvalid("report", "select a report first")
            rid, version = selected["id"], selected["version"]
            if action == "verify":
                out = actions.verify(services, user, rid, version, reason)
            elif action == "reject":
                out = actions.reject(services, user, rid, version, reason or "")
            elif action == "merge":
                out = actions.merge(services, user, rid, version, (into or "").strip())
            elif action == "assign":
                out = actions.assign(services, user, rid, version, agency, team)
            elif action in ("publish", "unpublish"):
                if action == "publish":
                    actions.publish(services, user, rid, public_text)
                else:
                    actions.unpublish(services, user, rid)
                return t(f"staff.{action}ed", lang, ticket=rid[:8]), "success", True
            else:
                out = actions.change_priority(services, user, rid, version, priority)
        except Exception as err:  # noqa: BLE001  every known failure is shown with its kind
            kind, _ = error_kind(err)
            if kind is None:
                raise
            return str(err), "danger" if kind in ("conflict", "forbidden") else "warning", True
        done = "staff.done_feed_pending" if out.get("feed") == "pending" else "staff.done"
        return t(done, lang, ticket=rid[:8], status=out.get("status") or out.get("priority")), "success", True
