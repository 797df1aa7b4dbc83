"""Open311 answers as JSON or XML, in the shapes the GeoReport v2 spec shows.

Lists keep their element names from the spec (``services``/``service``,
``service_requests``/``request``, ``errors``/``error``); ``None`` becomes an
empty XML element so every field is present in both formats.
"""
from __future__ import annotations

import json
from xml.sax.saxutils import escape

from flask import Response

# root element, item element, for each kind of list answer
ROOTS = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
    "attributes": ("attributes", "attribute"),
    "values": ("values", "value"),
    "endpoints": ("endpoints", "endpoint"),
    "formats": ("formats", "format"),
}
_ILLEGAL_XML = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _xml_text(value) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    text = str(value).translate(_ILLEGAL_XML)
    return escape("".join(ch for ch in text if not (0xD800 <= ord(ch) <= 0xDFFF or ord(ch) in (0xFFFE, 0xFFFF))))


def _xml_value(name: str, value) -> str:
    if value is None:
        return f"<{name}/>"
    if isinstance(value, dict):
        return f"<{name}>{''.join(_xml_value(k, v) for k, v in value.items())}</{name}>"
    if isinstance(value, list):
        root, item = ROOTS.get(name, (name, "item"))
        return f"<{root}>{''.join(_xml_value(item, v) for v in value)}</{root}>"
    return f"<{name}>{_xml_text(value)}</{name}>"


def to_xml(kind: str, payload) -> str:
    """``payload`` is a list (of ``kind``) or one object (discovery, service definition)."""
    head = '<?xml version="1.0" encoding="utf-8"?>'
    if isinstance(payload, list):
        root, item = ROOTS[kind]
        return head + f"<{root}>{''.join(_xml_value(item, p) for p in payload)}</{root}>"
    return head + _xml_value(kind, payload)


def render(fmt: str, kind: str, payload, status: int = 200, headers: dict | None = None) -> Response:
    if fmt == "xml":
        body, mimetype = to_xml(kind, payload), "text/xml"
    else:
        body, mimetype = json.dumps(payload, ensure_ascii=False), "application/json"
    response = Response(body, status=status, mimetype=mimetype)
    response.headers["Access-Control-Allow-Origin"] = "*"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error(fmt: str, status: int, description: str, headers: dict | None = None) -> Response:
    return render(fmt, "errors", [{"code": status, "description": description}], status, headers)
