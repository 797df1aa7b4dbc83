"""Security headers on every answer (unless a route set its own, as ``/photos`` does).

* ``Content-Security-Policy``: scripts only from this server plus the hashes of Dash's few
  inline scripts (its renderer start-up line and the clientside callbacks), computed once the
  callbacks are registered; no plugins (``object-src 'none'``), no ``<base>`` from elsewhere,
  no framing by other sites; images from here, ``data:``/``blob:`` and the configured tile host
  only; connections (Dash's callbacks, the wall's WebSocket) to this server only. Styles allow
  inline ``style`` attributes, which Dash's components write. Nothing is loaded from a third
  party unless ``PANTAU_TILE_URL`` names one.
* ``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy`` (ticket URLs never reach
  tile servers).
* ``Strict-Transport-Security`` when the request came over HTTPS (directly, or through a trusted
  proxy: ``PANTAU_PROXIES``) and ``PANTAU_HSTS_SECONDS`` is above 0.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request


def tile_source(tile_url: str | None) -> str | None:
    """The CSP source of a tile URL template: ``https://{s}.tile.example/{z}/{x}/{y}.png`` →
    ``https://*.tile.example``; None when no tile server is configured or it is this server."""
    if not tile_url or "://" not in tile_url:
        return None
    parts = urlsplit(tile_url.replace("{s}", "SUBDOMAIN"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.replace("SUBDOMAIN", "*")
    if "{" in host:                   # another placeholder in the host: allow the whole domain
        host = "*." + host.split("}", 1)[-1].lstrip(".-")
    return f"{parts.scheme}://{host}"


def content_security_policy(script_hashes, tile_url: str | None = None) -> str:
    tiles = tile_source(tile_url)
    images = ["'self'", "data:", "blob:"] + ([tiles] if tiles else [])
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": images,
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],       # same origin, ws: and wss: included (CSP 3)
        "worker-src": ["'self'", "blob:"],
        "frame-src": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def install(server: Flask, settings, script_hashes) -> str:
    """Send the headers on every answer of ``server``; answers the CSP it sends."""
    policy = content_security_policy(script_hashes, settings.tile_url)
    hsts = getattr(settings, "hsts_seconds", 0)

    @server.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")   # the one place: photos and APIs included
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if hsts and request.is_secure:
            headers.setdefault("Strict-Transport-Security", f"max-age={hsts}")
        return response

    return policy
