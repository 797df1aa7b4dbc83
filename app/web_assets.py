"""What a page downloads: per-page bundles, compressed answers, long-lived static files.

Dash puts every component library and every file of ``assets/`` on every page. The citizen
screens (/lapor, /lacak) are opened on cheap phones over 3G, so their first load leaves out
what they do not use: the wall's scripts and styles (``wall.js``, h3-js, socket.io), the kiosk's,
the data table, Bootstrap's components (the citizen screens use Bootstrap's CSS classes on plain
elements) and the core-js polyfill (every browser the form supports has what it fills in).
The map library (dash-leaflet) is fetched only when the citizen opens the map
(``window.pantauLazy``, ``assets/lapor.js``).

A citizen screen therefore must not render a component of a library left out here: the tests
(``tests/layouts/test_lapor_phone.py``) check the layouts' namespaces.

Answers are compressed with Brotli or gzip (Flask-Compress). Static files (component bundles,
assets) are compressed once per process at the highest level and kept; an asset whose URL carries
Dash's ``?m=<mtime>`` fingerprint is cached by browsers for a year (``immutable``).
"""
from __future__ import annotations

import json
import re

import brotli
import dash
from flask import Flask, g, request
from flask_compress import Compress

LIGHT_PATHS = ("/lapor", "/lacak")
# Left out of the citizen screens' pages (matched against the script's or stylesheet's URL).
LEFT_OUT = re.compile(r"/dash_table/|/dash_bootstrap_components/|/dash_leaflet/|/deps/polyfill@"
                      r"|/assets/(wall|kiosk)[^/]*$|/assets/vendor/")
# Fetched by the page itself when needed: {namespace: URL pattern}.
LAZY = {"dash_leaflet": re.compile(r"/dash_leaflet/")}
LIGHT_NAMESPACES = ("dash_html_components", "dash_core_components")
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
YEAR = 31536000


def is_light(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in LIGHT_PATHS)


def _url_of(src) -> str:
    return (src.get("src") or src.get("href") or "") if isinstance(src, dict) else str(src)


class PantauDash(dash.Dash):
    """Dash with a lighter page for the citizen screens (see the module's text), and the page's
    language on ``<html lang>`` (``?lang=``, else the city's)."""

    default_language = "id"

    def interpolate_index(self, **kwargs):
        html = super().interpolate_index(**kwargs)
        try:
            lang = request.args.get("lang")
        except RuntimeError:
            lang = None
        lang = lang if lang in ("id", "en") else self.default_language
        return html.replace("<html>", f'<html lang="{lang}">', 1)

    def _light(self) -> bool:
        try:
            return is_light(request.path)
        except RuntimeError:   # outside a request
            return False

    def _collect_and_register_resources(self, resources, include_async=True, url_attr="src"):
        # Every resource is still registered (so it can be served, also lazily); the light pages
        # only leave some out of their HTML.
        srcs = super()._collect_and_register_resources(resources, include_async, url_attr)
        if not self._light():
            return srcs
        kept = []
        for src in srcs:
            url = _url_of(src)
            if LEFT_OUT.search(url.split("?", 1)[0]):
                for namespace, pattern in LAZY.items():
                    if pattern.search(url):
                        urls = g.setdefault("pantau_lazy", {}).setdefault(namespace, [])
                        if url not in urls:
                            urls.append(url)
                continue
            kept.append(src)
        return kept

    def _generate_scripts_html(self) -> str:
        html = super()._generate_scripts_html()
        if self._light():
            # Before the renderer and the screens' scripts: where to fetch a library left out.
            lazy = json.dumps(g.get("pantau_lazy", {})).replace("</", "<\\/")
            # Data, not script: the Content-Security-Policy runs no inline script but Dash's own.
            html = f'<script type="application/json" id="pantau-lazy">{lazy}</script>\n' + html
        return html


class _StaticCache:
    """Flask-Compress's cache: keeps the compressed body of static files only (keys from
    ``_cache_key``), recompressed once at Brotli's highest level; dynamic answers pass through."""

    def __init__(self):
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        if "static:" not in key or key in self.data:
            return
        if key.startswith("br;"):
            value = brotli.compress(brotli.decompress(value), quality=11)
        self.data[key] = value


def _cache_key(req) -> str:
    if req.method == "GET" and req.path.startswith(STATIC_PREFIXES):
        return "static:" + req.full_path
    return "dynamic"


def install(server: Flask) -> None:
    """Compression and cache lifetimes on ``server``'s answers."""
    server.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"], COMPRESS_BR_LEVEL=5, COMPRESS_LEVEL=6, COMPRESS_MIN_SIZE=500,
        COMPRESS_MIMETYPES=["text/html", "text/css", "text/plain", "text/javascript", "application/javascript",
                            "application/json", "application/geo+json", "image/svg+xml",
                            "application/manifest+json"],
        COMPRESS_CACHE_BACKEND=_StaticCache, COMPRESS_CACHE_KEY=_cache_key,
        COMPRESS_STREAMS=False)

    @server.after_request
    def _cache_lifetimes(response):
        # Registered before Compress's hook, so it runs after it (Flask runs them in reverse).
        if request.path.startswith("/assets/") and request.args.get("m") and response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        elif request.path.startswith("/_dash-component-suites/") and response.status_code == 200 \
                and "max-age" in (response.headers.get("Cache-Control") or ""):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return response

    Compress(server)

    @server.after_request
    def _buffer_static(response):
        # Registered after Compress's hook, so it runs before it: a static file is sent as a stream
        # (send_file), which Compress would not cache; buffered here, it is compressed once and kept.
        if request.path.startswith(STATIC_PREFIXES) and response.status_code == 200 and response.is_streamed:
            response.direct_passthrough = False
            response.make_sequence()
        return response
