"""The citizen report form at /lapor: mobile first (a 360×800 phone), filed in under a minute.

Category from icons, location from GPS or a tap on the map, a description, a
photo, optional contact; the answer is a ticket number. A likely duplicate
nearby is shown first so the citizen may support it instead.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
import dash_leaflet as dl
from dash import dcc, html

from app import duplicates
from app.i18n import t
from config.catalogue import CATEGORIES

PATH = "/lapor"
PREFIX = "lapor-"
CATEGORY = "lapor-category"
MAP = "lapor-map"
MARKER = "lapor-marker"
GEOLOCATION = "lapor-geolocation"
GPS = "lapor-gps"
LOCATION = "lapor-location"
LOCATION_TEXT = "lapor-location-text"
DESCRIPTION = "lapor-description"
PHOTO = "lapor-photo"
PHOTO_REF = "lapor-photo-ref"
PHOTO_STATUS = "lapor-photo-status"
NAME = "lapor-name"
PHONE = "lapor-phone"
EMAIL = "lapor-email"
SUBMIT = "lapor-submit"
SUBMIT_ANYWAY = "lapor-submit-anyway"
SUPPORT = "lapor-support"
DUPLICATE = "lapor-duplicate"
DUPLICATE_ID = "lapor-duplicate-id"
RESULT = "lapor-result"
LANGUAGE = "lapor-language"
TICKET = "lapor-ticket"
FORM_TOKEN = "lapor-form-token"   # one per page load: the same form sent twice files one report


def layout(services, params: dict) -> html.Div:
    lang = params.get("lang", services.settings.language)
    preset = services.preset
    tiles = getattr(services.settings, "tile_url", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    return html.Div([
        dcc.Store(id=LANGUAGE, data=lang),
        dcc.Store(id=LOCATION),
        dcc.Store(id=PHOTO_REF),
        dcc.Store(id=DUPLICATE_ID),
        # Signed by the server: support is counted per visit and address, never per made-up token.
        dcc.Store(id=FORM_TOKEN, data=duplicates.visit_token(services.settings.resolved_secret_key())),
        dcc.Geolocation(id=GEOLOCATION, high_accuracy=True, show_alert=True),
        html.H1(t("lapor.title", lang), className="lapor-title"),
        html.H2(t("lapor.category", lang), className="lapor-step"),
        dcc.RadioItems(id=CATEGORY, className="lapor-categories", inputClassName="lapor-category-input",
                       labelClassName="lapor-category-label", options=[{
                           "label": html.Span([html.Span(c.icon, className="lapor-icon"),
                                               html.Span(c.name(lang), className="lapor-category-name")]),
                           "value": c.code} for c in CATEGORIES]),
        html.H2(t("lapor.location", lang), className="lapor-step"),
        dbc.Button(t("lapor.gps", lang), id=GPS, color="secondary", size="sm", className="mb-2"),
        dl.Map(id=MAP, center=list(preset.center), zoom=max(preset.zoom, 12), className="lapor-map",
               children=[dl.TileLayer(url=tiles),
                         # kecamatan outlines keep the map readable where no tile server is reachable
                         dl.GeoJSON(data=services.areas.outlines_geojson("district"), interactive=False,
                                    style={"color": "#8fa3bf", "weight": 1, "fillOpacity": 0.05}),
                         dl.LayerGroup(id=MARKER)]),
        html.Div(t("lapor.no_location", lang), id=LOCATION_TEXT, className="lapor-hint"),
        html.H2(t("lapor.description", lang), className="lapor-step"),
        dcc.Textarea(id=DESCRIPTION, placeholder=t("lapor.description_hint", lang), maxLength=2000,
                     className="form-control lapor-description"),
        html.H2(t("lapor.photo", lang), className="lapor-step"),
        dcc.Upload(id=PHOTO, accept="image/jpeg,image/png,image/webp", max_size=10 * 1024 * 1024,
                   multiple=False, className="lapor-upload", children=html.Div(t("lapor.photo_drop", lang))),
        html.Div(id=PHOTO_STATUS, className="lapor-hint"),
        html.H2(t("lapor.contact", lang), className="lapor-step"),
        dbc.Input(id=NAME, placeholder=t("lapor.name", lang), maxLength=100, className="mb-1"),
        dbc.Input(id=PHONE, placeholder=t("lapor.phone", lang), type="tel", maxLength=30, className="mb-1"),
        dbc.Input(id=EMAIL, placeholder=t("lapor.email", lang), type="email", maxLength=254, className="mb-2"),
        html.Div(id=DUPLICATE, hidden=True, className="lapor-duplicate", children=[
            html.Div(id=f"{DUPLICATE}-text"),
            dbc.Button(t("lapor.support", lang), id=SUPPORT, color="info", className="me-2 mt-2"),
            dbc.Button(t("lapor.submit_anyway", lang), id=SUBMIT_ANYWAY, color="secondary", outline=True,
                       className="mt-2"),
        ]),
        dbc.Button(t("lapor.submit", lang), id=SUBMIT, color="primary", size="lg", className="w-100 my-3"),
        html.Div(id=RESULT, className="lapor-result"),
    ], className="lapor-page")
