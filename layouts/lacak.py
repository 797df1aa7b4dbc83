"""Ticket tracking at /lacak/<ticket>: the status timeline in the city's time zone, the agency,
public notes, before and after photos. Nothing about the reporter or anyone else.

Anyone with a ticket sees its category, status, agency, deadline, area and the public notes (staff's,
checked: ``records.public_note``); photos only once staff published the report. The reporter, opening
the link given at filing (``/lacak/<ticket>#k=<secret>``: the router hands the fragment over in the
callback's body, so the secret is in no request line nor log), also sees what they wrote and their
photos. A sensitive category's photos are never shown, and its area only to the reporter."""
from __future__ import annotations

import json

import dash_bootstrap_components as dbc
from dash import dcc, html
from sqlalchemy import select

from app import duplicates, photos, reporter_secret
from app.i18n import local_time, t
from app.open311.records import public_note
from app.public import public_approved
from app.store import db
from config.catalogue import BY_CODE

PATH = "/lacak"
TICKET_INPUT = "lacak-ticket-input"
TIMELINE = "lacak-timeline"
STATUS = "lacak-status"
TIME_FORMAT = "%d-%m-%Y %H:%M"


def _find_form(lang: str, ticket: str = "") -> html.Form:
    return html.Form([
        dbc.Label(t("lacak.ticket", lang), html_for=TICKET_INPUT),
        dbc.InputGroup([dbc.Input(id=TICKET_INPUT, name="ticket", value=ticket, maxLength=24),
                        dbc.Button(t("lacak.find", lang), type="submit", id="lacak-find")]),
    ], action="/lacak", method="get", className="my-3")


def _after_photos(engine, report_id: str) -> list[str]:
    try:
        from app.staff.actions import after_photos
    except ImportError:  # the staff follow-up feature is optional
        return []
    return after_photos(engine, report_id)


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang", services.settings.language)
    path = params.get("path") or PATH
    ticket = (path[len(PATH) + 1:] if path.startswith(PATH + "/") else params.get("ticket") or "").strip()
    ticket = ticket.upper()[:24]
    page = [html.H1(t("lacak.title", lang), className="lacak-title")]
    if not ticket:
        return html.Div(page + [_find_form(lang)], className="lacak-page")
    with services.engine.connect() as conn:
        report = conn.execute(select(db.reports.c.id, db.reports.c.ticket, db.reports.c.category,
                                     db.reports.c.status, db.reports.c.agency, db.reports.c.created_at,
                                     db.reports.c.sla_due_at, db.reports.c.kelurahan_name,
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
        return html.Div(page + [dbc.Alert(t("lacak.not_found", lang, ticket=ticket), color="warning",
                                          id="lacak-not-found"), _find_form(lang, ticket)],
                        className="lacak-page")
    preset = services.preset
    category = BY_CODE.get(report.category)
    agency = next((a for a in preset.agencies if a.code == report.agency), None)
    sensitive = bool(category is None or category.sensitive)
    secret = (params.get("fragment") or {}).get("k")
    holder = bool(secret) and reporter_secret.holds(services.engine, report.id, secret)
    timeline = [html.Li([
        html.Strong(t(f"lacak.status.{event.to_status}", lang)), " · ",
        html.Span(local_time(event.occurred_at, preset, TIME_FORMAT), className="lacak-time"),
        html.Div(note, className="lacak-note") if (note := public_note(event.to_status, event.actor, event.note))
        else None,
    ]) for event in events]
    # Photos: never for a sensitive category; otherwise once staff published the report, or to the reporter.
    show_photos = not sensitive and (holder or report.approved_id is not None)
    before = [ref for ref in json.loads(report.photos or "[]") if photos.is_ref(ref)] if show_photos else []
    after = [ref for ref in _after_photos(services.engine, report.id) if photos.is_ref(ref)] if show_photos else []
    area = ", ".join(part for part in (report.kelurahan_name, report.kecamatan_name) if part) \
        if holder or not sensitive else ""
    if holder:
        page.append(dbc.Alert(t("lacak.holder", lang), color="success", id="lacak-holder", className="py-2"))
    page += [
        html.Div(report.ticket, className="lacak-ticket", id="lacak-ticket"),
        html.H2([category.icon + " " if category else "", category.name(lang) if category else report.category],
                className="h5"),
        dbc.Badge(t(f"lacak.status.{report.status}", lang), id=STATUS, className="mb-2", color="info"),
        html.Dl([
            html.Dt(t("lacak.agency", lang)), html.Dd(agency.name(lang) if agency else report.agency,
                                                      id="lacak-agency"),
            html.Dt(t("lacak.deadline", lang)),
            html.Dd(local_time(report.sla_due_at, preset, TIME_FORMAT) if report.sla_due_at else "—"),
            html.Dt(t("lacak.area", lang)), html.Dd(area or "—"),
            html.Dt("👍"), html.Dd(t("lapor.supporters", lang,
                                     count=duplicates.supporter_count(services.engine, report.id))),
        ]),
        *([html.H3(t("lacak.description", lang), className="h6"),
           html.P(report.description, id="lacak-description", className="lacak-description")]
          if holder and report.description else []),
        html.H3(t("lacak.timeline", lang), className="h6"),
        html.Ul(timeline, id=TIMELINE, className="lacak-timeline"),
    ]
    for label, refs, kind in (("lacak.before", before, "before"), ("lacak.after", after, "after")):
        if refs:
            page += [html.H3(t(label, lang), className="h6"),
                     html.Div([html.A(html.Img(src=f"/photos/{photos.thumb_ref_of(ref)}", className="lacak-photo"),
                                      href=f"/photos/{ref}", target="_blank") for ref in refs],
                              id=f"lacak-{kind}-photos")]
    page.append(dcc.Link("← /lapor", href="/lapor"))
    return html.Div(page, className="lacak-page")
