"""The field officer's phone (/tugas, /tugas/<ticket>): the agency's open tasks as cards, deadline first;
one screen per task with its own URL, its before photo, map and history, and only the actions its
state allows. Start and resolve are sent by ``assets/tugas.js`` as plain multipart POSTs to the staff
API with the phone's location (proof of work, ``app.proof``); the resolve form is part of the task's
own page, so nothing typed or chosen for one report can reach another.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import quote

from dash import dcc, html

from app import photos
from app.auth import permissions
from app.auth.web import csrf_token
from app.i18n import distance, local_time, number, span, t
from app.staff.service import report_detail
from app.staff.tasks import TASK_STATES, TaskFilter, by_ticket, task_page
from app.workflow import TRANSITIONS, Status
from config.catalogue import CATEGORIES
from layouts.dispatch import report_map
from layouts.staff_common import current_staff, not_allowed
from app.web_paths import url

PATH = "/tugas"

SEARCH = "tugas-search"
FLAGS = "tugas-flags"
STATE = "tugas-state"
LIST = "tugas-queue"
COUNTS = "tugas-counts"
PAGE = "tugas-page"
PREV = "tugas-prev"
NEXT = "tugas-next"
PAGE_LABEL = "tugas-page-label"
LANG = "tugas-lang"
TICK = "tugas-tick"
LANG_CODE = "tugas-lang-code"
FORM = "tugas-form"
NOTE = "tugas-note"
MESSAGE = "tugas-message"
CATEGORY = {c.code: c for c in CATEGORIES}


def state_id(state: str) -> str:
    return f"tugas-state-{state or 'all'}"


def lang_of(services, params: dict) -> str:
    lang = params.get("lang") or services.settings.language
    return lang if lang in ("id", "en") else "id"


def lang_query(lang: str, services) -> str:
    return "" if lang == services.settings.language else f"?lang={lang}"


def status_word(status: str, lang: str) -> str:
    return t(f"lacak.status.{status}", lang)


def category_label(code: str, lang: str) -> str:
    cat = CATEGORY.get(code)
    return f"{cat.icon} {cat.name(lang)}" if cat else code


def deadline_words(remaining_s: float | None, lang: str) -> str:
    if remaining_s is None:
        return t("tugas.no_deadline", lang)
    key = "tugas.due_in" if remaining_s >= 0 else "tugas.overdue_by"
    return t(key, lang, d=span(remaining_s, lang))


def deadline_badge(remaining_s: float | None, lang: str) -> html.Span:
    state = "none" if remaining_s is None else "late" if remaining_s < 0 else \
        "soon" if remaining_s < 6 * 3600 else "ok"
    return html.Span(deadline_words(remaining_s, lang), className=f"tugas-due tugas-due-{state}",
                     **{"data-due": state})


def _signed_in(user, lang: str) -> html.Div:
    """Who is signed in, the role in words (never its code), and the sign-out button."""
    role = t(f"dispatch.role.{user.role}", lang) + (f" · {user.agency}" if user.agency else "")
    return html.Div([
        html.Span(t("staff.signed_in", lang, user=user.username, role=role), className="me-3"),
        html.Form([dcc.Input(type="hidden", name="csrf_token", value=csrf_token()),
                   html.Button(t("staff.logout", lang), type="submit", className="btn btn-sm btn-outline-light")],
                  method="POST", action=url("/logout"), style={"display": "inline"}),
    ], className="small my-2 tugas-who")


def _top(user, lang: str, services, path: str) -> html.Div:
    other = "en" if lang == "id" else "id"
    href = url(path + ("" if other == services.settings.language else f"?lang={other}"))
    return html.Div([
        _signed_in(user, lang),
        html.A(t("tugas.lang", lang), href=href, id=LANG, lang=other, className="tugas-lang small"),
        # What waits on the phone to be sent (filled by assets/tugas.js from its IndexedDB queue).
        html.Div(className="tugas-pending alert alert-warning py-2 w-100", hidden=True, role="status",
                 **{"data-template": t("tugas.pending", lang, n="{n}")}),
    ], className="tugas-top")


def layout(services, params: dict) -> html.Div:
    lang = lang_of(services, params)
    user = current_staff()
    if user is None or not permissions.can_open(user.role, PATH):
        return not_allowed(lang)
    path = params.get("path") or PATH
    if path.rstrip("/") != PATH:
        return task_layout(services, user, lang, path[len(PATH) + 1:].strip("/"))
    search = (params.get("q") or "")[:100]
    # The first page drawn with the screen (no callback round trip before the officer sees a task).
    cards, counts, label, first, last = list_parts(services, user, TaskFilter(search=search), 0, lang)
    return html.Main([
        _top(user, lang, services, PATH),
        html.H1(t("tugas.title", lang) + (f" — {user.agency}" if user.agency else ""), className="tugas-h1"),
        html.Div([
            # A visible label: a placeholder this long is cut off at 360 px.
            html.Label(t("tugas.search", lang), htmlFor=SEARCH, className="form-label small mb-1"),
            dcc.Input(id=SEARCH, type="search", debounce=True, className="form-control tugas-search", value=search),
        ]),
        html.Div([
            html.Div([html.Button(t(f"tugas.filter.{name}", lang), id=f"tugas-{name}", n_clicks=0, type="button",
                                  className="btn btn-sm btn-outline-info tugas-chip", **{"aria-pressed": "false"})
                      for name in ("overdue", "mine")], role="group",
                     **{"aria-label": t("tugas.filters", lang)}, className="me-2 mb-1"),
            html.Div([html.Button(t("tugas.filter.all", lang) if s == "" else status_word(s, lang),
                                  id=state_id(s), n_clicks=0, type="button",
                                  className="btn btn-sm btn-outline-light tugas-chip",
                                  **{"aria-pressed": "true" if s == "" else "false"})
                      for s in ("",) + TASK_STATES], role="group",
                     **{"aria-label": t("tugas.filter.state", lang)}, className="mb-1"),
        ], className="tugas-filters"),
        html.Div(counts, id=COUNTS, className="tugas-counts small", role="status"),
        html.Div(cards, id=LIST, className="tugas-list"),
        html.Nav([html.Button(t("tugas.prev", lang), id=PREV, className="btn btn-outline-light btn-sm", n_clicks=0,
                              disabled=first),
                  html.Span(label, id=PAGE_LABEL, className="mx-2 small"),
                  html.Button(t("tugas.next", lang), id=NEXT, className="btn btn-outline-light btn-sm", n_clicks=0,
                              disabled=last)],
                 className="tugas-pager", **{"aria-label": t("tugas.page", lang, page="", pages="")}),
        dcc.Store(id=PAGE, data=0), dcc.Store(id=STATE, data=""), dcc.Store(id=FLAGS, data=[]),
        dcc.Interval(id=TICK, interval=30_000),
        dcc.Store(id=LANG_CODE, data=lang),
    ], className="tugas tugas-home container-fluid", lang=lang)


def list_parts(services, user, flt: TaskFilter, page_no: int, lang: str) -> tuple:
    """The list's cards, counts, page label and whether it is on its first / last page (what the
    screen draws at first and what ``callbacks.tugas`` redraws)."""
    result = task_page(services.engine, services.preset, user, flt, page_no)
    suffix = lang_query(lang, services)
    cards = [card(item, lang, suffix) for item in result["items"]] or \
        [html.P(t("tugas.none", lang), className="text-muted")]
    counts = [html.Strong(t("tugas.count", lang, n=number(result["total"], lang)), className="me-2")] + \
        [html.Span(t("tugas.count_state", lang, state=status_word(s, lang), n=number(n, lang)),
                   className="me-2 tugas-count", **{"data-state": s})
         for s, n in result["counts"].items() if n] + \
        [html.Span(t("tugas.count_state", lang, state=t("tugas.filter.overdue", lang),
                     n=number(result["overdue"], lang)), className="tugas-count text-warning",
                   **{"data-state": "overdue"})] * bool(result["overdue"])
    label = t("tugas.page", lang, page=number(result["page"] + 1, lang), pages=number(result["pages"], lang))
    return cards, counts, label, result["page"] == 0, result["page"] >= result["pages"] - 1


def card(item: dict, lang: str, suffix: str) -> html.A:
    return html.A([
        html.Div([html.Strong(item["ticket"], className="tugas-ticket"),
                  deadline_badge(item["remaining_s"], lang)], className="tugas-card-row"),
        html.Div(category_label(item["category"], lang), className="tugas-cat"),
        html.Div([html.Span(item["kelurahan_name"] or item["kecamatan_name"] or "—"),
                  html.Span(status_word(item["status"], lang), className="tugas-state-word")],
                 className="tugas-card-row small"),
        html.Div(className="tugas-distance small", **{"data-lat": item["lat"], "data-lng": item["lng"],
                                                        "data-template": t("tugas.distance", lang, d="{d}")}),
    ], href=url(f"{PATH}/{quote(item['ticket'])}{suffix}"), className="tugas-card",
        **{"data-report": item["id"], "data-ticket": item["ticket"]})


def _who(actor: str, lang: str) -> str:
    if actor.startswith("citizen:"):
        return t("tugas.who.citizen", lang)
    if ":" in actor:
        return actor.split(":", 1)[1]
    return t("tugas.who.system", lang)


def history_words(history: list[dict], lang: str, preset) -> html.Ol:
    def when(iso):
        moment = datetime.fromisoformat(iso)
        return local_time(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc), preset, "%d-%m-%Y %H:%M")

    items = []
    for h in history:
        if h["action"] == "created":
            words = t("tugas.history.created", lang)
        elif h["to"]:
            words = t("tugas.history.to", lang, who=_who(h["actor"], lang), status=status_word(h["to"], lang))
        elif h["action"] == "note":
            words = t("tugas.history.note", lang, who=_who(h["actor"], lang))
        else:
            words = t("tugas.history.other", lang, who=_who(h["actor"], lang), action=h["action"])
        items.append(html.Li([html.Span(when(h["at"]), className="text-muted me-2"), words,
                              html.Div(h["note"], className="tugas-history-note") if h.get("note") else None]))
    return html.Ol(items, className="tugas-history small")


def flag_words(flag: dict, lang: str) -> str:
    detail = flag["detail"]
    text = t(f"tugas.flag.{flag['kind']}", lang, ticket=detail.get("ticket", ""))
    if flag["kind"] == "location_unverified" and detail.get("distance_m") is not None:
        text += " · " + t("tugas.flag.distance", lang, d=distance(detail["distance_m"], lang))
    return text


def allowed_actions(user, status: str) -> list[str]:
    """The officer's actions the report's state allows (start, resolve), and the right to each."""
    nexts = TRANSITIONS.get(Status(status), frozenset())
    out = []
    if Status.IN_PROGRESS in nexts and permissions.can(user.role, "start"):
        out.append("start")
    if Status.RESOLVED in nexts and permissions.can(user.role, "resolve"):
        out.append("resolve")
    return out


def task_layout(services, user, lang: str, ticket: str) -> html.Main:
    suffix = lang_query(lang, services)
    back = html.A(t("tugas.back", lang), href=url(PATH + suffix), className="tugas-back")
    row = by_ticket(services.engine, services.preset, user, ticket[:24])
    if row is None:
        return html.Main([_top(user, lang, services, f"{PATH}/{quote(ticket[:24])}"), back,
                          html.P(t("tugas.not_found", lang, ticket=ticket[:24]), className="mt-3")],
                         className="tugas container-fluid", lang=lang)
    data = report_detail(services, user, row.id)
    now = datetime.now(timezone.utc)
    due = row.sla_due_at
    remaining = None if due is None else ((due if due.tzinfo else due.replace(tzinfo=timezone.utc)) - now).total_seconds()
    befores = [ref for ref in data["photos"] if photos.is_ref(ref)]
    before = html.Figure([html.Img(src=url(f"/photos/{befores[0]}"), alt=t("tugas.before", lang), className="tugas-photo"),
                          html.Figcaption(t("tugas.before", lang))]) if befores else \
        html.P(t("tugas.no_photo", lang), className="small text-muted")
    after = [html.Figure([html.Img(src=url(f"/photos/{data['after_photos'][-1]}"), alt=t("tugas.after", lang),
                                   className="tugas-photo"), html.Figcaption(t("tugas.after", lang))])] \
        if data["after_photos"] and row.status not in TASK_STATES else []
    flags = data.get("proof_flags") or []
    proof = html.Section([
        html.H2(t("tugas.proof", lang), className="h6"),
        html.Ul([html.Li(flag_words(f, lang), **{"data-flag": f["kind"]}) for f in flags], className="tugas-flags")
        if flags else html.P(t("tugas.proof_ok", lang), className="small text-muted"),
    ], id="tugas-proof") if (flags or row.status not in TASK_STATES) else None
    actions = allowed_actions(user, row.status)
    geo = f"geo:{row.lat:.6f},{row.lng:.6f}?q={row.lat:.6f},{row.lng:.6f}({quote(row.ticket)})"
    texts = {k: t(f"tugas.{k}", lang, ticket=row.ticket) for k in
             ("confirm.start", "confirm.resolve", "sending", "locating", "err.network", "err.photo_missing",
              "presence.ok", "presence.no", "queued", "shrinking")}
    texts.update({f"done.{a}": t(f"tugas.done.{a}", lang, ticket=row.ticket, presence="{presence}")
                  for a in ("start", "resolve")})
    form = html.Section([
        html.H2(t("tugas.actions", lang), className="h6"),
        html.Div([
            html.Label(t("tugas.note", lang), htmlFor=NOTE, className="form-label small"),
            dcc.Textarea(id=NOTE, className="form-control mb-2", maxLength=2000, rows=2, value=""),
        ]) if "resolve" in actions else None,
        # The file input is made by assets/tugas.js (Dash has no file input with `capture`).
        html.Div(className="tugas-photo-slot mb-2", **{"data-label": t("tugas.photo", lang),
                                                       "data-hint": t("tugas.photo_hint", lang),
                                                       "data-pick": t("tugas.photo_pick", lang),
                                                       "data-none": t("tugas.photo_none", lang),
                                                       "data-shrinking": t("tugas.shrinking", lang),
                                                       "data-shrunk": t("tugas.shrunk", lang, before="{before}",
                                                                        after="{after}")})
        if "resolve" in actions else None,
        html.Div(html.Div(className="progress-bar", style={"width": "0%"}), className="progress tugas-progress mb-2",
                 role="progressbar", hidden=True, **{"aria-label": t("tugas.sending", lang), "aria-valuemin": 0,
                                                     "aria-valuemax": 100, "aria-valuenow": 0}),
        html.Div([html.Button(t(f"tugas.{a}", lang), type="button",
                              className=f"btn {'btn-success' if a == 'resolve' else 'btn-primary'} tugas-act me-2 mb-2",
                              id=f"tugas-{a}", **{"data-action": a}) for a in actions])
        if actions else html.P(t("tugas.no_actions", lang), className="small text-muted"),
        html.Div(id=MESSAGE, className="tugas-message", role="status", **{"aria-live": "polite"}),
    ], id=FORM, className="tugas-form", **{"data-report": row.id, "data-ticket": row.ticket,
                                           "data-version": row.version, "data-lang": lang,
                                           "data-texts": json.dumps(texts, ensure_ascii=False)})
    return html.Main([
        _top(user, lang, services, f"{PATH}/{quote(row.ticket)}"),
        back,
        html.H1([html.Span(row.ticket, id="tugas-ticket"), " ",
                 html.Span(status_word(row.status, lang), className="badge bg-secondary tugas-status",
                           **{"data-status": row.status})], className="tugas-h1"),
        html.P([html.Span(category_label(row.category, lang), className="me-2"),
                html.Span(row.kelurahan_name or row.kecamatan_name or "—", className="me-2"),
                html.Span([t("tugas.deadline", lang), ": "], className="visually-hidden"),
                deadline_badge(remaining if row.status in TASK_STATES else None, lang)
                if row.status in TASK_STATES else None]),
        proof,
        form,
        html.Section([html.H2(t("tugas.citizen_wrote", lang), className="h6"),
                      html.P(row.description or "—", className="tugas-description")]),
        html.Div([before, *after], className="tugas-photos"),
        html.Section([html.H2(t("tugas.map", lang), className="h6"),
                      report_map(services, row.lat, row.lng, row.category),
                      html.A(t("tugas.navigate", lang), href=geo, className="btn btn-outline-light btn-sm mt-2",
                             id="tugas-geo")]),
        html.Section([html.H2(t("tugas.history", lang), className="h6"),
                      history_words(data["history"], lang, services.preset)]),
    ], className="tugas tugas-task container-fluid", lang=lang)
