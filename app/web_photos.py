"""Serves stored photos at ``/photos/<ref>``: only refs we made, only with their checked type.

``X-Content-Type-Options: nosniff`` (``app.headers``, on every answer) so a browser never reinterprets a file,
and a restrictive CSP so even an image opened directly cannot run anything.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file

from app import photos

blueprint = Blueprint("photos", __name__)


@blueprint.get("/photos/<ref>")
def photo(ref: str):
    settings = current_app.extensions["pantau"].settings
    try:
        path = photos.photo_path(settings, ref)
        content_type = photos.content_type_of(ref)
    except photos.PhotoInvalid:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=content_type, max_age=86400, conditional=True)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    return response
