"""Ticket tracking at /lacak/<ticket>: the status timeline in the city's time zone, the agency,
public notes, before and after photos. Nothing about the reporter or anyone else.

Anyone with a ticket sees its category, status, agency, deadline, area and the public notes (staff's,
checked: ``records.public_note``); photos only once staff published the report. The reporter, opening
the link given at filing (``/lacak/<ticket>#k=<secret>``: the router hands the fragment over in the
callback's body, so the secret is in no request line nor log), also sees what they wrote and their
photos. A sensitive category's photos are never shown, and its area only to the reporter.

The page is light (``app/web_assets.py``): Dash's core and HTML components only, Bootstrap's classes
on plain elements. The state reads in the traffic-light convention, always with its words; "what
next" names the deadline of the stage the report waits in (verification, response or resolution,
``app.sla.assess``); dates by the language's rules ("2 Des 2026, 03.27 WIB"). The holder of the
secret may rate a resolved report or dispute it (``assets/lacak.js`` posts to ``/api/feedback``
with the secret from the fragment)."""
from __future__ import annotations

import json

from datetime import datetime, timezone

from dash import dcc, html
from sqlalchemy import select

from app import duplicates, photos, reporter_secret, sla
from app.i18n import date_time, number, t
from app.open311.records import public_note
from app.staff.actions import after_photos
from app.store import db
from app.store.tables import public_approved
from app.web_paths import url
from app.workflow import RESOLVED_STATUSES
from config.catalogue import BY_CODE
from layouts.lapor import language_switch

PATH = "/lacak"
TICKET_INPUT = "lacak-ticket-input"
TIMELINE = "lacak-timeline"
STATUS = "lacak-status"
FEEDBACK = "lacak-feedback"
MAP = "lacak-map"
MAP_BOX = "lacak-map-box"
MAP_OPEN = "lacak-map-open"
MAP_READY = "lacak-map-ready"
MAP_TICKET = "lacak-map-ticket"
MAP_LANG = "lacak-map-lang"
# The traffic-light convention, with words and a shape (never the colour alone).
LIGHTS = {"new": "red", "reopened": "red", "verified": "yellow", "dispatched": "yellow", "in_progress": "yellow",
          "resolved": "green", "closed": "green", "rejected": "grey"}
SHAPES = {"red": "●", "yellow": "◐", "green": "✔", "grey": "✕"}


def _find_form(lang: str, ticket: str = "") -> html.Form:
    # A plain GET form: works before any script has loaded.
    return html.Form([
        html.Label(t("lacak.ticket", lang), htmlFor=TICKET_INPUT, className="form-label"),
        html.Div([dcc.Input(id=TICKET_INPUT, name="ticket", value=ticket, maxLength=24,
                            className="form-control", autoComplete="off"),
                  dcc.Input(type="hidden", name="lang", value=lang),
                  html.Button(t("lacak.find", lang), type="submit", id="lacak-find", className="btn btn-primary")],
                 className="input-group"),
    ], action=url(PATH), method="get", className="my-3")


def _next_step(report, preset, agency_name: str, lang: str) -> str:
    """What happens next, with the deadline of the stage the report waits in."""
    row = type("Row", (), {"category": report.category, "priority": report.priority or "normal",
                           "created_at": report.created_at, "status": report.status,
                           "sla_due_at": report.sla_due_at, "resolved_at": report.resolved_at})
    view = sla.assess(row, preset, datetime.now(timezone.utc))
    expected = date_time(view["expected_datetime"], preset, lang)
    if view["stage"] is None:
        return t(f"lacak.next.{report.status}", lang)
    stage_due = date_time(view["stage_due"], preset, lang)
    text = t(f"lacak.next.{view['stage']}", lang, due=stage_due, expected=expected, agency=agency_name)
    return text + (" " + t("lacak.next.late", lang) if view["overdue"] else "")


def _feedback_form(report, lang: str):
    """Rating (a resolved report) and dispute (resolved or closed), for the holder of the secret."""
    parts = []
    if report.status == "resolved":
        # One send button per mark (1-5): no radio group to get wrong, each a 44 px target.
        parts.append(html.Form([
            html.Label(t("lacak.comment", lang), htmlFor="lacak-comment", className="form-label small"),
            html.Textarea(id="lacak-comment", name="comment", maxLength=1000, className="form-control mb-2"),
            html.Fieldset([
                html.Legend(t("lacak.rate", lang), className="h6"),
                html.Div([html.Button(str(n), type="submit", name="rating", value=str(n),
                                      className="btn btn-outline-light lacak-star",
                                      **{"aria-label": t("lacak.rate_n", lang, n=n)}) for n in range(1, 6)],
                         className="lacak-stars"),
                html.P(t("lacak.rate_scale", lang), className="small lacak-muted"),
            ], className="lapor-fieldset"),
        ], id="lacak-rate", className="lacak-feedback-form", **{"data-kind": "rate"}))
    if report.status in RESOLVED_STATUSES:
        parts.append(html.Form([
            html.Label(t("lacak.dispute", lang), htmlFor="lacak-dispute-reason", className="h6 d-block"),
            html.Textarea(id="lacak-dispute-reason", name="dispute", maxLength=1000, required=True,
                          className="form-control mb-2", placeholder=t("lacak.dispute_hint", lang)),
            html.Button(t("lacak.dispute_send", lang), type="submit", className="btn btn-warning"),
        ], id="lacak-dispute", className="lacak-feedback-form", **{"data-kind": "dispute"}))
    if not parts:
        return None
    return html.Section([html.H2(t("lacak.feedback", lang), className="h5"), *parts,
                         html.Div(id="lacak-feedback-status", role="alert", className="mt-2")],
                        id=FEEDBACK, className="lacak-section",
                        **{"data-ticket": report.ticket, "data-sent": t("lacak.feedback_sent", lang),
                           "data-failed": t("lacak.feedback_failed", lang),
                           "data-no-secret": t("lacak.feedback_no_secret", lang)})


def _map_section(ticket: str, sensitive: bool, lang: str) -> html.Section:
    """The small map, on a tap (the map library is left out of the light page: app/web_assets.py);
    callbacks/lacak.py draws it: the report's point, or only its area for a sensitive category."""
    return html.Section([
        dcc.Store(id=MAP_TICKET, data=ticket), dcc.Store(id=MAP_LANG, data=lang), dcc.Store(id=MAP_READY),
        html.Button(["🗺️ ", t("lacak.map_open_area" if sensitive else "lacak.map_open", lang)], id=MAP_OPEN,
                    type="button", n_clicks=0, className="btn btn-secondary btn-sm"),
        html.Div(id=MAP_BOX),
    ], className="lacak-map-section")


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang") if params.get("lang") in ("id", "en") else services.settings.language
    path = params.get("path") or PATH
    ticket = (path[len(PATH) + 1:] if path.startswith(PATH + "/") else params.get("ticket") or "").strip()
    ticket = ticket.upper()[:24]

    page = [language_switch(path if path.startswith(PATH) else PATH, lang),
            html.H1(t("lacak.title", lang), className="lacak-title")]
    if not ticket:
        return html.Div(page + [_find_form(lang)], className="lacak-page")
    with services.engine.connect() as conn:
        report = conn.execute(select(db.reports.c.id, db.reports.c.ticket, db.reports.c.category,
                                     db.reports.c.status, db.reports.c.agency, db.reports.c.created_at,
                                     db.reports.c.sla_due_at, db.reports.c.kelurahan_name, db.reports.c.priority,
                                     db.reports.c.resolved_at,
                                     db.reports.c.kecamatan_name, db.reports.c.photos,
                                     db.reports.c.description, public_approved.c.report_id.label("approved_id"))
                              .select_from(db.reports.outerjoin(public_approved,
                                                                public_approved.c.report_id == db.reports.c.id))
                              .where(db.reports.c.city == services.preset.slug,
                                     db.reports.c.ticket == ticket)).first()
        events = [] if report is None else conn.execute(
            select(db.report_events.c.to_status, db.report_events.c.occurred_at, db.report_events.c.note,
                   db.report_events.c.actor)
            .where(db.report_events.c.report_id == report.id,
                   db.report_events.c.kind.in_(("created", "status")))    # not priority changes
            .order_by(db.report_events.c.version, db.report_events.c.occurred_at)).all()
    if report is None:
        return html.Div(page + [html.Div(t("lacak.not_found", lang, ticket=ticket), className="alert alert-warning",
                                         id="lacak-not-found", role="status"), _find_form(lang, ticket)],
                        className="lacak-page")
    preset = services.preset
    category = BY_CODE.get(report.category)
    agency = next((a for a in preset.agencies if a.code == report.agency), None)
    sensitive = bool(category is None or category.sensitive)
    secret = (params.get("fragment") or {}).get("k")
    holder = bool(secret) and reporter_secret.holds(services.engine, report.id, secret)
    timeline = [html.Li([
        html.Strong(t(f"lacak.status.{event.to_status}", lang)), " · ",
        html.Time(date_time(event.occurred_at, preset, lang), className="lacak-time",
                  dateTime=event.occurred_at.astimezone(timezone.utc).isoformat()),
        html.Div(note, className="lacak-note") if (note := public_note(event.to_status, event.actor, event.note))
        else None,
    ]) for event in events]
    # Photos: never for a sensitive category; otherwise once staff published the report, or to the reporter.
    show_photos = not sensitive and (holder or report.approved_id is not None)
    before = [ref for ref in json.loads(report.photos or "[]") if photos.is_ref(ref)] if show_photos else []
    after = [ref for ref in after_photos(services.engine, report.id) if photos.is_ref(ref)] if show_photos else []
    area = ", ".join(part for part in (report.kelurahan_name, report.kecamatan_name) if part) \
        if holder or not sensitive else ""
    if holder:
        page.append(html.Div(t("lacak.holder", lang), className="alert alert-success py-2", id="lacak-holder"))
    light = LIGHTS.get(report.status, "grey")
    agency_name = agency.name(lang) if agency else (report.agency or "—")
    category_name = category.name(lang) if category else t("lacak.unknown_category", lang)
    page += [
        html.Div(report.ticket, className="lacak-ticket", id="lacak-ticket"),
        html.P([html.Span(category.icon + " " if category else "", **{"aria-hidden": "true"}), category_name],
               className="h5", id="lacak-category"),
        html.P([html.Span(t("lacak.state", lang) + " ", className="visually-hidden"),
                html.Span(SHAPES[light] + " ", **{"aria-hidden": "true"}),
                t(f"lacak.status.{report.status}", lang)],
               id=STATUS, className=f"lacak-state lacak-state-{light}", **{"data-light": light}),
        html.Section([html.H2(t("lacak.next", lang), className="h6"),
                      html.P(_next_step(report, preset, agency_name, lang), id="lacak-next")],
                     className="lacak-section"),
        html.Dl([
            html.Dt(t("lacak.agency", lang)), html.Dd(agency_name, id="lacak-agency"),
            html.Dt(t("lacak.filed", lang)), html.Dd(date_time(report.created_at, preset, lang)),
            html.Dt(t("lacak.area", lang)), html.Dd(area or "—"),
            html.Dt(t("lacak.support", lang)), html.Dd(t("lapor.supporters", lang, count=number(
                duplicates.supporter_count(services.engine, report.id), lang))),
        ], className="lacak-facts"),
        *([html.H2(t("lacak.description", lang), className="h6"),
           html.P(report.description, id="lacak-description", className="lacak-description")]
          if holder and report.description else []),
    ]
    page.append(_map_section(report.ticket, sensitive, lang))
    for label, refs, kind in (("lacak.before", before, "before"), ("lacak.after", after, "after")):
        if refs:
            page += [html.H2(t(label, lang), className="h6"),
                     html.Div([html.A(html.Img(src=url(f"/photos/{photos.thumb_ref_of(ref)}"), className="lacak-photo",
                                               alt=t(f"lacak.{kind}_alt", lang, category=category_name)),
                                      href=url(f"/photos/{ref}"), target="_blank") for ref in refs],
                              id=f"lacak-{kind}-photos")]
    page += [html.H2(t("lacak.timeline", lang), className="h6"),
             html.Ol(timeline, id=TIMELINE, className="lacak-timeline")]
    if holder:
        page.append(_feedback_form(report, lang))
    page.append(html.P([html.A(t("lacak.report_new", lang), href=url(f"/lapor?lang={lang}"), id="lacak-report-new")],
                       className="mt-3"))
    return html.Div(page, className="lacak-page")
