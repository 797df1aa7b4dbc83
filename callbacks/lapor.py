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
from app.open311.intake import IntakeRefused, RateGate
from app.reports import ReportInvalid, ticket_for
from app.web_errors import CallbackInputInvalid
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


def _lang(lang) -> str:
    return lang if lang in ("id", "en") else "id"


def _limited(lang: str, refused: IntakeRefused):
    return _error(lang, t("lapor.error.limited", lang, seconds=refused.retry_after))


def _address() -> str:
    return request.remote_addr or "unknown"


def _point_of(location) -> dict | None:
    """The stored location as the map callback wrote it, or a 400 for a tampered one."""
    if location is None:
        return None
    if not (isinstance(location, dict) and all(isinstance(location.get(k), (int, float))
                                               and not isinstance(location.get(k), bool) for k in ("lat", "lng"))):
        raise CallbackInputInvalid("location", "must be {lat, lng} numbers")
    return location


def _text_or_none(value, name: str):
    if value is not None and not isinstance(value, str):
        raise CallbackInputInvalid(name, "must be text")
    return value


def register(dash_app, services) -> None:
    gate = RateGate(services.redis, services.keys)
    settings = services.settings
    @dash_app.callback(Output(ids.GEOLOCATION, "update_now"), Input(ids.GPS, "n_clicks"),
                       prevent_initial_call=True)
    def ask_gps(_clicks):
        return True

    @dash_app.callback(Output(ids.LOCATION, "data"), Output(ids.MARKER, "children"),
                       Output(ids.LOCATION_TEXT, "children"),
                       Input(ids.MAP, "clickData"), Input(ids.GEOLOCATION, "position"),
                       prevent_initial_call=True)
    def choose_location(click, position):
        try:
            if ctx.triggered_id == ids.GEOLOCATION and position:
                point = _point(position["lat"], position["lon"])
            elif isinstance(click, dict) and click.get("latlng"):
                point = _point(click["latlng"]["lat"], click["latlng"]["lng"])
            else:
                return no_update, no_update, no_update
        except (TypeError, KeyError, ValueError):
            raise CallbackInputInvalid("location", "must be {lat, lng} numbers") from None
        marker = dl.Marker(position=[point["lat"], point["lng"]])
        return point, [marker], f"{point['lat']:.5f}, {point['lng']:.5f}"

    @dash_app.callback(Output(ids.PHOTO_REF, "data"), Output(ids.PHOTO_STATUS, "children"),
                       Input(ids.PHOTO, "contents"), State(ids.PHOTO, "filename"),
                       State(ids.LANGUAGE, "data"), prevent_initial_call=True)
    def upload_photo(contents, filename, lang):
        lang = _lang(lang)
        if not contents:
            return None, ""
        _text_or_none(contents, "photo")
        _text_or_none(filename, "filename")
        # Base64 is 4/3 of the file: a body past the photo limit is refused before it is decoded.
        if len(contents) > (photos.MAX_BYTES + 2) // 3 * 4 + 200:
            return None, _error(lang, f"photo: at most {photos.MAX_BYTES // 1024 // 1024} MB")
        try:
            gate.hit("upload", _address(), settings.upload_address_rate)
        except IntakeRefused as refused:
            return None, _limited(lang, refused)
        except (redis.ConnectionError, redis.TimeoutError):
            return None, _error(lang, t("lapor.error.busy", lang))
        try:
            data = base64.b64decode(contents.split(",", 1)[1], validate=True)
        except (IndexError, binascii.Error, ValueError):
            return None, _error(lang, "photo: the upload could not be read")
        try:
            # Pending until the report is filed: an upload never attached is swept after a while.
            photo = photos.store_photo(settings, data, filename, pending=True)
        except photos.PhotoInvalid as err:
            return None, _error(lang, str(err))
        except photos.PhotoBusy:
            return None, _error(lang, t("lapor.error.photo_busy", lang))
        preview = "data:image/jpeg;base64," + base64.b64encode(photo.thumb).decode()
        return photo.ref, html.Div([
            html.Img(src=preview, className="lacak-photo", id=f"{ids.PREFIX}thumb",
                     alt=t("lapor.photo_ok", lang), style={"maxHeight": "120px"}),
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
        lang = _lang(lang)
        secret = settings.resolved_secret_key()
        visit = duplicates.visit_of(secret, form_token)
        if visit is None:
            # Only a form this server rendered (and not older than a day) can file or support.
            raise CallbackInputInvalid("form", "reload the page: this form was not issued by the server")
        if ctx.triggered_id == ids.SUPPORT:
            return _add_support(lang, secret, visit, duplicate)
        for value, field in ((category, "category"), (description, "description"), (name, "name"),
                             (phone, "phone"), (email, "email")):
            _text_or_none(value, field)
        location = _point_of(location)
        if photo_ref is not None and not photos.is_ref(photo_ref):
            raise CallbackInputInvalid("photo", "not a photo reference this server gave")
        # Every submit counts against the address's limit, whatever is wrong with it.
        try:
            gate.hit("form", _address(), settings.form_address_rate)
        except IntakeRefused as refused:
            return _limited(lang, refused), no_update, no_update, no_update, False
        except (redis.ConnectionError, redis.TimeoutError):
            return _error(lang, t("lapor.error.busy", lang)), no_update, no_update, no_update, False
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
                        source_ref=f"form:{visit}")
        try:
            report = services.producer.validate(raw)
        except ReportInvalid as err:
            return _error(lang, str(err)), no_update, no_update, no_update, False
        try:
            near = duplicates.find_likely_duplicates(services.redis, services.keys, services.preset,
                                                     report.category, report.lat, report.lng,
                                                     exclude=report.id)   # this very form, sent before
        except (redis.ConnectionError, redis.TimeoutError):
            return _error(lang, t("lapor.error.busy", lang)), no_update, no_update, no_update, False
        if near and ctx.triggered_id == ids.SUBMIT:
            first = near[0]
            first["supporters"] = duplicates.supporter_count(services.engine, first["id"])
            text = [t("lapor.duplicate", lang), " ",
                    html.A(first["ticket"], href=f"/lacak/{first['ticket']}", target="_blank",
                           id=f"{ids.PREFIX}duplicate-ticket"),
                    f" — {t('lapor.supporters', lang, count=first['supporters'])}"]
            # Signed over (report, visit): only this offer, on this visit, can be supported.
            offer = {"id": first["id"], "ticket": first["ticket"],
                     "offer": duplicates.offer_token(secret, first["id"], visit)}
            return "", False, text, offer, False
        moved = False
        if photo_ref:
            try:
                moved = photos.attach(settings, photo_ref)   # kept from now on: it belongs to a filed report
            except photos.PhotoInvalid:
                return _error(lang, t("lapor.error.photo_expired", lang)), no_update, no_update, no_update, False
        # The same form token gives the same report id, so a re-sent form shows the same tracking secret.
        tracking_secret, report = reporter_secret.issue(current_app.config["SECRET_KEY"], report)
        try:
            # Filed anyway: the link to what it probably repeats is kept with the report, for staff.
            report = services.producer.append(replace(report, duplicate_of=tuple(d["id"] for d in near)))
        except (redis.ConnectionError, redis.TimeoutError):
            if moved:
                photos.detach(settings, photo_ref)     # not filed: the photo waits (and expires) again
            return _error(lang, t("lapor.error.busy", lang)), no_update, no_update, no_update, False
        return (_ticket_block(report.ticket, lang, t("lapor.thanks", lang), tracking_secret), True, no_update, None,
                True)

    def _add_support(lang, secret, visit, duplicate):
        if not (isinstance(duplicate, dict)
                and duplicates.offer_ok(secret, duplicate.get("id"), visit, duplicate.get("offer"))):
            raise CallbackInputInvalid("duplicate", "support only a report this form was offered")
        ticket = ticket_for(services.preset, duplicate["id"])
        address = _address()
        try:
            gate.hit("support", address, settings.support_address_rate)     # every attempt counts
            who = duplicates.supporter_key(secret, f"{address}|{visit}")
            if duplicates.has_supported(services.engine, duplicate["id"], who):
                count = duplicates.supporter_count(services.engine, duplicate["id"])   # a repeat: no change
            else:
                # Several people may share an address (a mobile carrier's NAT): a few supporters a day.
                gate.hit("support-report", f"{address}|{duplicate['id']}", settings.support_report_address_day,
                         window_s=24 * 3600)
                count = duplicates.support(services.engine, duplicate["id"], who,
                                           client=services.redis, keys=services.keys)
        except IntakeRefused as refused:
            if refused.scope == "support-report":
                return _error(lang, t("lapor.error.support_limit", lang)), no_update, no_update, no_update, False
            return _limited(lang, refused), no_update, no_update, no_update, False
        except duplicates.SupportRefused:
            return _error(lang, t("lapor.error.not_open", lang)), True, no_update, None, False
        except (redis.ConnectionError, redis.TimeoutError):
            return _error(lang, t("lapor.error.busy", lang)), no_update, no_update, no_update, False
        heading = t("lapor.supported", lang, ticket=ticket) + " " + t("lapor.supporters", lang, count=count)
        return _ticket_block(ticket, lang, heading), True, no_update, None, True
