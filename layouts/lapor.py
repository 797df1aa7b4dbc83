"""The citizen report form at /lapor: mobile first (a 360×800 phone on 3G), filed in under a minute.

Category from icons (the city's own, most used first), the place by name, GPS (asked only on a
tap) or the map (fetched only when opened), nudged with buttons; a description, a photo, optional
contact; the answer is a ticket number and the private tracking link. A likely duplicate nearby is
shown first so the citizen may support it instead.

The page is light (``app/web_assets.py``): it renders only Dash's core and HTML components (no
Bootstrap components: their classes on plain elements), and dash-leaflet once the map is opened.
Errors are shown next to their field (``lapor-error-<field>``, ``role=alert``).
"""
from __future__ import annotations

from dash import dcc, html

from app import duplicates, photos
from app.i18n import t
from config.catalogue import BY_CODE
from app.web_paths import url

PATH = "/lapor"
PREFIX = "lapor-"
CATEGORY = "lapor-category"
CATEGORY_BUTTON = "lapor-category-button"   # pattern-matching id type: {"type": ..., "code": <category>}
CATEGORY_VALUE = "lapor-category-value"
MAP = "lapor-map"
MAP_BOX = "lapor-map-box"
MAP_OPEN = "lapor-map-open"
MAP_READY = "lapor-map-ready"
MAP_CLICK = "lapor-map-click"
MAP_FOLLOW = "lapor-map-follow"
MARKER = "lapor-marker"
GPS = "lapor-gps"
GPS_RESULT = "lapor-gps-result"
GPS_STATUS = "lapor-gps-status"
PLACE_SEARCH = "lapor-place-search"
PLACE_RESULTS = "lapor-place-results"
PLACE = "lapor-place"            # pattern-matching id type of one search result's button
NUDGE = "lapor-nudge"            # pattern-matching id type of the four nudge buttons
NUDGE_BOX = "lapor-nudge-box"
LOCATION = "lapor-location"
LOCATION_TEXT = "lapor-location-text"
DESCRIPTION = "lapor-description"
PHOTO = "lapor-photo"
PHOTO_REF = "lapor-photo-ref"
PHOTO_STATUS = "lapor-photo-status"
PHOTO_BOX = "lapor-photo-box"
PHOTO_PROGRESS = "lapor-photo-progress"
PHOTO_FILE = "lapor-photo-file"   # the file input assets/lapor-photo.js adds (outside Dash's tree)
KEPT = "lapor-kept"               # a report kept on the phone with no signal: its state, then its ticket
NAME = "lapor-name"
PHONE = "lapor-phone"
EMAIL = "lapor-email"
UPDATES = "lapor-updates"          # opt-in to updates by e-mail (app/citizen_mail.py)
SUBMIT = "lapor-submit"
SUBMIT_ANYWAY = "lapor-submit-anyway"
SUPPORT = "lapor-support"
DUPLICATE = "lapor-duplicate"
DUPLICATE_ID = "lapor-duplicate-id"
RESULT = "lapor-result"
LANGUAGE = "lapor-language"
TICKET = "lapor-ticket"
FORM = "lapor-form"
FORM_TOKEN = "lapor-form-token"   # one per page load: the same form sent twice files one report
# The fields an error can point at: the error's element is f"lapor-error-{field}", next to the field.
ERROR_FIELDS = ("category", "location", "description", "photo", "name", "phone", "email")
UPLOAD_SIDE = 1600   # the photo's longer side after the browser resized it (px)
# Nudge steps (north, east) in metres.
NUDGES = {"north": (25, 0), "south": (-25, 0), "west": (0, -25), "east": (0, 25)}


def error_id(field: str) -> str:
    return f"{PREFIX}error-{field}"


def city_categories(preset) -> list:
    """The city's own categories (those its preset expects), most used first, "other" last."""
    codes = sorted(preset.category_mix, key=lambda code: (code == "other", -preset.category_mix[code], code))
    return [BY_CODE[code] for code in codes if code in BY_CODE]


def language_switch(path: str, lang: str) -> html.Nav:
    other = "en" if lang == "id" else "id"
    return html.Nav(html.A(t("lang.switch", lang), href=url(f"{path}?lang={other}"), lang=other, hrefLang=other,
                           id="citizen-language", className="citizen-language"),
                    className="citizen-nav", **{"aria-label": t("lang.nav", lang)})


def _error_slot(field: str) -> html.Div:
    return html.Div(id=error_id(field), className="lapor-field-error", role="alert")


def _button(label, id_, kind="secondary", **extra) -> html.Button:
    return html.Button(label, id=id_, type="button", className=f"btn btn-{kind} " + extra.pop("className", ""),
                       n_clicks=0, **extra)


def photo_field(lang: str) -> html.Div:
    """The photo: a button that opens the phone's camera or gallery (``assets/lapor-photo.js`` adds
    the file input, resizes the photo to at most 1600 px and uploads it with a progress bar). The
    box's data attributes carry the words and the limit the browser checks before anything is sent."""
    return html.Div([
        _button(t("lapor.photo_choose", lang), PHOTO, className="lapor-upload",
                **{"aria-describedby": f"{PREFIX}photo-label"}),
        html.Progress(id=PHOTO_PROGRESS, max="100", value="0", hidden=True, className="lapor-progress",
                      **{"aria-label": t("lapor.photo.progress", lang)}),
    ], id=PHOTO_BOX, **{"data-max-bytes": str(photos.MAX_BYTES), "data-side": str(UPLOAD_SIDE),
                        "data-lang": lang, "data-too-large": t("lapor.photo.too_large", lang),
                        "data-wrong-type": t("lapor.photo.wrong_type", lang),
                        "data-resizing": t("lapor.photo.resizing", lang),
                        "data-uploading": t("lapor.photo.uploading", lang),
                        "data-failed": t("lapor.photo.failed", lang), "data-kept": t("lapor.photo.kept", lang),
                        "data-alt": t("lapor.photo_alt", lang)})


def kept_texts(lang: str, token: str) -> dict:
    """Data attributes of the form for ``assets/lapor-offline.js``: the visit and the words it shows
    when a report is kept on the phone with no signal."""
    return {"data-token": token, "data-lang": lang,
            "data-waiting": t("lapor.offline.waiting", lang), "data-sending": t("lapor.offline.sending", lang),
            "data-refused": t("lapor.offline.refused", lang, message="{message}"),
            "data-gps": t("lapor.offline.gps", lang, metres="{metres}"),
            "data-no-category": t("lapor.error.category", lang),
            "data-no-location": t("lapor.offline.unavailable", lang) + " " + t("lapor.error.location", lang),
            "data-summary": t("lapor.error.summary", lang)}


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang") if params.get("lang") in ("id", "en") else services.settings.language
    preset = services.preset
    arrows = {"north": "↑", "south": "↓", "west": "←", "east": "→"}
    token = duplicates.visit_token(services.settings.resolved_secret_key())
    return html.Div([
        dcc.Store(id=LANGUAGE, data=lang),
        dcc.Store(id=CATEGORY_VALUE),
        dcc.Store(id=LOCATION),
        dcc.Store(id=PHOTO_REF),
        dcc.Store(id=DUPLICATE_ID),
        dcc.Store(id=GPS_RESULT),
        dcc.Store(id=MAP_READY),
        dcc.Store(id=MAP_CLICK),
        dcc.Store(id=MAP_FOLLOW),
        # Signed by the server: support is counted per visit and address, never per made-up token.
        dcc.Store(id=FORM_TOKEN, data=token),
        language_switch(PATH, lang),
        html.H1(t("lapor.title", lang), className="lapor-title"),
        html.P(t("lapor.city", lang, city=preset.name), className="lapor-hint"),
        html.Div(id=FORM, className="lapor-form", **kept_texts(lang, token), children=[
            html.Fieldset([
                html.Legend(t("lapor.category", lang), className="lapor-step", id=f"{PREFIX}category-legend"),
                # Toggle buttons (aria-pressed), one per category: the choice is CATEGORY_VALUE's data.
                html.Div([html.Button([html.Span(c.icon, className="lapor-icon", **{"aria-hidden": "true"}),
                                       html.Span(c.name(lang), className="lapor-category-name")],
                                      id={"type": CATEGORY_BUTTON, "code": c.code}, type="button", n_clicks=0,
                                      className="lapor-category-button", **{"aria-pressed": "false"})
                          for c in city_categories(preset)],
                         id=CATEGORY, className="lapor-categories", role="group",
                         **{"aria-labelledby": f"{PREFIX}category-legend"}),
                _error_slot("category"),
            ], className="lapor-fieldset"),
            html.Fieldset([
                html.Legend(t("lapor.location", lang), className="lapor-step"),
                html.Label(t("lapor.place_search", lang), htmlFor=PLACE_SEARCH, className="form-label small"),
                dcc.Input(id=PLACE_SEARCH, type="search", debounce=0.5, autoComplete="off", maxLength=60,
                          placeholder=t("lapor.place_hint", lang), className="form-control"),
                html.Ul(id=PLACE_RESULTS, className="lapor-place-results", **{"aria-live": "polite"}),
                html.Div([
                    _button(["📍 ", t("lapor.gps", lang)], GPS, className="btn-sm me-2 mb-1",
                            **{"data-asking": t("lapor.gps_asking", lang)}),
                    _button(["🗺️ ", t("lapor.map_open", lang)], MAP_OPEN, className="btn-sm mb-1"),
                ], className="mt-2"),
                html.Div(id=GPS_STATUS, className="lapor-hint", role="status"),
                html.Div(id=MAP_BOX),
                html.Div([html.Strong(t("lapor.place_chosen", lang) + " "),
                          html.Span(t("lapor.no_location", lang), id=LOCATION_TEXT)],
                         className="lapor-place", **{"aria-live": "polite"}),
                html.Div(id=NUDGE_BOX, hidden=True, className="lapor-nudge", children=[
                    html.Span(t("lapor.nudge", lang), className="small me-1"),
                    *[_button(arrows[way], {"type": NUDGE, "way": way}, className="btn-sm lapor-nudge-button",
                              title=t(f"lapor.nudge.{way}", lang), **{"aria-label": t(f"lapor.nudge.{way}", lang)})
                      for way in NUDGES],
                ]),
                _error_slot("location"),
            ], className="lapor-fieldset"),
            html.Label(t("lapor.description", lang), htmlFor=DESCRIPTION, className="lapor-step d-block"),
            dcc.Textarea(id=DESCRIPTION, placeholder=t("lapor.description_hint", lang), maxLength=2000,
                         className="form-control lapor-description"),
            _error_slot("description"),
            html.Div(t("lapor.photo", lang), className="lapor-step", id=f"{PREFIX}photo-label"),
            photo_field(lang),
            html.Div(id=PHOTO_STATUS, className="lapor-hint", role="status"),
            _error_slot("photo"),
            html.Div(t("lapor.contact", lang), className="lapor-step"),
            *[html.Div([html.Label(t(f"lapor.{name}", lang), htmlFor=id_, className="form-label small mb-0"),
                        dcc.Input(id=id_, type=kind, maxLength=limit, className="form-control", autoComplete=auto,
                                  **({"placeholder": t("lapor.phone_hint", lang)} if name == "phone" else {})),
                        _error_slot(name)], className="mb-2")
              for name, id_, kind, limit, auto in (("name", NAME, "text", 100, "name"),
                                                    ("phone", PHONE, "tel", 30, "tel"),
                                                    ("email", EMAIL, "email", 254, "email"))],
            # Opt-in, off until pressed (a toggle button, like the categories); only with the e-mail
            # above: the filing refuses it without one.
            html.Button(t("lapor.updates", lang), id=UPDATES, type="button", n_clicks=0,
                        className="lapor-updates-button",
                        **{"aria-pressed": "false", "aria-describedby": f"{UPDATES}-hint"}),
            html.Div(t("lapor.updates_hint", lang), id=f"{UPDATES}-hint", className="lapor-hint mb-2"),
            html.Div(id=DUPLICATE, hidden=True, className="lapor-duplicate", children=[
                html.Div(id=f"{DUPLICATE}-text"),
                html.Div([
                    _button(t("lapor.support", lang), SUPPORT, kind="warning", className="me-2 mt-2"),
                    _button(t("lapor.submit_anyway", lang), SUBMIT_ANYWAY, kind="light", className="mt-2"),
                ], className="lapor-duplicate-actions"),
            ]),
            html.Button(t("lapor.submit", lang), id=SUBMIT, type="button", n_clicks=0,
                        className="btn btn-primary btn-lg w-100 my-3"),
        ]),
        html.Div(id=RESULT, className="lapor-result", tabIndex="-1"),
        html.Div(id=KEPT, className="lapor-result", role="status", tabIndex="-1"),
    ], className="lapor-page")
