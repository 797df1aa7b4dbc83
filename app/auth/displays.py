"""Who may watch the wall: a staff session (any role) or a display token for an unattended screen.

The wall (``/wall``, its snapshot and time-lapse APIs, its Dash callbacks and its Socket.IO push)
shows every report as it arrives, sensitive categories included, at full resolution: it is for
the command center, not the public (the public gets ``/kiosk``). A screen nobody signs in to gets
a display token::

    python -m app.auth displays create --name "Ruang kontrol 1"   # prints the URL to open, once
    python -m app.auth displays list
    python -m app.auth displays revoke <display_id>

Opening ``/wall?display=<token>`` stores the token in an HttpOnly cookie and redirects to the same
URL without it, so the token is not left in the address bar or the history. A token can only
watch the wall of its city: no staff screen, no staff API, no change to anything.

Tokens are stored as SHA-256 hashes (they are 256-bit random, so a fast hash is enough), checked
against SQL on every wall request (no cache: a revocation holds from the next request), and a
revocation is published on Redis so every web process closes the token's open push connections
at once (``app.live.SocketWatch``; it also re-checks every ``PANTAU_DISPLAY_CHECK_S``).
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from flask import current_app, g, jsonify, redirect, request
from flask_login import current_user
from sqlalchemy import select, update

from app import web_paths
from app.auth.permissions import ROLES
from app.auth.web import routed_path
from app.store.tables import display_tokens


TOKEN_PREFIX = "pwd_"
COOKIE = "pantau_display"
COOKIE_MAX_AGE = 400 * 24 * 3600          # browsers keep a cookie at most 400 days
QUERY = "display"
WALL = "/wall"


@dataclass(frozen=True)
class Display:
    display_id: str
    name: str
    city: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_display(engine, city: str, name: str, now: datetime | None = None) -> tuple[Display, str]:
    """A new display token: its record and the secret (shown once, never stored)."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValueError("name: 1 to 120 characters")
    display_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(display_tokens.insert().values(display_id=display_id, token_hash=_hash(token), name=name,
                                                    city=city, created_at=now))
    return Display(display_id, name, city, now, None), token


def list_displays(engine, city: str) -> list[Display]:
    with engine.connect() as conn:
        rows = conn.execute(select(display_tokens).where(display_tokens.c.city == city)
                            .order_by(display_tokens.c.created_at)).all()
    return [Display(r.display_id, r.name, r.city, r.created_at, r.revoked_at) for r in rows]


def revoke_display(engine, city: str, display_id: str, client=None, keys=None, conn=None) -> bool:
    """Revoke a token by its id (False when no such live token of the city). SQL first (every wall
    request checks it), then a Redis message so open push connections close at once."""
    statement = (update(display_tokens)
                 .where(display_tokens.c.display_id == display_id, display_tokens.c.city == city,
                        display_tokens.c.revoked_at.is_(None))
                 .values(revoked_at=datetime.now(timezone.utc)))
    if conn is not None:
        changed = conn.execute(statement).rowcount == 1
    else:
        with engine.begin() as own:
            changed = own.execute(statement).rowcount == 1
    if changed and client is not None and keys is not None:
        try:
            client.publish(keys.display_revoked_channel, display_id)
        except Exception:  # noqa: BLE001  Redis down: the sockets' periodic check closes them instead
            pass
    return changed


def display_for(engine, city: str, token: str | None) -> str | None:
    """The id of the live display token ``token`` of the city, or None."""
    if not token or len(token) > 100 or not token.startswith(TOKEN_PREFIX):
        return None
    with engine.connect() as conn:
        return conn.execute(select(display_tokens.c.display_id)
                            .where(display_tokens.c.token_hash == _hash(token), display_tokens.c.city == city,
                                   display_tokens.c.revoked_at.is_(None))).scalar()


def live_ids(engine, city: str, display_ids) -> set[str]:
    """Which of these display ids are still live (for the open push connections' periodic check)."""
    display_ids = list(display_ids)
    if not display_ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(select(display_tokens.c.display_id)
                                .where(display_tokens.c.display_id.in_(display_ids),
                                       display_tokens.c.city == city,
                                       display_tokens.c.revoked_at.is_(None))).scalars())


# -- the web side ---------------------------------------------------------------------------------
def _session_fresh() -> bool:
    """The staff session is not past its idle limit (the HTTP guard ends it; a socket handshake
    does not pass through that guard, so it asks here)."""
    from flask import session

    seen = session.get("seen", 0)
    return time.time() - seen <= current_app.permanent_session_lifetime.total_seconds()


def wall_viewer() -> tuple[str, str] | None:
    """Who watches, inside a request: ("staff", username), ("display", display_id) or None."""
    if "pantau_wall_viewer" in g:
        return g.pantau_wall_viewer
    viewer = None

    if current_user.is_authenticated and getattr(current_user, "role", None) in ROLES and _session_fresh():
        viewer = ("staff", current_user.username)
    else:
        services = current_app.extensions["pantau"]
        display_id = display_for(services.engine, services.preset.slug, request.cookies.get(COOKIE))
        if display_id:
            viewer = ("display", display_id)
    g.pantau_wall_viewer = viewer
    return viewer


def _is_wall_path(path: str) -> bool:
    return path == WALL or path.startswith(WALL + "/")


def _wall_callback(payload) -> bool:
    """A Dash callback of the wall (one the wall registered, ``app.auth.screen_ids``), or the router
    asked for /wall."""
    if not isinstance(payload, dict):
        return False
    if current_app.extensions["pantau_screen_ids"].screen_of(payload) == WALL:
        return True
    path = routed_path(payload)
    return path is not None and _is_wall_path(path)


def _clean_wall_url() -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k != QUERY]
    return web_paths.url(WALL) + ("?" + urlencode(args) if args else "")


def _open_with_token():
    """``/wall?display=<token>``: the cookie set and the token gone from the URL."""
    services = current_app.extensions["pantau"]
    token = request.args.get(QUERY, "")
    if display_for(services.engine, services.preset.slug, token) is None:
        response = current_app.response_class(
            "Token layar tidak dikenal atau sudah dicabut. / Display token unknown or revoked.\n",
            status=403, mimetype="text/plain")
    else:
        response = redirect(_clean_wall_url(), code=303)
        # Under its city's path: a screen may show the walls of several cities of one install.
        response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE, path=web_paths.url("/"), httponly=True,
                            samesite="Lax",
                            secure=request.is_secure)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def guard():
    """before_request: the wall's page, APIs and callbacks need a staff session or a display token."""
    path = request.path
    if _is_wall_path(path):
        if request.method == "GET" and path == WALL and QUERY in request.args:
            return _open_with_token()
        if wall_viewer() is not None:
            return None
        if path.startswith(WALL + "/api/"):
            return jsonify({"error": "login required: a staff session or a display token "
                                     "(python -m app.auth displays create)"}), 401
        return redirect(web_paths.url("/login?") + urlencode({"next": web_paths.url(request.full_path.rstrip("?"))}))
    if path == "/_dash-update-component" and request.method == "POST":
        if _wall_callback(request.get_json(silent=True)) and wall_viewer() is None:
            return jsonify({"error": "login required"}), 401
    return None


def init_app(server, services) -> None:
    """Install the wall guard (after ``app.auth.web``'s, which ends idle sessions first)."""
    server.before_request(guard)


def describe(display: Display) -> str:
    state = f"revoked {display.revoked_at.isoformat(timespec='seconds')}" if display.revoked_at else "active"
    return f"{display.display_id}\t{display.name}\t{state}\tcreated {display.created_at.isoformat(timespec='seconds')}"
