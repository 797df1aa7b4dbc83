"""Edges that a stranger's crafted request reaches: answered with a 4xx naming the field and the rule.

* ``/_dash-update-component`` bodies are checked for the shape the Dash renderer
  sends (an object naming a known callback, with as many inputs and states as it
  declares) before Dash reads them: ``[1]`` or a made-up output is a 400, not a
  crash inside Dash.
* A callback that finds a tampered state raises ``CallbackInputInvalid`` (400).
  A callback that fails on a malformed value it did not check (a ``TypeError``,
  ``KeyError``... out of a value the browser sent) answers 400 too, logged with
  its traceback so the check can be added; anything else stays a 500.
* The JSON APIs (``/api/``, ``/staff/api/``) refuse a JSON body that is not an
  object with a 400 before any handler reads it.
* A made-up ``/_dash-component-suites/`` file is a 404. Any other
  ``HTTPException`` keeps its status.
"""
from __future__ import annotations

import json
import logging

from dash.exceptions import DependencyException
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
DASH_UPDATE = "/_dash-update-component"
DASH_ASSETS = "/_dash-component-suites/"
JSON_APIS = ("/api/", "/staff/api/")
# What a value sent by the browser can make a callback raise when it is not what the callback expects.
MALFORMED = (TypeError, KeyError, AttributeError, ValueError, IndexError, LookupError)


class CallbackInputInvalid(ValueError):
    """A Dash callback received a value its page could not have sent: ``field`` and the rule."""

    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name


def _bad(message: str, status: int = 400):
    return jsonify({"error": message, "kind": "invalid"}), status


def _dependency_ok(item, declared: dict) -> bool:
    if isinstance(item, list):           # a pattern-matching input: one entry per matched component
        return declared["id"].startswith("{") and all(
            isinstance(x, dict) and isinstance(x.get("id"), dict) and x.get("property") == declared["property"]
            for x in item)
    if not isinstance(item, dict) or item.get("property") != declared["property"]:
        return False
    if declared["id"].startswith("{"):   # pattern-matching with MATCH: a dict id
        return isinstance(item.get("id"), dict)
    return item.get("id") == declared["id"]


def check_dash_shape(body) -> str | None:
    """None when ``body`` has the general shape of a Dash callback request (what the sign-in guard
    reads); else the field and the rule, in one line."""
    if not isinstance(body, dict):
        return "body: must be a JSON object (the Dash callback request)"
    if not isinstance(body.get("output"), str):
        return "output: must be a string naming a callback"
    for name in ("inputs", "state"):
        if not isinstance(body.get(name, []), list):
            return f"{name}: must be a list of component values"
    if not isinstance(body.get("outputs", {}), (dict, list)):
        return "outputs: must be an {id, property} object or a list of them"
    return None


def check_dash_body(dash_app, body) -> str | None:
    """None when ``body`` has the shape the renderer sends for a callback of ``dash_app``; else the
    field and the rule, in one line."""
    problem = check_dash_shape(body)
    if problem:
        return problem
    output = body["output"]
    callback = dash_app.callback_map.get(output)
    if callback is None or "callback" not in callback:     # unknown, or run in the browser only
        return "output: no such callback"
    for name in ("inputs", "state"):
        items = body.get(name, [])
        declared = callback.get(name if name == "inputs" else "state", [])
        if not isinstance(items, list) or len(items) != len(declared):
            return f"{name}: must be a list of {len(declared)} component values"
        if not all(_dependency_ok(item, spec) for item, spec in zip(items, declared)):
            return f"{name}: each entry must be {{id, property, value}} of the callback's {name}"
    outputs = body.get("outputs")
    declared_out = callback.get("output")
    if isinstance(declared_out, list):
        if not isinstance(outputs, list) or len(outputs) != len(declared_out) or not all(
                isinstance(o, (dict, list)) for o in outputs):
            return f"outputs: must be a list of {len(declared_out)} {{id, property}}"
    elif outputs is not None and not isinstance(outputs, (dict, list)):
        return "outputs: must be an {id, property} object"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds: must be a list of strings"
    return None


def _dash_body():
    """The Dash callback request's JSON (None for other requests); raises ValueError for broken JSON."""
    if request.method != "POST" or not request.path.endswith(DASH_UPDATE):
        return None
    return json.loads(request.get_data(cache=True) or b"null")


def install_dash_check(server: Flask, dash_app) -> None:
    """After the sign-in guard (an anonymous call to a staff callback is a 401 first): the body
    names a callback of ``dash_app`` with the inputs and states it declares."""
    @server.before_request
    def _dash_body_matches():
        try:
            body = _dash_body()
        except (ValueError, UnicodeDecodeError):
            return _bad("body: must be JSON (the Dash callback request)")
        if body is None:
            return None
        problem = check_dash_body(dash_app, body)
        return _bad(problem) if problem else None


def install(server: Flask) -> None:
    """Install before any other before_request function: the general shape of Dash bodies (what the
    sign-in guard reads), non-object JSON to the JSON APIs, and the error handlers."""

    @server.before_request
    def _dash_body_shape():
        try:
            body = _dash_body()
        except (ValueError, UnicodeDecodeError):
            return _bad("body: must be JSON (the Dash callback request)")
        if request.method != "POST" or not request.path.endswith(DASH_UPDATE):
            return None
        problem = check_dash_shape(body)
        return _bad(problem) if problem else None

    @server.before_request
    def _json_api_body_shape():
        """The JSON APIs (``/api/...``, ``/staff/api/...``) take objects: ``[1]``, ``"x"``, ``null`` or
        broken JSON is refused here, before a handler looks into it."""
        if request.method in ("GET", "HEAD", "OPTIONS") or not request.path.startswith(JSON_APIS):
            return None
        if not request.is_json or not request.get_data(cache=True):
            return None
        try:
            body = json.loads(request.get_data(cache=True))
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return _bad('body: must be a JSON object ({"field": value, ...})')
        return None

    @server.errorhandler(CallbackInputInvalid)
    def _callback_input(err: CallbackInputInvalid):
        return _bad(str(err))

    @server.errorhandler(Exception)
    def _unhandled(err: Exception):
        if isinstance(err, HTTPException):
            return err
        if isinstance(err, DependencyException) or (request.path.startswith(DASH_ASSETS) and isinstance(err, MALFORMED)):
            return _bad("path: no such Dash component file", 404)    # a made-up package or file name
        if request.path.endswith(DASH_UPDATE) and isinstance(err, MALFORMED):
            log.warning("callback %s refused a malformed value (%s: %s)", _output_of(), type(err).__name__,
                        str(err)[:200], exc_info=err)
            return _bad(f"callback input: a value is not what {_output_of()[:80]} accepts")
        raise err


def _output_of() -> str:
    try:
        body = request.get_json(silent=True)
        return str(body.get("output")) if isinstance(body, dict) else "the callback"
    except Exception:  # noqa: BLE001  only naming the callback in a message
        return "the callback"
