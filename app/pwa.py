"""Installable, offline-capable screens: each one's service worker and web app manifest.

A service worker is served from its screen's own path (``/tugas/sw.js``) with
``Service-Worker-Allowed`` naming the screen's path, so it may control ``/tugas`` itself as well as
``/tugas/<ticket>`` (a worker's default scope is its folder, ``/tugas/``). Both files carry no data:
they are public (a manifest is fetched without cookies), and the CSP's ``worker-src 'self'`` and
``manifest-src`` (``default-src 'self'``) allow them. The worker's code is ``assets/<screen>-sw.js``
(left out of Dash's pages: ``assets_ignore`` in ``app.factory``).
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, abort, request

from app import web_paths
from app.i18n import t

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
blueprint = Blueprint("pwa", __name__)

# screen path -> (worker file in assets/, manifest: name key, short name key, theme colour)
SCREENS = {
    "/tugas": {"worker": "tugas-sw.js", "name": "tugas.app_name", "short": "tugas.app_short",
               "colour": "#0b5ed7", "background": "#212529", "icon": "tugas-icon"},
}
PUBLIC_PATHS = tuple(f"{path}/{name}" for path in SCREENS for name in ("sw.js", "manifest.webmanifest"))


def head_links(path: str) -> str:
    """The <head> lines that make a screen installable (its manifest, its colour), or ''."""
    for screen, spec in SCREENS.items():
        if path == screen or path.startswith(screen + "/"):
            return (f'<link rel="manifest" href="{web_paths.url(screen + "/manifest.webmanifest")}">'
                    f'<meta name="theme-color" content="{spec["colour"]}">'
                    f'<link rel="apple-touch-icon" href="{web_paths.url("/assets/" + spec["icon"] + "-192.png")}">')
    return ""


def _screen(path: str) -> dict:
    spec = SCREENS.get(path)
    if spec is None:
        abort(404)
    return spec


@blueprint.get("/<screen>/sw.js")
def worker(screen: str):
    path = "/" + screen
    spec = _screen(path)
    body = (ASSETS / spec["worker"]).read_bytes()
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = web_paths.url(path)   # under the city's mount
    # Browsers check the worker for updates; never served from a stale HTTP cache.
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/<screen>/manifest.webmanifest")
def manifest(screen: str):
    path = "/" + screen
    spec = _screen(path)
    lang = request.args.get("lang") if request.args.get("lang") in ("id", "en") else "id"
    body = {"name": t(spec["name"], lang), "short_name": t(spec["short"], lang), "lang": lang,
            "start_url": web_paths.url(path), "scope": web_paths.url(path), "display": "standalone",
            "orientation": "portrait",
            "theme_color": spec["colour"], "background_color": spec["background"],
            "icons": [{"src": web_paths.url(f"/assets/{spec['icon']}-{size}.png"), "sizes": f"{size}x{size}",
                       "type": "image/png", "purpose": "any maskable"} for size in (192, 512)]}
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response
