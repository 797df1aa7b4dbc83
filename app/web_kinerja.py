"""Downloads of the weekly reports (/kinerja/weekly/<week>/<file>): staff with /kinerja only (the
auth guard), an agency head only their own agency's files, and only files the report wrote."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user

from app.auth import permissions
from app.kinerja import weekly

blueprint = Blueprint("kinerja", __name__)
MIME = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@blueprint.get("/kinerja/weekly/<week>/<name>")
def download(week: str, name: str):
    services = current_app.extensions["pantau"]
    path = weekly.report_path(services.settings, week, name)
    if path is None:
        abort(404)
    scope = permissions.scope_agency(current_user.role, current_user.agency)
    if scope is not None and not name.endswith(f"-{scope}.{path.suffix[1:]}"):
        abort(403)
    return send_file(path, mimetype=MIME[path.suffix[1:]], as_attachment=True, download_name=name)
