"""Operations endpoints: ``/healthz`` (JSON, 503 when unhealthy) and ``/metrics`` (Prometheus text).

``/metrics`` tells a stranger how busy the city is and names every consumer: with
``PANTAU_METRICS_TOKEN`` set it needs ``Authorization: Bearer <token>``; unset, it answers only a
request made on this machine straight to the server (loopback, no proxy header). Refusals are
401 (token missing or wrong) and 403 (not from this machine), naming the rule.
"""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request

from app import ops

blueprint = Blueprint("ops", __name__)
FORWARDED = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


@blueprint.get("/livez")
def livez():
    """Liveness: the process answers (no Redis, no SQL). A load balancer's keep-alive probe, and the
    framework's ceiling that ``bench/api.py`` measures the intake against."""
    return Response(status=204)


@blueprint.get("/healthz")
def healthz():
    services = current_app.extensions["pantau"]
    ok, checks = ops.health(services.redis, services.engine, services.keys)
    return jsonify({"ok": ok, "city": services.preset.slug, **checks}), (200 if ok else 503)


def metrics_refusal(settings) -> Response | None:
    """None when this request may read /metrics; otherwise the 401/403 answer."""
    token = settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
            return None
        return Response("Authorization: send 'Bearer <PANTAU_METRICS_TOKEN>'\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        local = False
    # Through a proxy the loopback address is the proxy's, not the client's.
    if local and not any(name in request.headers for name in FORWARDED):
        return None
    return Response("metrics: only from this machine, or with PANTAU_METRICS_TOKEN set\n", 403,
                    mimetype="text/plain")


@blueprint.get("/metrics")
def metrics():
    services = current_app.extensions["pantau"]
    refusal = metrics_refusal(services.settings)
    if refusal is not None:
        return refusal
    text = ops.prometheus(services.redis, services.keys, services.preset.slug)
    return Response(text, mimetype="text/plain; version=0.0.4", headers={"Cache-Control": "no-store"})
