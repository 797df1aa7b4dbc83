"""The citizen's feedback endpoint: ``POST /api/feedback/<ticket>`` with ``{"rating": 1-5,
"comment": ...}`` or ``{"dispute": "what is still wrong"}``; ``GET`` lists what was given.

Public, and scripted by strangers: a rating or a dispute needs the reporter's secret (the ``k`` of
the tracking link ``/lacak/<ticket>#k=...``), sent as the ``X-Reporter-Secret`` header or the
body's ``"secret"``; without it the answer is a 403. ``GET`` shows the kinds, ratings and times to
anyone, and the reporter's own words only with the secret. Every request counts against its
client address (``PANTAU_FEEDBACK_ADDRESS_RATE`` in any 10 minutes), and the holder's ratings and
disputes against the ticket (``PANTAU_FEEDBACK_TICKET_RATE`` in any 24 hours: a stranger cannot use
up the reporter's allowance); both are sliding windows in Redis (``app.ratelimit``).
No session, so no CSRF token.
"""
from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify, request

from app import feedback, followup
from app.ratelimit import Limit, Limited, SlidingLimiter
from app.workflow import InvalidTransition

blueprint = Blueprint("feedback", __name__, url_prefix="/api/feedback")
ADDRESS_WINDOW_S = 600
TICKET_WINDOW_S = 24 * 3600
SECRET_HEADER = "X-Reporter-Secret"


@blueprint.errorhandler(feedback.FeedbackInvalid)
@blueprint.errorhandler(InvalidTransition)
def _invalid(err):
    return jsonify({"error": str(err), "kind": "invalid"}), 422


@blueprint.errorhandler(followup.ReportNotFound)
def _missing(err):
    return jsonify({"error": str(err), "kind": "not_found"}), 404


@blueprint.errorhandler(feedback.NotHolder)
def _not_holder(err):
    return jsonify({"error": f"{err} — send it as the {SECRET_HEADER} header or the body's \"secret\"",
                    "kind": "forbidden"}), 403


@blueprint.errorhandler(followup.VersionConflict)
def _conflict(err):
    return jsonify({"error": "the report changed meanwhile; reload and try again", "kind": "conflict"}), 409


@blueprint.errorhandler(Limited)
def _limited(err: Limited):
    response = jsonify({"error": f"rate limit: at most {err.limit} feedback requests per {err.scope} in "
                                 f"{_span(err.window_s)}; retry in {err.retry_after} s", "kind": "rate_limited"})
    response.headers["Retry-After"] = str(err.retry_after)
    return response, 429


@blueprint.errorhandler(redis.RedisError)
def _redis_down(_err):
    response = jsonify({"error": "service unavailable: try again shortly", "kind": "unavailable"})
    response.headers["Retry-After"] = "5"
    return response, 503


def _span(seconds: float) -> str:
    return f"{seconds / 3600:g} hours" if seconds >= 3600 else f"{seconds / 60:g} minutes"


def _limiter(services) -> SlidingLimiter:
    extensions = current_app.extensions
    if "pantau_feedback_limiter" not in extensions:
        extensions["pantau_feedback_limiter"] = SlidingLimiter(services.redis)
    return extensions["pantau_feedback_limiter"]


def _count_address(services) -> None:
    address = request.remote_addr or "unknown"
    _limiter(services).hit(Limit(services.keys.rate_sliding("feedback-address", address),
                                 services.settings.feedback_address_rate, ADDRESS_WINDOW_S, "address"))


def _secret(body: dict):
    return request.headers.get(SECRET_HEADER) or body.get("secret")


@blueprint.get("/<ticket>")
def list_feedback(ticket):
    services = current_app.extensions["pantau"]
    _count_address(services)
    city = services.preset.slug
    holder = feedback.is_holder(services.engine, ticket, request.headers.get(SECRET_HEADER), city=city)
    return jsonify({"ticket": ticket[:24], "feedback": feedback.feedback_of(services.engine, ticket, holder,
                                                                            city=city)})


@blueprint.post("/<ticket>")
def give_feedback(ticket):
    services = current_app.extensions["pantau"]
    _count_address(services)
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        return jsonify({"error": "body: must be a JSON object such as {\"rating\": 4} or {\"dispute\": \"...\"}",
                        "kind": "invalid"}), 400
    secret = _secret(body)
    row = feedback.holder_report(services.engine, ticket, secret, city=services.preset.slug)    # 404 / 403 before any counting per ticket
    _limiter(services).hit(Limit(services.keys.rate_sliding("feedback-ticket", row.id),
                                 services.settings.feedback_ticket_rate, TICKET_WINDOW_S, "ticket"))
    if "dispute" in body:
        out = feedback.dispute(services.engine, services.producer, ticket, body["dispute"], secret=secret,
                               city=services.preset.slug)
    else:
        out = feedback.rate(services.engine, services.producer, ticket, body.get("rating"), body.get("comment"),
                            secret=secret, city=services.preset.slug)
    return jsonify(out)
