"""The application factory: builds the Flask server, the Dash app and the push channel.

Nothing happens at import time; tests build a fresh app per test with their
own settings (after Flask's ``flaskr``).
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

from app import (headers, live, public, pwa, web_assets, web_errors, web_feedback, web_install, web_kinerja, web_lapor,
                 web_ops, web_photos)
from app.auth import displays, web as auth_web
from app.open311 import api as open311_api
from app.services import Services
from app.staff import api as staff_api, push as queue_push
from callbacks import register_all
from config.settings import Settings
from layouts import shell

ROOT = Path(__file__).resolve().parents[1]


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """The web app: one city at /, or with PANTAU_CITIES each city's app under /<city>/, the list
    of cities at / and the overview wall at /overview (``app.web_install``)."""
    settings = settings or Settings.from_env()
    services = services or Services.open(settings)
    if settings.multi_city:
        return web_install.create_install_app(settings, services, create_city_app)
    return create_city_app(settings, services)


def create_city_app(settings: Settings, services: Services, mount: str = "") -> Flask:
    """One city's app; ``mount`` ("/kupang") is where a several-city install serves it."""
    server = Flask(__name__)
    server.config.update(SECRET_KEY=settings.resolved_secret_key(), MAX_CONTENT_LENGTH=16 * 1024 * 1024,
                         JSON_SORT_KEYS=False)
    server.extensions["pantau"] = services

    # First of the before_request functions: a crafted Dash body is a 400 before anything reads it.
    web_errors.install(server)

    server.register_blueprint(web_ops.blueprint)
    server.register_blueprint(web_photos.blueprint)
    server.register_blueprint(open311_api.blueprint)
    auth_web.init_app(server, services)
    displays.init_app(server, services)   # the wall: a staff session or a display token
    server.register_blueprint(staff_api.blueprint)
    server.register_blueprint(web_feedback.blueprint)
    server.register_blueprint(public.blueprint)
    server.register_blueprint(web_kinerja.blueprint)
    server.register_blueprint(web_lapor.blueprint)
    server.register_blueprint(pwa.blueprint)     # the officer's phone: /tugas/sw.js, manifest

    web_assets.install(server, web_assets.compressed_dir(settings))
    dash_app = web_assets.PantauDash(
        __name__, server=server, title="Pantau", update_title=None,
        assets_folder=str(ROOT / "assets"), suppress_callback_exceptions=True,
        # A service worker is served at its own URL (app/web_lapor.py, app/pwa.py), never run as a page's script.
        assets_ignore=r".*-sw\.js$",
        requests_pathname_prefix=mount + "/", routes_pathname_prefix="/",
        # Bootstrap (Bootswatch Darkly 5.3.8, MIT) is served from assets/: operations rooms are closed networks.
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}])
    dash_app.layout = shell.layout
    server.extensions["pantau_screen_ids"] = register_all(dash_app, services)
    dash_app.default_language = settings.language
    server.extensions["dash"] = dash_app
    web_errors.install_dash_check(server, dash_app)

    # After every callback is registered: the CSP carries the hashes of Dash's inline scripts.
    headers.install(server, settings, dash_app.csp_hashes())

    # The push channel. Each web process relays the aggregator's Redis channel to its own displays
    # (app/live.py), so no Socket.IO message queue is needed between processes.
    # Browsers may open it only from our own pages (Engine.IO checks Origin with this too); the
    # wall connects over WebSocket only, so long-polling (a thread held per poll) is refused.
    socketio = SocketIO(server, cors_allowed_origins=lambda origin, environ: live.origin_allowed(
        settings, origin, environ), transports=["websocket"])
    server.extensions["pantau_socketio"] = socketio
    live.install(server, socketio, services)
    queue_push.install(server, socketio, services)   # the console's queue (/dispatch namespace)
    # Who may open a push connection and how many, before a WebSocket (and its thread) exists.
    server.wsgi_app = live.SocketGate(server.wsgi_app, server, settings,
                                      watch=server.extensions["pantau_socket_watch"])
    if settings.proxies and not mount:   # several cities: the install's app applies it once
        # Outermost, so every part of the app (rate limits, audit, URLs) sees the client's address.
        n = settings.proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)
    return server
