"""How the report form reacts: the place (by name, GPS on a tap, the map once opened, nudges), photo
upload, likely duplicates, submit.

Citizens read words, never ``field: rule``: every refusal is translated from the catalogue
(``app.lapor_intake``) and shown next to its field (``lapor-error-<field>``, put
there by ``assets/lapor.js`` from the ``data-errors`` of the summary); the APIs keep the rules.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from datetime import datetime, timezone

import dash_leaflet as dl
import redis
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, html, no_update
from flask import current_app, request
from sqlalchemy import select

from app import duplicates, lapor_intake, photos, reporter_secret
from app.areas import place_label
from app.auth.web import staff_filer
from app.i18n import number, t
from app.open311.intake import IntakeRefused, RateGate
from app.privacy import is_sensitive
from app.reports import ticket_for
from app.store import db
from app.store.tables import public_approved
from app.web_errors import CallbackInputInvalid
from app.web_paths import url
from config.catalogue import BY_CODE
from ingest.sources import RawReport
from layouts import lapor as ids


log = logging.getLogger(__name__)


def _filed_by_staff() -> dict:
    """A report filed while a staff account is signed in names it (the self-service check, app.proof)."""
    filer = staff_filer()
    return {"filed_by": filer} if filer else {}


def _point(lat: float, lng: float) -> dict:
    return {"lat": round(float(lat), 6), "lng": round(float(lng), 6)}


def _ticket_block(ticket: str, lang: str, heading: str, secret: str | None = None):
    # The reporter's secret rides in the fragment: never sent in a request line, so in no log.
    # The language rides in the query: the tracking page and a new form open in the citizen's.
    return html.Div([
        html.H2(heading, className="h5", id=f"{ids.PREFIX}result-heading"),
        html.Div(ticket, id=ids.TICKET, className="lapor-ticket"),
        html.A(t("lapor.track", lang), href=url(f"/lacak/{ticket}?lang={lang}") + (f"#k={secret}" if secret else ""),
               id=f"{ids.PREFIX}track-link", className="btn btn-success mt-2 me-2"),
        html.A(t("lapor.again", lang), href=url(f"{ids.PATH}?lang={lang}"), id=f"{ids.PREFIX}again",
               className="btn btn-outline-light mt-2"),
        html.P(t("lapor.keep_link", lang), className="small mt-2", id=f"{ids.PREFIX}keep-link") if secret else None,
    ], className="lapor-done")


def _error(lang: str, message: str):
    return html.Div([html.Strong(t("lapor.error", lang) + ": "), message],
                    className="alert alert-danger", id=f"{ids.PREFIX}error", role="alert")


# Citizen words for refusals (the rules stay in app/reports.py and app/photos.py): app/lapor_intake.py.
_field_message, _validate_all = lapor_intake.field_message, lapor_intake.validate_all


def _errors_block(errors: dict[str, str], lang: str):
    """The summary above the send button; ``assets/lapor.js`` puts each message next to its field
    (``data-errors``), marks it invalid and moves the focus to the first."""
    return html.Div(t("lapor.error.summary", lang), className="alert alert-danger", id=f"{ids.PREFIX}error",
                    role="alert", **{"data-errors": json.dumps(errors, ensure_ascii=False)})


def _metres(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    dlat = math.radians(lat2 - lat1)
    dlng = math.radians(lng2 - lng1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6_371_000.0 * math.hypot(dlat, dlng)


def _ago(moment: datetime, lang: str) -> str:
    minutes = int((datetime.now(timezone.utc) - moment).total_seconds() // 60)
    if minutes < 2:
        return t("time.just_now", lang)
    if minutes < 120:
        return t("time.minutes_ago", lang, n=number(minutes, lang))
    return t("time.hours_ago", lang, n=number(minutes // 60, lang))


def _duplicate_text(services, candidate: dict, category: str, lat: float, lng: float, lang: str):
    """One likely duplicate in words: category, how long ago, how far, its state, its supporters, and
    its photo's thumbnail only once staff published the report and never for a sensitive category
    (the rule of /lacak: a citizen's unreviewed photo is never shown to another)."""
    with services.engine.connect() as conn:
        row = conn.execute(select(db.reports.c.lat, db.reports.c.lng, db.reports.c.status, db.reports.c.photos,
                                  public_approved.c.report_id.label("approved_id"))
                           .select_from(db.reports.outerjoin(public_approved,
                                                             public_approved.c.report_id == db.reports.c.id))
                           .where(db.reports.c.id == candidate["id"])).first()
    entry = BY_CODE.get(category)
    name = entry.name(lang) if entry else t("lacak.unknown_category", lang)
    distance = t("unit.metres", lang, n=number(round(_metres(lat, lng, row.lat, row.lng) / 10) * 10, lang)) \
        if row is not None else "±"
    status = t(f"lacak.status.{row.status if row is not None else 'new'}", lang)
    refs = [ref for ref in json.loads(row.photos or "[]") if photos.is_ref(ref)] \
        if row is not None and row.approved_id is not None and not is_sensitive(category) else []
    thumb = photos.thumb_ref_of(refs[0]) if refs else None
    return [html.P(t("lapor.duplicate", lang), className="mb-1"),
            html.Div([
                html.Img(src=url(f"/photos/{thumb}"), alt=t("lacak.before_alt", lang, category=name),
                         className="lapor-duplicate-thumb", id=f"{ids.PREFIX}duplicate-thumb") if thumb else
                html.Span(entry.icon if entry else "", className="lapor-duplicate-icon", **{"aria-hidden": "true"}),
                html.P([t("lapor.duplicate_item", lang, category=name, ago=_ago(candidate["created_at"], lang),
                          distance=distance, status=status), " ",
                        t("lapor.supporters", lang, count=number(candidate.get("supporters", 0), lang)), " ",
                        html.A(candidate["ticket"], href=url(f"/lacak/{candidate['ticket']}?lang={lang}"), target="_blank",
                               id=f"{ids.PREFIX}duplicate-ticket")], className="mb-0"),
            ], className="lapor-duplicate-item")]


def _place_words(services, point: dict | None, lang: str) -> tuple[str, bool]:
    """(the place of ``point`` in words, inside the city)."""
    if not point:
        return t("lapor.no_location", lang), True
    inside, area = services.areas.place(point["lat"], point["lng"])
    if not inside:
        return t("lapor.error.outside", lang, city=services.preset.name), False
    return place_label(area, fallback=t("lapor.place_unknown", lang, city=services.preset.name)), True


def _register_location(dash_app, services) -> None:
    """The place: search by name, GPS on a tap (assets/lapor.js), the map once opened, nudges."""
    dash_app.clientside_callback(ClientsideFunction("pantauLapor", "toggleUpdates"),
                                 Output(ids.UPDATES, "aria-pressed"), Input(ids.UPDATES, "n_clicks"))
    dash_app.clientside_callback(ClientsideFunction("pantauLapor", "chooseCategory"),
                                 Output(ids.CATEGORY_VALUE, "data"),
                                 Output({"type": ids.CATEGORY_BUTTON, "code": ALL}, "aria-pressed"),
                                 Input({"type": ids.CATEGORY_BUTTON, "code": ALL}, "n_clicks"),
                                 prevent_initial_call=True)
    dash_app.clientside_callback(ClientsideFunction("pantauLapor", "gps"), Output(ids.GPS_RESULT, "data"),
                                 Input(ids.GPS, "n_clicks"), prevent_initial_call=True)
    dash_app.clientside_callback(ClientsideFunction("pantauLapor", "loadMap"), Output(ids.MAP_READY, "data"),
                                 Input(ids.MAP_OPEN, "n_clicks"), prevent_initial_call=True)
    dash_app.clientside_callback(ClientsideFunction("pantauLapor", "placeErrors"),
                                 *[Output(ids.error_id(f), "children") for f in ids.ERROR_FIELDS],
                                 Input(ids.RESULT, "children"), prevent_initial_call=True)

    @dash_app.callback(Output(ids.PLACE_RESULTS, "children"), Input(ids.PLACE_SEARCH, "value"),
                       State(ids.LANGUAGE, "data"), prevent_initial_call=True)
    def search_places(text, lang):
        lang = _lang(lang)
        text = (_text_or_none(text, "place") or "").strip()[:60]
        if len(text) < 2:
            return []
        found = services.areas.search(text, limit=6)
        if not found:
            return [html.Li(t("lapor.place_none", lang, text=text, city=services.preset.name), className="lapor-hint")]
        return [html.Li(html.Button(label, id={"type": ids.PLACE, "index": f"{lat},{lng}"}, type="button", n_clicks=0,
                                    className="btn btn-outline-light btn-sm lapor-place-button",
                                    **{"aria-label": t("lapor.place_pick", lang, place=label)}))
                for label, lat, lng in found]

    @dash_app.callback(Output(ids.MAP_BOX, "children"), Input(ids.MAP_READY, "data"),
                       State(ids.LOCATION, "data"), State(ids.LANGUAGE, "data"), prevent_initial_call=True)
    def open_map(ready, location, lang):
        lang = _lang(lang)
        location = _point_of(location)
        if ready != "ready":
            return html.Div(t("lapor.map_failed" if ready == "failed" else "lapor.map_loading", lang),
                            className="lapor-hint", role="status")
        preset = services.preset
        center = [location["lat"], location["lng"]] if location else list(preset.center)
        tiles = getattr(services.settings, "tile_url", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
        marker = [dl.Marker(position=center)] if location else []
        return html.Div(dl.Map(id=ids.MAP, center=center, zoom=16 if location else max(preset.zoom, 12),
                               className="lapor-map", children=[
                                   dl.TileLayer(url=tiles),
                                   # kecamatan outlines keep the map readable where no tile server is reachable
                                   dl.GeoJSON(data=services.areas.outlines_geojson("district"), interactive=False,
                                              style={"color": "#8fa3bf", "weight": 1, "fillOpacity": 0.05}),
                                   dl.LayerGroup(id=ids.MARKER, children=marker)]),
                        role="region", **{"aria-label": t("lapor.map_label", lang)})

    # The map exists only once opened: its clicks reach a store that is always there, and the chosen
    # point reaches the map from the browser (a Dash callback may not name a component not yet drawn).
    dash_app.clientside_callback(ClientsideFunction("pantauLapor", "mapClick"), Output(ids.MAP_CLICK, "data"),
                                 Input(ids.MAP, "clickData"), prevent_initial_call=True)
    dash_app.clientside_callback(ClientsideFunction("pantauLapor", "followLocation"), Output(ids.MAP_FOLLOW, "data"),
                                 Input(ids.LOCATION, "data"), prevent_initial_call=True)

    @dash_app.callback(Output(ids.LOCATION, "data"), Output(ids.LOCATION_TEXT, "children"),
                       Output(ids.GPS_STATUS, "children"), Output(ids.NUDGE_BOX, "hidden"),
                       Input(ids.MAP_CLICK, "data"), Input(ids.GPS_RESULT, "data"),
                       Input({"type": ids.PLACE, "index": ALL}, "n_clicks"),
                       Input({"type": ids.NUDGE, "way": ALL}, "n_clicks"),
                       State(ids.LOCATION, "data"), State(ids.LANGUAGE, "data"), prevent_initial_call=True)
    def choose_location(click, gps, _places, _nudges, current, lang):
        lang = _lang(lang)
        current = _point_of(current)
        trigger = ctx.triggered_id
        status = no_update
        if trigger == ids.GPS_RESULT:
            if not gps:
                return no_update, no_update, no_update, no_update
            if not isinstance(gps, dict):
                raise CallbackInputInvalid("gps", "must be the browser's position or its error")
            if gps.get("asking"):
                return no_update, no_update, t("lapor.gps_asking", lang), no_update
            if gps.get("error"):
                # The browser's own words ("User denied Geolocation") are never shown.
                reason = gps["error"] if gps["error"] in ("denied", "unavailable", "timeout", "unsupported") \
                    else "unavailable"
                return no_update, no_update, html.Span(t(f"lapor.gps.{reason}", lang), className="lapor-warning",
                                                       id=f"{ids.PREFIX}gps-error"), no_update
            point = _point(*_lat_lng(gps, "gps"))
            accuracy = gps.get("accuracy")
            if not _finite(accuracy if accuracy is not None else 0):
                raise CallbackInputInvalid("gps", "accuracy must be a number of metres")
            status = t("lapor.gps_ok", lang, metres=number(min(int(accuracy or 0), 99999), lang))
        elif isinstance(trigger, dict) and trigger.get("type") == ids.PLACE:
            if not isinstance(_places, list) or not any(_places):
                return no_update, no_update, no_update, no_update
            parts = str(trigger.get("index", "")).split(",")
            if len(parts) != 2:
                raise CallbackInputInvalid("place", "must be a place the search offered")
            try:
                lat, lng = (float(v) for v in parts)
            except ValueError:
                raise CallbackInputInvalid("place", "must be a place the search offered") from None
            point, status = _point(*_lat_lng({"lat": lat, "lng": lng}, "place")), ""
        elif isinstance(trigger, dict) and trigger.get("type") == ids.NUDGE:
            if not current or not isinstance(_nudges, list) or not any(_nudges) \
                    or trigger.get("way") not in ids.NUDGES:
                return no_update, no_update, no_update, no_update
            north, east = ids.NUDGES[trigger["way"]]
            lat = current["lat"] + north / 111_320.0
            lng = current["lng"] + east / (111_320.0 * max(math.cos(math.radians(current["lat"])), 1e-6))
            point = _point(lat, lng)
        elif trigger == ids.MAP_CLICK and isinstance(click, dict) and click.get("latlng"):
            point = _point(*_lat_lng(click["latlng"], "map"))
        else:
            return no_update, no_update, no_update, no_update
        words, inside = _place_words(services, point, lang)
        text = words if inside else html.Span(words, className="lapor-warning", id=f"{ids.PREFIX}outside")
        return point, text, status, False


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
    _lat_lng(location, "location")
    return location


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _lat_lng(value, name: str) -> tuple[float, float]:
    """(lat, lng) of a point the browser sent (map click, GPS, a search result), or a 400."""
    if not (isinstance(value, dict) and _finite(value.get("lat")) and _finite(value.get("lng"))
            and -90 <= value["lat"] <= 90 and -180 <= value["lng"] <= 180):
        raise CallbackInputInvalid(name, "must be {lat, lng} numbers on the globe")
    return value["lat"], value["lng"]


def _text_or_none(value, name: str):
    if value is not None and not isinstance(value, str):
        raise CallbackInputInvalid(name, "must be text")
    return value


def register(dash_app, services) -> None:
    gate = RateGate(services.redis, services.keys)
    settings = services.settings
    _register_location(dash_app, services)

    # The photo is a plain multipart upload (assets/lapor-photo.js -> POST /lapor/photo, app/web_lapor.py),
    # which puts the pending upload's ref into PHOTO_REF.

    @dash_app.callback(
        Output(ids.RESULT, "children"), Output(ids.DUPLICATE, "hidden"),
        Output(f"{ids.DUPLICATE}-text", "children"), Output(ids.DUPLICATE_ID, "data"),
        Output(ids.SUBMIT, "disabled"),
        Input(ids.SUBMIT, "n_clicks"), Input(ids.SUBMIT_ANYWAY, "n_clicks"), Input(ids.SUPPORT, "n_clicks"),
        State(ids.CATEGORY_VALUE, "data"), State(ids.LOCATION, "data"), State(ids.DESCRIPTION, "value"),
        State(ids.PHOTO_REF, "data"), State(ids.NAME, "value"), State(ids.PHONE, "value"),
        State(ids.EMAIL, "value"), State(ids.LANGUAGE, "data"), State(ids.DUPLICATE_ID, "data"),
        State(ids.FORM_TOKEN, "data"), State(ids.UPDATES, "aria-pressed"), prevent_initial_call=True)
    def submit(_submit, _anyway, _support, category, location, description, photo_ref, name, phone,
               email, lang, duplicate, form_token, updates=None):
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
        if updates not in (None, "true", "false"):
            raise CallbackInputInvalid("updates", "must be 'true' or 'false'")
        wants_updates = updates == "true"
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
        # Every refused field at once, in words, next to the field (see _validate_all).
        errors = {} if category else {"category": t("lapor.error.category", lang)}
        if not location:
            errors["location"] = t("lapor.error.location", lang)
        if wants_updates and not email:
            errors["email"] = t("lapor.error.updates_email", lang)
        raw = RawReport(category=category or "other", lat=(location or {}).get("lat", services.preset.center[0]),
                        lng=(location or {}).get("lng", services.preset.center[1]),
                        description=description or "", source="web", reporter_name=name or None,
                        reporter_phone=phone or None, reporter_email=email or None,
                        photos=(photo_ref,) if photo_ref else (),
                        attributes=_filed_by_staff(),
                        # A double tap, or a phone sending again on a bad network, gives the same report
                        # id: the same ticket back, and the consumers count it once.
                        source_ref=f"form:{visit}")
        report = _validate_all(services.producer.validate, raw, errors, lang, services.preset.name)
        if report is None:
            return _errors_block(errors, lang), no_update, no_update, no_update, False
        try:
            near = duplicates.find_likely_duplicates(services.redis, services.keys, services.preset,
                                                     report.category, report.lat, report.lng,
                                                     exclude=report.id)   # this very form, sent before
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError):   # or a failover
            return _error(lang, t("lapor.error.busy", lang)), no_update, no_update, no_update, False
        if near and ctx.triggered_id == ids.SUBMIT:
            first = near[0]
            first["supporters"] = duplicates.supporter_count(services.engine, first["id"])
            text = _duplicate_text(services, first, report.category, report.lat, report.lng, lang)
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
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError):   # or a failover
            if moved:
                photos.detach(settings, photo_ref)     # not filed: the photo waits (and expires) again
            return _error(lang, t("lapor.error.busy", lang)), no_update, no_update, no_update, False
        if wants_updates:
            lapor_intake.subscribe_updates(services, report, lang)
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
        heading = t("lapor.supported", lang, ticket=ticket) + " " + t("lapor.supporters", lang, count=number(count, lang))
        return _ticket_block(ticket, lang, heading), True, no_update, None, True
