"""The web edge of staff auth: Flask-Login, the login/logout pages, the guard in front of every
staff path and staff Dash callback, CSRF tokens, the idle-session timeout, sign-in throttling
(``app.auth.throttle``) and the session epoch (``app.auth.users``) checked on every request.

On a several-city install the session is the install's (one cookie, path ``/``): a sign-in holds in
every city the account works in, with its role there, and ``/logout`` in any city ends it in all of
them (the epoch is the account's, not a city's): whoever signs out of one city on a shared PC expects
the account to be closed there. To take one city from an account: ``users remove-city``."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import unicodedata
from datetime import timedelta
from urllib.parse import unquote, urlparse

from flask import (Blueprint, abort, current_app, jsonify, redirect, render_template_string, request,
                   session, url_for)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user, login_user, logout_user

from app import audit, pwa, web_paths
from app.auth import permissions
from app.auth.throttle import LoginBusy, LoginThrottled, Throttle
from app.auth.users import AccountDisabled, authenticate, end_sessions, load_user

STAFF_PREFIXES = ("/dispatch", "/tugas", "/staff", "/kinerja")
DASH_CALLBACK = "/_dash-update-component"
ROUTER_LOCATION = "shell-location"
CSRF_HEADER = "X-CSRF-Token"

blueprint = Blueprint("auth", __name__)

_LOGIN_PAGE = """<!doctype html><html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Pantau — Masuk / Sign in</title>
<style>body{font-family:system-ui,sans-serif;background:#222;color:#eee;display:flex;justify-content:center}
form{margin-top:10vh;display:flex;flex-direction:column;gap:.6rem;width:18rem}
input,button{font-size:1rem;padding:.5rem}.err{color:#f66}</style></head><body>
<form method="post" action="{{ url_for('auth.login') }}" id="login-form">
<h1>Pantau</h1><p>Masuk petugas / Staff sign in</p>
{% if error %}<p class="err" id="login-error">{{ error }}</p>{% endif %}
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<label>Nama pengguna / Username <input name="username" id="login-username" autocomplete="username" required></label>
<label>Kata sandi / Password <input name="password" id="login-password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="login-submit">Masuk / Sign in</button></form></body></html>"""


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def staff_filer() -> str | None:
    """The username of the staff account signed in on this request, when it files a report (/lapor or
    Open311 while signed in): kept as the report's ``attributes.filed_by`` so that a report a staff
    account filed and then resolved itself is flagged (``app.proof.self_service``)."""
    try:
        if current_user.is_authenticated:
            return current_user.username
    except (AttributeError, RuntimeError):   # no login manager or no request
        return None
    return None


def _csrf_ok(sent: str | None) -> bool:
    token = session.get("csrf")
    return bool(token and sent and hmac.compare_digest(token, sent))


def safe_next(raw: str | None) -> str:
    """``raw`` when it is a path on this site, else "" (the default page): it starts with one "/"
    and, as sent and once more URL-decoded, holds no backslash, whitespace or control character
    (browsers drop tabs and newlines, so "/\t/evil.example" would be "//evil.example")."""
    if not raw or len(raw) > 2000:
        return ""
    for form in (raw, unquote(raw)):
        if not form.startswith("/") or form.startswith("//"):
            return ""
        if any(ch == "\\" or ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in form):
            return ""
    return raw


def _same_origin() -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True  # non-browser clients send none; browsers always send Origin on a POST fetch
    return urlparse(origin).netloc == request.host


def _is_staff_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in STAFF_PREFIXES)


def routed_path(payload: dict) -> str | None:
    """The path the router is asked to render, when the callback is the router's."""
    for item in payload.get("inputs") or []:
        if isinstance(item, dict) and item.get("id") == ROUTER_LOCATION and item.get("property") == "pathname":
            return web_paths.local(str(item.get("value") or ""))   # without the city's mount
    return None


def _staff_callback(payload: dict) -> str | None:
    """The staff screen a Dash callback touches (a callback or component id a staff screen
    registered, ``app.auth.screen_ids``; or the routed path), or None."""
    screen = current_app.extensions["pantau_screen_ids"].screen_of(payload)
    if screen in permissions.SCREENS:
        return screen
    path = routed_path(payload)
    if path is not None:
        for screen in permissions.SCREENS:
            if path == screen or path.startswith(screen + "/"):
                return screen
    return None


def _deny(status: int, message: str, wants_json: bool):
    if wants_json or status == 403:
        return jsonify({"error": message}), status
    return redirect(url_for("auth.login", next=request.script_root + request.full_path.rstrip("?")))


# Paths that never use a staff session (the Open311 API authenticates by key; health and
# metrics are for machines). Skipping the session there also keeps the intake's hot path short.
SESSIONLESS = ("/open311/", "/healthz", "/metrics")


def guard():
    """before_request: staff paths and staff Dash callbacks need a live session, the role,
    and for a state change a valid CSRF token (own token for the API, same-origin JSON for Dash)."""
    path = request.path
    if path.startswith(SESSIONLESS) or path in pwa.PUBLIC_PATHS:
        return None   # keyed or public machine APIs (and data-free worker/manifest files): no session
    if current_user.is_authenticated:
        seen = session.get("seen", 0)
        if time.time() - seen > current_app.permanent_session_lifetime.total_seconds():
            logout_user()
            session.clear()
        else:
            session["seen"] = time.time()
    screen = None
    if path == DASH_CALLBACK and request.method == "POST":
        payload = request.get_json(silent=True) or {}
        screen = _staff_callback(payload)
        if screen is None:
            return None
        if not current_user.is_authenticated:
            return jsonify({"error": "login required"}), 401
        if not (request.is_json and _same_origin()):
            return jsonify({"error": "cross-site request refused"}), 403
        if not permissions.can_open(current_user.role, screen):
            return jsonify({"error": f"role {current_user.role} may not use {screen}"}), 403
        return None
    if not _is_staff_path(path):
        return None
    wants_json = path.startswith("/staff/api")
    if not current_user.is_authenticated:
        return _deny(401, "login required", wants_json)
    if request.method not in ("GET", "HEAD", "OPTIONS") and not _csrf_ok(request.headers.get(CSRF_HEADER)):
        return jsonify({"error": f"missing or wrong CSRF token (send the {CSRF_HEADER} header)"}), 403
    for screen in permissions.SCREENS:
        if path == screen or path.startswith(screen + "/"):
            if not permissions.can_open(current_user.role, screen):
                return _deny(403, f"role {current_user.role} may not open {screen}", wants_json)
    return None


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    services = current_app.extensions["pantau"]
    error = None
    nxt = safe_next(request.values.get("next"))
    if request.method == "POST":
        if not _csrf_ok(request.form.get("csrf_token")):
            abort(400, "missing or wrong CSRF token; reload the page")
        name = (request.form.get("username", "") or "").strip().lower()[:40]
        outcome = "login.failed"
        throttle: Throttle = current_app.extensions["pantau_login"]
        try:
            # The try is counted before the password is checked, the same way for every name.
            with throttle.attempt(name, request.remote_addr) as attempt:
                try:
                    user = authenticate(services.engine, name, request.form.get("password", ""))
                except AccountDisabled as err:
                    user, error, outcome = None, "Akun dinonaktifkan / " + str(err), "login.disabled"
                if user is not None:   # the account as it is in this city: its role here, or nobody
                    user = load_user(services.engine, user.username, services.preset.slug)
                    if user is None:
                        outcome = "login.other_city"
                if user is not None:
                    attempt.succeeded()
        except LoginThrottled as err:
            return _refused(429, "Terlalu banyak percobaan gagal; coba lagi nanti / "
                                 "Too many failed sign-ins; try again later", err.retry_after, nxt)
        except LoginBusy as err:
            return _refused(503, "Sedang sibuk; coba lagi sebentar lagi / Busy; try again in a moment",
                            err.retry_after, nxt)
        audit.record(services.engine, user.actor if user else "anonymous",
                     "login" if user else outcome, name, origin="web", address=request.remote_addr)
        if user is not None:
            session.clear()                      # a fresh session id and token after login
            login_user(user, remember=False)
            session.permanent = True
            session["seen"] = time.time()
            session["epoch"] = user.epoch        # compared on every request (sign-out everywhere)
            session["agent"] = _agent()
            csrf_token()
            if not nxt:
                nxt = web_paths.url({"agency_officer": "/tugas", "head": "/kinerja"}.get(user.role, "/dispatch"))
            return redirect(nxt)
        error = error or "Nama pengguna atau kata sandi salah / Wrong username or password"
    return render_template_string(_LOGIN_PAGE, error=error, csrf=csrf_token(), next=nxt), \
        (401 if error else 200)


def _agent() -> str:
    """A digest of the browser's User-Agent, kept in the session at sign-in."""
    return hashlib.sha256(request.headers.get("User-Agent", "").encode()).hexdigest()[:16]


def browser_agent() -> str:
    """The digest a session keeps of the browser that signed in (the overview checks it too)."""
    return _agent()


def _refused(status: int, error: str, retry_after: int, nxt: str):
    """A sign-in not checked at all (throttled, or no password check free): the same page and
    headers whichever name was typed."""
    page = render_template_string(_LOGIN_PAGE, error=error, csrf=csrf_token(), next=nxt)
    return page, status, {"Retry-After": str(retry_after)}


@blueprint.post("/logout")
def logout():
    if not _csrf_ok(request.form.get("csrf_token") or request.headers.get(CSRF_HEADER)):
        abort(400, "missing or wrong CSRF token")
    if current_user.is_authenticated:
        engine = current_app.extensions["pantau"].engine
        with engine.begin() as conn:   # every session of the account ends, a copied cookie too
            epoch = end_sessions(engine, current_user.username, conn=conn)
            audit.record(engine, current_user.actor, "logout",
                         current_user.username, origin="web", address=request.remote_addr,
                         detail={"session_epoch": epoch}, conn=conn)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.get("/staff/api/session")
def whoami():
    """The signed-in user and the CSRF token the screens send with every change."""
    return jsonify({"username": current_user.username, "role": current_user.role,
                    "agency": current_user.agency, "csrf_token": csrf_token()})


class _Sessions(SecureCookieSessionInterface):
    """Signed-cookie sessions, not opened at all on the session-less machine paths."""

    def open_session(self, app, request):
        if request.path.startswith(SESSIONLESS):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app) -> bool:
        # Over HTTPS (directly, or through a trusted proxy: PANTAU_PROXIES) the session cookie is
        # never sent back over plain HTTP.
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(server, services) -> None:
    server.session_interface = _Sessions()
    manager = LoginManager()
    manager.session_protection = "strong"
    manager.login_view = "auth.login"

    @manager.user_loader
    def _load(username):
        user = load_user(services.engine, username, services.preset.slug)
        if user is None:
            return None
        # A session opened before the last sign-out, new password, disable or enable is over.
        if session.get("epoch") != user.epoch:
            return None
        # Flask-Login's "strong" protection does nothing for a permanent session: the browser that
        # signed in is checked here (a cookie replayed from another User-Agent is not a session).
        if session.get("agent") != _agent():
            return None
        return user

    manager.init_app(server)
    idle = timedelta(minutes=getattr(services.settings, "staff_idle_minutes", 30))
    server.config.update(PERMANENT_SESSION_LIFETIME=idle, SESSION_COOKIE_HTTPONLY=True,
                         SESSION_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_DURATION=timedelta(0))
    server.extensions["pantau_login"] = Throttle(services.redis, services.keys, services.settings)
    server.register_blueprint(blueprint)
    server.before_request(guard)
    server.jinja_env.globals["csrf_token"] = csrf_token
