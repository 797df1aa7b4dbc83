"""Operations endpoints: ``/healthz`` (JSON, 503 when unhealthy) and ``/metrics`` (Prometheus text)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from app import ops

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz():
    services = current_app.extensions["pantau"]
    ok, checks = ops.health(services.redis, services.engine, services.keys)
    return jsonify({"ok": ok, "city": services.preset.slug, **checks}), (200 if ok else 503)


@blueprint.get("/metrics")
def metrics():
    services = current_app.extensions["pantau"]
    text = ops.prometheus(services.redis, services.keys, services.preset.slug)
    return Response(text, mimetype="text/plain; version=0.0.4")
