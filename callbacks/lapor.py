"""How the report form reacts: location from GPS or a map tap, photo upload, likely duplicates, submit."""
from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import replace

import dash_leaflet as dl
import redis
from dash import Input, Output, State, ctx, html, no_update
from flask import current_app, request

from app import duplicates, photos, reporter_secret
from app.i18n import t
from app.reports import ReportInvalid
from ingest.sources import RawReport
from layouts import lapor as ids

log = logging.getLogger(__name__)


def _point(lat: float, lng: float) -> dict:
    return {"lat": round(float(lat), 6), "lng": round(float(lng), 6)}


def _ticket_block(ticket: str, lang: str, heading: str, secret: str | None = None):
    # The reporter's secret rides in the fragment: never sent in a request line, so in no log.
    return html.Div([
        html.Div(heading),
        html.Div(ticket, id=ids.TICKET, className="lapor-ticket"),
        html.A(t("lapor.track", lang), href=f"/lacak/{ticket}" + (f"#k={secret}" if secret else ""),
               id=f"{ids.PREFIX}track-link", className="btn btn-success mt-2"),
        html.P(t("lapor.keep_link", lang), className="small mt-2", id=f"{ids.PREFIX}keep-link") if secret else None,
    ])


def _error(lang: str, message: str):
    return html.Div([html.Strong(t("lapor.error", lang) + ": "), message],
                    className="alert alert-danger", id=f"{ids.PREFIX}error")


def register(dash_app, services) -> None:
    @dash_app.callback(Output(ids.GEOLOCATION, "update_now"), Input(ids.GPS, "n_clicks"),
                       prevent_initial_call=True)
    def ask_gps(_clicks):
        return True

    @dash_app.callback(Output(ids.LOCATION, "data"), Output(ids.MARKER, "children"),
                       Output(ids.LOCATION_TEXT, "children"),
                       Input(ids.MAP, "clickData"), Input(ids.GEOLOCATION, "position"),
                       prevent_initial_call=True)
    def choose_location(click, position):
        if ctx.triggered_id == ids.GEOLOCATION and position:
            point = _point(position["lat"], position["lon"])
        elif click and click.get("latlng"):
            point = _point(click["latlng"]["lat"], click["latlng"]["lng"])
        else:
            return no_update, no_update, no_update
        marker = dl.Marker(position=[point["lat"], point["lng"]])
        return point, [marker], f"{point['lat']:.5f}, {point['lng']:.5f}"

    @dash_app.callback(Output(ids.PHOTO_REF, "data"), Output(ids.PHOTO_STATUS, "children"),
                       Input(ids.PHOTO, "contents"), State(ids.PHOTO, "filename"),
                       State(ids.LANGUAGE, "data"), prevent_initial_call=True)
    def upload_photo(contents, filename, lang):
        if not contents:
            return None, ""
        try:
            data = base64.b64decode(contents.split(",", 1)[1], validate=True)
        except (IndexError, binascii.Error, ValueError):
            return None, _error(lang, "photo: the upload could not be read")
        try:
            photo = photos.store_photo(services.settings, data, filename)
        except photos.PhotoInvalid as err:
            return None, _error(lang, str(err))
        return photo.ref, html.Div([
            html.Img(src=f"/photos/{photo.thumb_ref}", className="lacak-photo", id=f"{ids.PREFIX}thumb",
                     style={"maxHeight": "120px"}),
            html.Div(t("lapor.photo_ok", lang))])

    @dash_app.callback(
        Output(ids.RESULT, "children"), Output(ids.DUPLICATE, "hidden"),
        Output(f"{ids.DUPLICATE}-text", "children"), Output(ids.DUPLICATE_ID, "data"),
        Output(ids.SUBMIT, "disabled"),
        Input(ids.SUBMIT, "n_clicks"), Input(ids.SUBMIT_ANYWAY, "n_clicks"), Input(ids.SUPPORT, "n_clicks"),
        State(ids.CATEGORY, "value"), State(ids.LOCATION, "data"), State(ids.DESCRIPTION, "value"),
        State(ids.PHOTO_REF, "data"), State(ids.NAME, "value"), State(ids.PHONE, "value"),
        State(ids.EMAIL, "value"), State(ids.LANGUAGE, "data"), State(ids.DUPLICATE_ID, "data"),
        State(ids.FORM_TOKEN, "data"), prevent_initial_call=True)
    def submit(_submit, _anyway, _support, category, location, description, photo_ref, name, phone,
               email, lang, duplicate, form_token):
        if ctx.triggered_id == ids.SUPPORT and duplicate:
            who = duplicates.supporter_key(services.settings.resolved_secret_key(),
                                           f"{request.remote_addr}|{request.user_agent.string}")
            count = duplicates.support(services.engine, duplicate["id"], who)
            heading = t("lapor.supported", lang, ticket=duplicate["ticket"]) + " " + \
                t("lapor.supporters", lang, count=count)
            return _ticket_block(duplicate["ticket"], lang, heading), True, no_update, None, True
        if not category:
            return _error(lang, t("lapor.error.category", lang)), no_update, no_update, no_update, False
        if not location:
            return _error(lang, t("lapor.error.location", lang)), no_update, no_update, no_update, False
        raw = RawReport(category=category, lat=location["lat"], lng=location["lng"],
                        description=description or "", source="web", reporter_name=name or None,
                        reporter_phone=phone or None, reporter_email=email or None,
                        photos=(photo_ref,) if photo_ref else (),
                        # A double tap, or a phone sending again on a bad network, gives the same report
                        # id: the same ticket back, and the consumers count it once.
                        source_ref=f"form:{form_token}" if isinstance(form_token, str) and form_token else None)
        try:
            report = services.producer.validate(raw)
        except ReportInvalid as err:
            return _error(lang, str(err)), no_update, no_update, no_update, False
        try:
            near = duplicates.find_likely_duplicates(services.redis, services.keys, services.preset,
                                                     report.category, report.lat, report.lng,
                                                     exclude=report.id)   # this very form, sent before
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError):   # or a failover
            return _error(lang, t("lapor.error.busy", lang)), no_update, no_update, no_update, False
        if near and ctx.triggered_id == ids.SUBMIT:
            first = near[0]
            first["supporters"] = duplicates.supporter_count(services.engine, first["id"])
            text = [t("lapor.duplicate", lang), " ",
                    html.A(first["ticket"], href=f"/lacak/{first['ticket']}", target="_blank",
                           id=f"{ids.PREFIX}duplicate-ticket"),
                    f" — {t('lapor.supporters', lang, count=first['supporters'])}"]
            return "", False, text, {"id": first["id"], "ticket": first["ticket"]}, False
        # The same form token gives the same report id, so a re-sent form shows the same secret.
        secret, report = reporter_secret.issue(current_app.config["SECRET_KEY"], report)
        try:
            # Filed anyway: the link to what it probably repeats is kept with the report, for staff.
            report = services.producer.append(replace(report, duplicate_of=tuple(d["id"] for d in near)))
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError):   # or a failover
            return _error(lang, t("lapor.error.busy", lang)), no_update, no_update, no_update, False
        return _ticket_block(report.ticket, lang, t("lapor.thanks", lang), secret), True, no_update, None, True
