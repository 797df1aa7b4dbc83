"""The citizen's feedback endpoint: ``POST /api/feedback/<ticket>`` with ``{"rating": 1-5,
"comment": ...}`` or ``{"dispute": "what is still wrong"}``; ``GET`` lists what was given.

Public like the tracking page: the ticket is the citizen's key. No session, so no CSRF token.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from app import feedback, followup
from app.workflow import InvalidTransition

blueprint = Blueprint("feedback", __name__, url_prefix="/api/feedback")


@blueprint.errorhandler(feedback.FeedbackInvalid)
@blueprint.errorhandler(InvalidTransition)
def _invalid(err):
    return jsonify({"error": str(err), "kind": "invalid"}), 422


@blueprint.errorhandler(followup.ReportNotFound)
def _missing(err):
    return jsonify({"error": str(err), "kind": "not_found"}), 404


@blueprint.errorhandler(followup.VersionConflict)
def _conflict(err):
    return jsonify({"error": "the report changed meanwhile; reload and try again", "kind": "conflict"}), 409


@blueprint.get("/<ticket>")
def list_feedback(ticket):
    services = current_app.extensions["pantau"]
    return jsonify({"ticket": ticket, "feedback": feedback.feedback_of(services.engine, ticket,
                                                                       city=services.preset.slug)})


@blueprint.post("/<ticket>")
def give_feedback(ticket):
    services = current_app.extensions["pantau"]
    body = request.get_json(silent=True) or {}
    if "dispute" in body:
        out = feedback.dispute(services.engine, services.producer, ticket, str(body["dispute"] or ""),
                               city=services.preset.slug)
    else:
        out = feedback.rate(services.engine, services.producer, ticket, body.get("rating"), body.get("comment"),
                            city=services.preset.slug)
    return jsonify(out)
