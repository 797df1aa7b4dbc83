"""The dispatch console's reactions: refresh the queue from the filters, open a report, act on it."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, Patch, State, ctx, html, no_update

from app import audit, followup, spikes
from app.i18n import local_time, number, t
from app.kinerja import formats
from app.staff import actions, queue
from app.staff import push as push_relay
from app.staff.actions import error_kind
from app.staff.service import report_detail
from app.store import db
from app.workflow import InvalidTransition, Status
from config.catalogue import CATEGORIES
from app.web_errors import CallbackInputInvalid
from layouts import dispatch as ids
from layouts.staff_common import current_staff, photo, sla_badge, status_badge
from app.web_paths import url
from layouts.tugas import flag_words
from app.photos import thumb_ref_of
from app.i18n import distance


def _filter(status, category, agency, kecamatan, kelurahan, cell, sla_state, sort, q=None, date_from=None,
            date_to=None, proof=None) -> queue.QueueFilter:
    return queue.QueueFilter.from_params({"status": status or [], "category": category, "agency": agency,
                                          "kecamatan": kecamatan, "kelurahan": kelurahan,
                                          "h3": (cell or "").strip() or None, "sla": sla_state,
                                          "sort": sort or "age", "q": q, "from": date_from or None,
                                          "to": date_to or None, "proof": "flagged" if proof else None})


def _export_href(flt: queue.QueueFilter, fmt: str, lang: str = "id") -> str:
    params = [("format", fmt), ("lang", lang)] + [("status", s) for s in flt.statuses]
    for key, value in (("category", flt.category), ("agency", flt.agency), ("kecamatan", flt.kecamatan_code),
                       ("kelurahan", flt.kelurahan_code), ("h3", flt.h3_cell), ("sla", flt.sla_state),
                       ("sort", flt.sort), ("q", flt.q), ("proof", flt.proof),
                       ("from", flt.date_from and flt.date_from.isoformat()),
                       ("to", flt.date_to and flt.date_to.isoformat())):
        if value:
            params.append((key, value))
    return url("/staff/api/export?") + urlencode(params)


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


# ---- the console's words ------------------------------------------------------------------------

def state_word(status: str, lang: str) -> str:
    return t(f"dispatch.status.{status}", lang)


def state_badge(status: str, lang: str) -> html.Span:
    return html.Span(state_word(status, lang), className=f"badge dispatch-state dispatch-state-{status} me-1",
                     **{"data-status": status})


def span_words(seconds: int, lang: str) -> str:
    """``97200`` -> "1 hari 3 jam" / "1 d 3 h"; under a day hours and minutes, under an hour minutes."""
    days, rest = divmod(abs(int(seconds)), 86400)
    hours, minutes = rest // 3600, (rest % 3600) // 60
    parts = []
    if days:
        parts.append(t("dispatch.days", lang, n=number(days, lang)))
        if hours:
            parts.append(t("dispatch.hours", lang, n=number(hours, lang)))
    elif hours:
        parts.append(t("dispatch.hours", lang, n=number(hours, lang)))
        if minutes:
            parts.append(t("dispatch.minutes", lang, n=number(minutes, lang)))
    else:
        parts.append(t("dispatch.minutes", lang, n=number(max(minutes, 1), lang)))
    return " ".join(parts)


def deadline_words(remaining_s, lang: str) -> str:
    """"1 hari 3 jam lagi" / "terlambat 2 jam" ("1 d 3 h left" / "2 h late"); "selesai" when done."""
    if remaining_s is None:
        return t("dispatch.deadline_done", lang)
    key = "dispatch.left" if remaining_s >= 0 else "dispatch.late"
    return t(key, lang, time=span_words(remaining_s, lang))


def deadline_badge(state: str, remaining_s, lang: str) -> html.Span:
    return html.Span(deadline_words(remaining_s, lang), className=f"badge dispatch-sla dispatch-sla-{state}",
                     **{"data-sla": state})


def category_word(code: str, lang: str) -> str:
    return next((c.name(lang) for c in CATEGORIES if c.code == code), code)


def who(actor: str | None, lang: str) -> str:
    """``supervisor:ani`` -> "ani (supervisor)"; a bare role or channel in words."""
    actor = actor or "system"
    if ":" in actor:
        role, name = actor.split(":", 1)
        return t("dispatch.who", lang, user=name, role=t(f"dispatch.role.{role}", lang)
                 if f"dispatch.role.{role}" != t(f"dispatch.role.{role}", lang) else role)
    key = f"dispatch.role.{actor}"
    word = t(key, lang)
    return actor if word == key else word


def history_line(item: dict, lang: str, preset, agencies: dict) -> str:
    action, to = item.get("action"), item.get("to")
    key = f"dispatch.did.{action}"
    if t(key, lang) == key or action == "status":
        key = f"dispatch.did.status.{to}" if to else "dispatch.did.status"
    did = t(key, lang)
    if t(key, lang) == key:
        did = t("dispatch.did.status", lang)
    agency = (item.get("detail") or {}).get("agency")
    if agency and action in ("assign", "bulk_assign"):
        did += " " + t("dispatch.to_agency", lang, agency=agency)
    return t("dispatch.history_line", lang, who=who(item.get("actor"), lang), did=did,
             at=_moment(item["at"], preset, lang))


def _moment(iso: str, preset, lang: str) -> str:
    moment = datetime.fromisoformat(iso)
    return formats.moment(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc), preset, lang)


def error_words(err: Exception, lang: str, ticket: str = "") -> str:
    """A refused action in the user's words (never an exception's English text)."""
    if isinstance(err, followup.VersionConflict):
        return t("dispatch.err.conflict", lang)
    if isinstance(err, InvalidTransition):
        return t("dispatch.err.transition", lang, ticket=ticket, state=state_word(str(err.current.value), lang))
    if isinstance(err, actions.Forbidden):
        return t("dispatch.err.forbidden", lang)
    if isinstance(err, followup.ReportNotFound):
        return t("dispatch.err.not_found", lang)
    field = getattr(err, "field", None)
    rule = str(err)
    if field in ("reason", "public_text") and "phone" in rule:
        return t("dispatch.err.contact", lang)
    named = {"agency": "agency", "reason": "reason", "into": "into", "priority": "priority",
             "public_text": "public_text", "status": "publish_state", "category": "sensitive",
             "report": "not_public", "selection": "selection", "select": "select"}
    if field in named:
        return t(f"dispatch.err.{named[field]}", lang)
    if rule.startswith("h3"):
        return t("dispatch.err.h3", lang)
    if rule.startswith(("from", "to")):
        return t("dispatch.err.dates", lang)
    if rule.startswith("proof"):
        return t("dispatch.err.other", lang, field=t("dispatch.proof_flagged", lang))
    return t("dispatch.err.other", lang, field=field or "—")


# ---- the queue and the detail ------------------------------------------------------------------

def console_row(i: dict, lang: str, picked: dict, open_id: str | None) -> html.Tr:
    """One report of the queue (keyed by its id, so a push inserts it without redrawing the others)."""
    mine = i["id"] == open_id
    return html.Tr([
        html.Td(dbc.Checkbox(id={"type": ids.PICK, "id": i["id"], "v": i["version"]}, value=i["id"] in picked,
                             label=html.Span(t("dispatch.pick", lang, ticket=i["ticket"]),
                                             className="visually-hidden"))),
        html.Td(html.Button(i["ticket"], id={"type": ids.ROW, "id": i["id"]}, n_clicks=0,
                            className="btn btn-link btn-sm p-0 dispatch-ticket",
                            **{"aria-label": t("dispatch.open", lang, ticket=i["ticket"])})),
        html.Td(state_badge(i["status"], lang)), html.Td(category_word(i["category"], lang)),
        html.Td(i["agency"] or "—"), html.Td(i["kelurahan_name"] or "—"),
        html.Td(deadline_badge(i["sla_state"], i.get("remaining_s"), lang)),
    ], id=f"{ids.ROW_PREFIX}{i['id']}", className="dispatch-open" if mine else None,
        **{"data-report": i["id"], "data-ticket": i["ticket"], "aria-current": "true" if mine else "false"})


def console_table(items: list[dict], lang: str, picked: dict, open_id: str | None) -> html.Table:
    cols = ("pick", "ticket", "status", "category", "agency", "kelurahan_name", "deadline")
    head = html.Thead(html.Tr([html.Th(t(f"dispatch.col.{c}", lang) if c != "pick" else
                                       html.Span(t("dispatch.col.pick", lang), className="visually-hidden"),
                                       scope="col") for c in cols]))
    rows = [console_row(i, lang, picked, open_id) for i in items]
    # the rows stay the table's third child: a push patches ["props"]["children"][2]["props"]["children"]
    return dbc.Table([html.Caption(t("dispatch.queue_caption", lang), className="visually-hidden"), head,
                      html.Tbody(rows)], size="sm", hover=True, className="queue-table dispatch-table")


def rows_patch(delta, items: list[dict], lang: str, picked: dict, open_id: str | None) -> Patch:
    """The queue's table moved from the rows on screen to ``items`` (``push.row_delta``)."""
    deletes, inserts = delta
    table = Patch()
    body = table["props"]["children"][2]["props"]["children"]
    for index in deletes:
        del body[index]
    by_id = {i["id"]: i for i in items}
    for index, report_id in inserts:
        body.insert(index, console_row(by_id[report_id], lang, picked, open_id))
    return table


def count_chips(counts: dict, lang: str) -> list:
    """The per-state counts above the queue (each a button filtering to its state)."""
    work = sum(counts.get(s, 0) for s in ids.WORK_STATES)

    def chip(state, label, n=None, primary=False):
        count = [" ", html.Span(number(n, lang), className="badge dispatch-count-n")] if n is not None else []
        return html.Button([label, *count], id={"type": ids.COUNT, "state": state}, n_clicks=0, type="button",
                           className="btn btn-sm me-2 mb-1 " + ("btn-warning" if primary else "btn-outline-light"),
                           **{"data-state": state, "data-count": n if n is not None else ""})

    chips = [chip("work", t("dispatch.work", lang), work, primary=True)]
    chips += [chip(s.value, state_word(s.value, lang), counts.get(s.value, 0)) for s in queue_states()]
    chips.append(chip("open", t("dispatch.all_open", lang)))
    return chips


def chips_patch(before: dict, after: dict, lang: str) -> Patch:
    """The count chips moved to ``after`` in place: only their numbers (a redrawn chip would be a new
    button, and Dash would run its click callback, which the queue then waits for)."""
    states = ["work", *[s.value for s in queue_states()]]

    def n(counts, state):
        return sum(counts.get(s, 0) for s in ids.WORK_STATES) if state == "work" else counts.get(state, 0)

    chips = Patch()
    for index, state in enumerate(states):
        if n(before, state) != n(after, state):
            chips[index]["props"]["children"][2]["props"]["children"] = number(n(after, state), lang)
            chips[index]["props"]["data-count"] = n(after, state)
    return chips


def _shown(value) -> dict:
    """The queue's own store as the browser sent it back; a tampered one reads as nothing shown."""
    if not isinstance(value, dict):
        return {}
    rows, counts = value.get("rows"), value.get("counts")
    ok = (isinstance(rows, list) and all(isinstance(r, list) and len(r) == 2 and isinstance(r[0], str)
                                         and isinstance(r[1], int) for r in rows)
          and isinstance(counts, dict) and all(isinstance(k, str) and isinstance(v, int) for k, v in counts.items())
          and isinstance(value.get("total"), int) and isinstance(value.get("counted"), (int, float)))
    return value if ok else {}


def _pushed_ids(push: dict) -> list[str]:
    new = push.get("new")
    if not (isinstance(new, list) and len(new) <= push_relay.MAX_IDS and all(isinstance(i, str) for i in new)):
        raise CallbackInputInvalid("push", "must name reports")
    return [i[:64] for i in new]


def console_detail(data: dict, lang: str, services) -> tuple[html.Article, html.Div]:
    """The report read first (ticket, state, deadline, what and where, the citizen's words, photos),
    then, below the quick actions, its map, likely duplicates, public view and history."""
    preset = services.preset
    agencies = {a.code: a.name(lang) for a in preset.agencies}
    sla_view = data["sla"]
    dupes = [duplicate_item(d, lang, preset) for d in data["duplicates"]]
    photos = [photo(ref, t("dispatch.before", lang)) for ref in data["photos"][:2]] + \
             [photo(ref, t("dispatch.after", lang)) for ref in data["after_photos"][-1:]]
    public = data.get("public")
    return html.Article([
        html.H2([data["ticket"], " ", state_badge(data["status"], lang),
                 deadline_badge(sla_view["state"], sla_view.get("remaining_s"), lang)],
                id="dispatch-detail-ticket", className="h4"),
        html.P([html.Strong(category_word(data["category"], lang)), " · ",
                data.get("kelurahan_name") or "—", ", ", data.get("kecamatan_name") or ""], className="mb-1"),
        html.P(t("dispatch.meta", lang, at=_moment(data["created_at"], preset, lang),
                 priority=t(f"dispatch.priority.{data['priority']}", lang),
                 agency=data.get("agency") or t("dispatch.no_agency", lang), team=data.get("team") or "—")
               + " · " + t("dispatch.version", lang, n=number(data["version"], lang)), className="small mb-1"),
        html.Blockquote(data["description"] or "—", className="dispatch-description"),
        html.Div(photos, className="d-flex"),
    ]), html.Div([
        html.Figure([ids.report_map(services, data["lat"], data["lng"], data["category"],
                                    [(d["lat"], d["lng"], d["ticket"]) for d in data["duplicates"]]),
                     html.Figcaption(t("dispatch.report_map", lang), className="visually-hidden")], className="mb-1"),
        proof_section(data.get("proof_flags") or [], lang, preset),
        html.H3(t("dispatch.duplicates", lang), className="h6 mt-2"),
        html.Ul(dupes or [html.Li(t("dispatch.none", lang))], className="list-unstyled small dispatch-duplicates"),
        html.H3(t("dispatch.public_title", lang), className="h6"),
        html.P(t("dispatch.public_on", lang, by=public["by"], at=_moment(public["at"], preset, lang))
               + (f" — “{public['text']}”" if public["text"] else "")
               if public else t("dispatch.public_off", lang), id="dispatch-public-state", className="small"),
        html.H3(t("dispatch.history", lang), className="h6"),
        html.Ul([html.Li(history_line(h, lang, preset, agencies)) for h in data["history"]],
                className="small dispatch-history"),
    ])


def duplicate_item(d: dict, lang: str, preset) -> html.Li:
    """A likely duplicate by ticket: thumbnail, category, time, distance and state; opens in the panel."""
    thumb = thumb_ref_of(d["photo"]) if d.get("photo") else None
    words = t("dispatch.dup_line", lang, ticket=d["ticket"], category=category_word(d["category"], lang),
              at=_moment(d["created_at"], preset, lang), distance=distance(d["distance_m"], lang),
              state=state_word(d["status"], lang))
    return html.Li(html.Button([
        html.Img(src=f"/photos/{thumb}", alt="", className="dispatch-dup-thumb me-2") if thumb else
        html.Span(className="dispatch-dup-thumb dispatch-dup-nophoto me-2", **{"aria-hidden": "true"}),
        html.Span(words)], id={"type": ids.DUPLICATE, "id": d["id"]}, n_clicks=0, type="button",
        className="btn btn-link btn-sm p-0 text-start d-flex align-items-center dispatch-dup",
        **{"data-ticket": d["ticket"], "aria-label": t("dispatch.open", lang, ticket=d["ticket"]) + " — " + words}),
        className="mb-1")


def proof_section(flags: list[dict], lang: str, preset):
    """The proof-of-work flags of the resolution, in words (``app.proof``); nothing when there are none."""
    if not flags:
        return None

    return html.Div([
        html.H3(t("dispatch.proof_title", lang), className="h6 mt-2"),
        html.Ul([html.Li(f"{flag_words(f, lang)} · {who(f.get('actor'), lang)} · {_moment(f['at'], preset, lang)}")
                 for f in flags], className="small dispatch-proof-flags"),
    ], className="dispatch-proof")


def _page_words(page, total: int, capped: bool, lang: str) -> str:
    return t("dispatch.page", lang, page=number((page or 0) + 1, lang),
             total=f"{number(total, lang)}{'+' if capped else ''}")


def _ticket_id(services, user, ticket: str) -> str:
    """The report id behind a ticket the user typed (merge by ticket)."""
    from sqlalchemy import select

    wanted = (ticket or "").strip().upper()
    if not wanted:
        raise actions.ActionInvalid("into", "name the ticket to merge into")
    r = db.reports
    with services.engine.connect() as conn:
        found = conn.execute(select(r.c.id).where(r.c.city == services.preset.slug, r.c.ticket == wanted)).first()
    if found is None:
        raise actions.ActionInvalid("into", f"no ticket {wanted}")
    return found.id


def _lang(lang) -> str:
    """The screen's language from its store (a tampered value reads as Indonesian)."""
    return lang if isinstance(lang, str) and lang in ("id", "en") else "id"


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


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


COUNT_EVERY_S = 3.0    # between pushes the counts move by the new reports; recounted in full this often


def register(app, services) -> None:
    preset = services.preset
    filters = [Input(ids.STATUS, "value"), Input(ids.CATEGORY, "value"), Input(ids.AGENCY, "value"),
               Input(ids.KECAMATAN, "value"), Input(ids.KELURAHAN, "value"), Input(ids.CELL, "data"),
               Input(ids.SLA, "value"), Input(ids.SORT, "value"), Input(ids.SEARCH, "value"),
               Input(ids.DATE_FROM, "value"), Input(ids.DATE_TO, "value"), Input(ids.PROOF, "value")]

    @app.callback(Output(ids.CELL, "data"), Output(ids.CELL_LABEL, "children"), Output(ids.PICKER_HEX, "children"),
                  Output(ids.CELL_CLEAR, "style"), Input(ids.PICKER, "clickData"), Input(ids.CELL_CLEAR, "n_clicks"),
                  State(ids.LANG, "data"), prevent_initial_call=True)
    def pick_cell(click, _clear, lang):
        """A click on the picker chooses the hex under it; the clear button forgets it."""
        import h3

        lang = _lang(lang)
        if ctx.triggered_id == ids.CELL_CLEAR:
            return None, "", [], {"display": "none"}
        point = (click or {}).get("latlng") if isinstance(click, dict) else None
        if not (isinstance(point, dict) and all(isinstance(point.get(k), (int, float)) for k in ("lat", "lng"))
                and -90 <= point["lat"] <= 90 and -180 <= point["lng"] <= 180):
            raise CallbackInputInvalid("clickData", "must be a point on the map")
        cell = h3.latlng_to_cell(point["lat"], point["lng"], ids.PICK_RESOLUTION)
        return cell, ids.cell_words(services, cell, lang), ids.cell_outline(cell), None

    app.clientside_callback("function (lang) { document.documentElement.lang = lang; return lang; }",
                            Output(ids.LANG_SET, "data"), Input(ids.LANG, "data"))
    # the open row marked at once (the next refresh renders it marked too)
    app.clientside_callback(
        """function (selected) {
            document.querySelectorAll('.dispatch-table tr[data-report]').forEach(function (tr) {
                var mine = !!selected && tr.getAttribute('data-report') === selected.id;
                tr.classList.toggle('dispatch-open', mine);
                tr.setAttribute('aria-current', mine ? 'true' : 'false');
            });
            return window.dash_clientside.no_update;
        }""", Output(ids.DETAIL, "className"), Input(ids.SELECTED, "data"))

    # A row's ticket clicked reaches the server through ROW_CLICK, set by assets/dispatch.js (one
    # listener on the page, no callback on the rows): rows a push inserts fire nothing, so the
    # queue's next update never waits on the detail's reload.

    @app.callback(Output(ids.PAGE, "data"), Input(ids.PREV, "n_clicks"), Input(ids.NEXT, "n_clicks"),
                  *filters, State(ids.PAGE, "data"), prevent_initial_call=True)
    def turn_page(_prev, _next, *rest):
        page = rest[-1] or 0
        if ctx.triggered_id == ids.NEXT:
            return page + 1
        if ctx.triggered_id == ids.PREV:
            return max(page - 1, 0)
        return 0 if page else no_update          # already on the first page: no second refresh

    @app.callback(Output(ids.STATUS, "value"), Input({"type": ids.COUNT, "state": ALL}, "n_clicks"),
                  prevent_initial_call=True)
    def count_clicked(clicks):
        if not isinstance(ctx.triggered_id, dict) or not any(clicks):
            return no_update
        state = ctx.triggered_id["state"]
        return list(ids.WORK_STATES) if state == "work" else list(ids.DEFAULT_STATES) if state == "open" else [state]

    @app.callback(Output(ids.QUEUE, "children"), Output(ids.PAGE_LABEL, "children"), Output(ids.COUNTS, "children"),
                  *[Output(ident, "href") for ident in ids.EXPORTS.values()],
                  Output(ids.SHOWN, "data"), Output(ids.PUSH_ACK, "children"), Output(ids.RELOAD, "data"),
                  *filters, Input(ids.PAGE, "data"), Input(ids.MESSAGE, "children"), Input(ids.TICK, "n_intervals"),
                  Input(ids.PUSH, "data"), State(ids.PICKED, "data"), State(ids.SELECTED, "data"),
                  State(ids.LANG, "data"), State(ids.SHOWN, "data"))
    def refresh(status, category, agency, kecamatan, kelurahan, cell, sla_state, sort, q, date_from, date_to, proof,
                page, _msg, _tick, push, picked, selected, lang, shown):
        """The queue drawn in full (filters, page, an action, the minute tick), or moved by a push:
        only the rows that came, went or changed are sent, the counts moved by the new reports
        (recounted in full at most every ``COUNT_EVERY_S``, or when the push asks)."""
        user = current_staff()
        _check_filters(status, category=category, agency=agency, kecamatan=kecamatan, kelurahan=kelurahan,
                       h3=cell, sla=sla_state, sort=sort, page=page, q=q, date_from=date_from, date_to=date_to)
        if proof is not None and not (isinstance(proof, list) and all(p == "flagged" for p in proof)):
            raise CallbackInputInvalid("proof", "must be the flagged choice")
        if push is not None and not isinstance(push, dict):
            raise CallbackInputInvalid("push", "must be the push's summary")
        lang, picked, selected, push = _lang(lang), _dict(picked), _dict(selected), push or {}
        ack = str(push.get("ts", ""))[:32]
        try:
            flt = _filter(status, category, agency, kecamatan, kelurahan, cell, sla_state, sort, q, date_from,
                          date_to, bool(proof))
        except ValueError as err:
            return dbc.Alert(error_words(err, lang), color="warning"), "", no_update, *["#"] * 3, {}, ack, no_update
        sig = [status, category, agency, kecamatan, kelurahan, cell, sla_state, sort, q, date_from, date_to,
               bool(proof), page or 0, lang]
        shown = _shown(shown)
        open_id = (selected or {}).get("id")
        pushed = set(ctx.triggered_prop_ids) == {f"{ids.PUSH}.data"}
        if pushed and shown.get("sig") == sig and not push.get("overflow"):
            new_ids = _pushed_ids(push)
            since = push.get("since") if isinstance(push.get("since"), (int, float)) else 0
            recount = (bool(push.get("recount")) or bool(flt.q) or time.time() - shown["counted"] >= COUNT_EVERY_S
                       or shown["counted"] >= since)       # a full count may already hold these reports
            result = queue.page(services.engine, preset, flt, user, page or 0, with_total=recount)
            after = [[i["id"], i["version"]] for i in result["items"]]
            delta = push_relay.row_delta(shown["rows"], after)
            if delta is not None:
                if recount:
                    counts = queue.state_counts(services.engine, preset, flt, user)
                    total, capped, counted = result["total"], result["total_capped"], time.time()
                else:
                    more, matching = queue.counts_of(services.engine, preset, flt, user, new_ids)
                    counts = dict(shown["counts"])
                    for state, n in more.items():
                        counts[state] = counts.get(state, 0) + n
                    total, capped, counted = shown["total"] + matching, bool(shown.get("capped")), shown["counted"]
                moved = delta[0] or delta[1]
                same_counts = counts == shown["counts"] and total == shown["total"]
                return (rows_patch(delta, result["items"], lang, picked, open_id) if moved else no_update,
                        no_update if same_counts else _page_words(page, total, capped, lang),
                        no_update if same_counts else chips_patch(shown["counts"], counts, lang), *[no_update] * 3,
                        {"sig": sig, "rows": after, "counts": counts, "total": total, "capped": capped,
                         "counted": counted}, ack,
                        time.time() if open_id in {rid for _, rid in delta[1]} else no_update)
        result = queue.page(services.engine, preset, flt, user, page or 0)
        counts = queue.state_counts(services.engine, preset, flt, user)
        shown = {"sig": sig, "rows": [[i["id"], i["version"]] for i in result["items"]], "counts": counts,
                 "total": result["total"], "capped": result["total_capped"], "counted": time.time()}
        return (console_table(result["items"], lang, picked, open_id),
                _page_words(page, result["total"], result["total_capped"], lang), count_chips(counts, lang),
                *[_export_href(flt, fmt, lang) for fmt in ids.EXPORTS], shown, ack, time.time())

    # The ticked reports {id: version}, kept in the browser (no round trip: quick ticks never race).
    # A person's tick syncs the visible boxes; a re-rendered queue only refreshes the versions.
    app.clientside_callback(
        """function (values, clear, all, before) {
            var dc = window.dash_clientside, cb = dc.callback_context;
            var fired = cb.triggered.map(function (t) { return t.prop_id; });
            var boxes = cb.inputs_list[0] || [];
            before = before || {};
            var picked = Object.assign({}, before);
            if (fired.indexOf('CLEAR.n_clicks') >= 0) {
                return Object.keys(before).length ? {} : dc.no_update;
            }
            if (fired.indexOf('PICK_PAGE.n_clicks') >= 0) {
                boxes.forEach(function (b) { picked[b.id.id] = b.id.v; });
            } else {
                var single = cb.triggered.length === 1 && fired[0].charAt(0) === '{';
                boxes.forEach(function (b) {
                    if (b.id.id in picked) { picked[b.id.id] = b.id.v; }
                    if (single) { if (b.value) { picked[b.id.id] = b.id.v; } else { delete picked[b.id.id]; } }
                });
            }
            return JSON.stringify(picked) === JSON.stringify(before) ? dc.no_update : picked;
        }""".replace("PICK_PAGE", ids.PICK_PAGE).replace("CLEAR", ids.CLEAR),
        Output(ids.PICKED, "data"), Input({"type": ids.PICK, "id": ALL, "v": ALL}, "value"),
        Input(ids.CLEAR, "n_clicks"), Input(ids.PICK_PAGE, "n_clicks"), State(ids.PICKED, "data"),
        prevent_initial_call=True)

    # The boxes follow the selection in the browser, in the same turn as the tick: a server round trip
    # here answered a tick with the selection as it was before the next one, and unticked the box
    # a quick supervisor (or a test) had just ticked.
    app.clientside_callback(
        """function (picked, boxes) {
            picked = picked || {};
            return (boxes || []).map(function (b) { return b.id in picked; });
        }""",
        Output({"type": ids.PICK, "id": ALL, "v": ALL}, "value"),
        Input(ids.PICKED, "data"), State({"type": ids.PICK, "id": ALL, "v": ALL}, "id"))

    @app.callback(Output(ids.PICKED_LABEL, "children"), Input(ids.PICKED, "data"), State(ids.LANG, "data"))
    def show_picked(picked, lang):
        picked, lang = _dict(picked), _lang(lang)
        return t("dispatch.picked", lang, n=number(len(picked), lang))

    single_outputs = [Output(ids.button_id(a), "disabled") for a in ids.SINGLE]

    @app.callback(Output(ids.SELECTED, "data"), Output(ids.DETAIL, "children"), Output(ids.DETAIL_MORE, "children"),
                  *single_outputs,
                  Output(ids.button_id("verify_route"), "children"), Output(ids.TARGET_AGENCY, "value"),
                  Output(ids.SUGGESTED, "children"),
                  Input(ids.ROW_CLICK, "data"), Input({"type": ids.DUPLICATE, "id": ALL}, "n_clicks"),
                  Input(ids.MESSAGE, "children"), Input(ids.RELOAD, "data"), State(ids.SELECTED, "data"),
                  State(ids.LANG, "data"), prevent_initial_call=True)
    def open_report(row_click, dupe_clicks, _msg, _reload, selected, lang):
        selected, lang = _dict(selected), _lang(lang)
        if selected and not isinstance(selected.get("id"), str):
            raise CallbackInputInvalid("selected", "must name a report")
        trigger = ctx.triggered_id
        if trigger == ids.ROW_CLICK and not (isinstance(row_click, dict) and isinstance(row_click.get("id"), str)):
            raise CallbackInputInvalid("row", "must name a report")
        clicked = trigger == ids.ROW_CLICK or (
            isinstance(trigger, dict) and ctx.triggered and (ctx.triggered[0].get("value") or 0) > 0)
        rerendered = not clicked and trigger != ids.MESSAGE
        keep = (no_update,) * (len(ids.SINGLE) + 6)
        if clicked:
            report_id = row_click["id"][:64] if trigger == ids.ROW_CLICK else trigger["id"]
        elif selected:
            report_id = selected["id"]
        else:
            return keep
        user = current_staff()
        try:
            data = report_detail(services, user, report_id)
        except Exception as err:  # noqa: BLE001  shown to the user by kind
            if error_kind(err)[0] is None:
                raise
            return (None, dbc.Alert(error_words(err, lang), color="warning"), "", *[True] * len(ids.SINGLE),
                    no_update, no_update, "")
        # what the panel shows changes with the version, the public view and the history (a note)
        mark = [data["version"], bool(data.get("public")), len(data["history"])]
        if rerendered and selected and selected.get("mark") == mark:
            return keep                                 # a queue refresh: nothing changed here
        status = data["status"]
        public = bool(data.get("public"))
        disabled = []
        for action in ids.SINGLE:
            ok = status in ids.APPLIES[action]
            if action == "verify_route":
                ok = ok and bool(data.get("agency"))
            if action == "publish":
                ok = ok and not public
            if action == "unpublish":
                ok = public
            disabled.append(not ok)
        agency = data.get("agency")
        name = next((a.name(lang) for a in preset.agencies if a.code == agency), None)
        if not agency:
            label = t("dispatch.verify_route_none", lang)
        elif status == "verified":
            label = t("dispatch.route_to", lang, agency=agency)
        else:
            label = t("dispatch.verify_route", lang, agency=agency)
        suggested = t("dispatch.suggested", lang, agency=f"{agency} — {name}") if agency else ""
        return ({"id": report_id, "version": data["version"], "status": status, "ticket": data["ticket"],
                 "agency": agency, "mark": mark}, *console_detail(data, lang, services), *disabled, label, agency, suggested)

    @app.callback(Output(ids.MESSAGE, "children"), Output(ids.MESSAGE, "color"), Output(ids.MESSAGE, "is_open"),
                  Output(ids.PICKED, "data", allow_duplicate=True),
                  *[Input(ids.button_id(a), "n_clicks") for a in ids.ACTIONS],
                  State(ids.SELECTED, "data"), State(ids.TARGET_AGENCY, "value"), State(ids.TEAM, "value"),
                  State(ids.REASON, "value"), State(ids.MERGE_INTO, "value"), State(ids.PRIORITY, "value"),
                  State(ids.PUBLIC_TEXT, "value"), State(ids.PICKED, "data"), State(ids.LANG, "data"),
                  prevent_initial_call=True)
    def act(*args):
        selected, agency, team, reason, into, priority, public_text, picked, lang = args[len(ids.ACTIONS):]
        selected, picked, lang = _dict(selected), _dict(picked), _lang(lang)
        for name, value in (("agency", agency), ("team", team), ("reason", reason), ("into", into),
                            ("priority", priority), ("public_text", public_text)):
            if value is not None and not isinstance(value, str):
                raise CallbackInputInvalid(name, "must be text")
        if not all(isinstance(k, str) and isinstance(v, int) for k, v in picked.items()) or \
                (selected and not (isinstance(selected.get("id"), str) and isinstance(selected.get("version"), int))):
            raise CallbackInputInvalid("selection", "must be report ids with their versions")
        action = ctx.triggered_id.removeprefix("dispatch-").replace("-", "_")
        user = current_staff()
        if action in ids.BULK:
            return _bulk(action, picked or {}, agency, team, user, lang)
        ticket = (selected or {}).get("ticket", "")
        try:
            if not selected:
                raise actions.ActionInvalid("select", "select a report first")
            rid, version = selected["id"], selected["version"]
            if action == "verify_route":
                out = actions.verify_and_assign(services, user, rid, version, None, team)
                words = t("dispatch.done.verify_route", lang, ticket=ticket, agency=out["agency"])
            elif action == "verify":
                out = actions.verify(services, user, rid, version, reason)
                words = t("dispatch.done.verify", lang, ticket=ticket)
            elif action == "reject":
                out = actions.reject(services, user, rid, version, reason or "")
                words = t("dispatch.done.reject", lang, ticket=ticket)
            elif action == "merge":
                out = actions.merge(services, user, rid, version, _ticket_id(services, user, into))
                words = t("dispatch.done.merge", lang, ticket=ticket, into=(into or "").strip().upper())
            elif action == "assign":
                out = actions.assign(services, user, rid, version, agency, team)
                words = t("dispatch.done.assign", lang, ticket=ticket, agency=agency)
            elif action in ("publish", "unpublish"):
                if action == "publish":
                    actions.publish(services, user, rid, public_text)
                else:
                    actions.unpublish(services, user, rid)
                return t(f"dispatch.{action}ed", lang, ticket=ticket), "success", True, no_update
            else:
                out = actions.change_priority(services, user, rid, version, priority)
                words = t("dispatch.done.set_priority", lang, ticket=ticket,
                          priority=t(f"dispatch.priority.{priority}", lang))
        except Exception as err:  # noqa: BLE001  every known failure is shown in words
            kind, _ = error_kind(err)
            if kind is None:
                raise
            return (error_words(err, lang, ticket), "danger" if kind in ("conflict", "forbidden") else "warning",
                    True, no_update)
        if out.get("feed") == "pending":
            words += ". " + t("dispatch.feed_pending", lang)
        return words, "success", True, no_update

    @app.callback(Output(ids.INCIDENTS, "children"), Input(ids.TICK, "n_intervals"),
                  Input({"type": ids.ACK, "id": ALL}, "n_clicks"), State(ids.LANG, "data"))
    def incidents(_tick, acks, lang):
        from flask import request

        lang = _lang(lang)

        user = current_staff()
        note = None
        if isinstance(ctx.triggered_id, dict) and any(acks or []):
            actions._require(user, "acknowledge_incident")
            found = spikes.find_incident(services.redis, preset, ctx.triggered_id["id"][:80])
            if found is None:
                note = t("dispatch.incident_gone", lang)
            else:
                spikes.acknowledge(services.redis, preset, found, user.username)
                audit.record(services.engine, user.username, "incident.acknowledge", found.id, origin="web",
                             address=request.remote_addr, detail={"category": found.category,
                                                                  "cells": list(found.cells),
                                                                  "count": found.category_count})
        current = spikes.current_incidents(services.redis, preset)
        if not current and not note:
            return []
        may = getattr(user, "role", None) and actions.permissions.can(user.role, "acknowledge_incident")
        items = []
        for i in current:
            text = t("dispatch.incident", lang, category=category_word(i.category, lang),
                     count=number(i.category_count, lang), usual=number(i.usual, lang, 1),
                     cells=t("dispatch.hex_one", lang) if len(i.cells) == 1 else
                     t("dispatch.hex_many", lang, n=number(len(i.cells), lang)))
            ack = (html.Span(t("dispatch.incident_acked", lang), className="badge dispatch-acked ms-2")
                   if i.acknowledged else
                   html.Button(t("dispatch.incident_ack", lang), id={"type": ids.ACK, "id": i.id}, n_clicks=0,
                               type="button", className="btn btn-sm btn-warning ms-2") if may else None)
            items.append(html.Li([html.Span("⚠ ", **{"aria-hidden": "true"}), text, ack],
                                 className="dispatch-incident" + (" acknowledged" if i.acknowledged else ""),
                                 **{"data-incident": i.id}))
        return [html.H2(t("dispatch.incidents", lang), className="h6 mb-1"),
                html.Ul(items, className="list-unstyled mb-1"),
                html.P(note, className="small mb-1") if note else None]

    def _bulk(action, picked: dict, agency, team, user, lang):
        if not picked:
            return t("dispatch.err.selection", lang), "warning", True, no_update
        tickets = _tickets(services, list(picked))
        ok, failed = [], []
        for rid, version in picked.items():
            try:
                if action == "bulk_verify":
                    actions.verify(services, user, rid, version)
                elif action == "bulk_verify_route":
                    actions.verify_and_assign(services, user, rid, version, None, team)
                else:
                    actions.assign(services, user, rid, version, agency, team, action="bulk_assign")
                ok.append(rid)
            except Exception as err:  # noqa: BLE001  reported per report, in words
                if error_kind(err)[0] is None:
                    raise
                failed.append(t("dispatch.bulk_failed", lang, ticket=tickets.get(rid, "?"),
                                why=error_words(err, lang, tickets.get(rid, ""))))
        words = t(f"dispatch.bulk_done.{action}", lang, ok=number(len(ok), lang), n=number(len(picked), lang))
        if failed:
            words += " — " + "; ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
        left = {rid: v for rid, v in picked.items() if rid not in ok}
        return words, "success" if not failed else "warning", True, left


def _tickets(services, report_ids: list[str]) -> dict:
    from sqlalchemy import select

    r = db.reports
    with services.engine.connect() as conn:
        return {x.id: x.ticket for x in conn.execute(select(r.c.id, r.c.ticket).where(r.c.id.in_(report_ids)))}


def queue_states():
    return list(Status)
