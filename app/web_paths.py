"""Where this city's pages live: ``/lapor`` on a one-city install, ``/kupang/lapor`` when several
cities share one (PANTAU_CITIES mounts each city's app under ``/<city>``, which Flask reads as the
request's script root). Every path a page links or redirects to goes through ``url``."""
from __future__ import annotations

from flask import has_request_context, request


def url(path: str) -> str:
    """``path`` (starting with "/") under this request's city; unchanged outside a request."""
    if has_request_context():
        return request.script_root + path
    return path


def local(path: str) -> str:
    """A full browser path (``/kupang/dispatch``) back to the app's own (``/dispatch``)."""
    root = request.script_root if has_request_context() else ""
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path
