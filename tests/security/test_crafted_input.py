"""Item 17: a stranger sends crafted input to every route of the app (listed from Flask's
url_map) and to every Dash callback: a photo ref with a trailing newline, ``[1]`` as a Dash
callback body, non-object JSON to the staff API, tampered component state. What they get: a
4xx naming the field and the rule; never a 5xx, signed in or not."""
import io
import json
import re

import pytest

from tests.app.staff.conftest import PASSWORD, Staff, seed
from tests.security.dash_calls import body_for

PATH_VALUES = ["x", "0" * 32 + ".jpg\n", "..%2F..%2Fsecret_key", "a" * 300, "%00", "JKT-00000-00000.json", "é<>"]
JSON_BODIES = ["[1]", '"x"', "null", "1e999", '{"a":', '{"version": [1], "items": "x", "filters": [1], '
               '"format": {"a": 1}, "note": {"b": 2}, "agency": [], "into": 5, "priority": {}}',
               json.dumps({"a": [[[[[[[[[[1]]]]]]]]]]}), '{"version": 1e308}', "{}"]
FORM_BODIES = [{"x": "y"}, {"version": "NaN", "note": "\x00", "api_key": "k", "service_code": "garbage",
                            "lat": "nan", "long": "inf", "rating": "99", "csrf_token": "x"}]
STATE_VALUES = [[1], "x" * 3000, {"id": [1], "version": "x", "lat": "a", "lng": None}, 1e308, True, -1,
                {"$": {"$": [None]}}, None]


def _urls(app):
    """(method, url) for every route, each placeholder filled with crafted values."""
    out = []
    for rule in app.url_map.iter_rules():
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        if rule.rule.startswith(("/_dash-component-suites", "/assets")):
            values = PATH_VALUES[:2]
        else:
            values = PATH_VALUES
        for value in values:
            url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: value if m.group(1) != "fmt" else "json", rule.rule)
            for method in methods:
                out.append((method, url))
            if "<fmt>" in rule.rule:
                out.append(("GET", re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", value, rule.rule)))
    return sorted(set(out))


@pytest.fixture
def fuzz_app(sqlite_services):
    from app.auth.users import create_user
    from app.factory import create_app

    services = sqlite_services
    create_user(services.engine, services.preset, "admin1", PASSWORD, "admin", None)
    seed(services, count=6)
    server = create_app(services.settings, services)
    server.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    return server


def _send(client, method, url, headers, body):
    kind, payload = body
    if method == "GET":
        return client.get(url + ("?" + payload if kind == "query" else ""), headers=headers)
    if kind == "json":
        return client.open(url, method=method, data=payload, content_type="application/json", headers=headers)
    if kind == "form":
        return client.open(url, method=method, data=payload, headers=headers)
    return client.open(url, method=method, data={"photo": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "a.png"),
                                                  "media": (io.BytesIO(b"GIF89a"), "m.gif"), "version": "1"},
                       content_type="multipart/form-data", headers=headers)


def test_no_route_answers_5xx_to_crafted_input(fuzz_app):
    admin = Staff(fuzz_app, "admin1")
    anonymous = fuzz_app.test_client()
    bodies = [("json", b) for b in JSON_BODIES] + [("form", b) for b in FORM_BODIES] + [("multipart", None)]
    queries = [("query", q) for q in ("page=x&sort=%00&status=a,b&h3=zz&format=pdf", "a[]=1&lang=xx&start_date=1e9",
                                      "service_request_id=" + "9" * 500, "")]
    failures = []
    urls = _urls(fuzz_app)
    assert len(urls) > 40
    for method, url in urls:
        if url.startswith("/logout"):
            continue                  # the session used for the rest
        for who, client, headers in (("anonymous", anonymous, {}), ("admin", admin.client, {"X-CSRF-Token": admin.csrf})):
            for body in (queries if method == "GET" else bodies):
                try:
                    response = _send(client, method, url, headers, body)
                except Exception as err:  # noqa: BLE001  what a server would have answered with a 500
                    failures.append(f"{who} {method} {url!r} {body[0]}:{str(body[1])[:40]} -> {err!r}"[:300])
                    continue
                if response.status_code >= 500:
                    failures.append(f"{who} {method} {url!r} {body[0]}:{str(body[1])[:40]} -> {response.status_code}")
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"


def test_photo_ref_with_a_newline_is_404(fuzz_app):
    client = fuzz_app.test_client()
    assert client.get("/photos/" + "0" * 32 + ".jpg%0a").status_code == 404
    assert client.get("/photos/" + "0" * 32 + ".jpg\n").status_code == 404


@pytest.mark.parametrize("body", ["[1]", "1", '"x"', "null", "{}", '{"output": 1}', '{"output": "nope.children"}',
                                  '{"output": "shell-page.children", "inputs": "x"}',
                                  '{"output": "shell-page.children", "inputs": [1], "state": [2]}', "not json"])
def test_a_malformed_dash_body_is_a_400_naming_the_field(fuzz_app, body):
    response = fuzz_app.test_client().post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert re.match(r"^(body|output|inputs|state|outputs|changedPropIds): ", response.get_json()["error"])


def test_the_staff_api_refuses_non_object_json_naming_the_rule(fuzz_app, sqlite_services):
    admin = Staff(fuzz_app, "admin1")
    from sqlalchemy import select

    from app.store import db
    with sqlite_services.engine.connect() as conn:
        report_id = conn.execute(select(db.reports.c.id)).first().id
    for url in (f"/staff/api/reports/{report_id}/verify", "/staff/api/bulk-assign", "/staff/api/exports"):
        for body in ("[1]", '"x"', "null", "3", '{"a":'):
            response = admin.post(url, data=body, content_type="application/json")
            assert response.status_code == 400, (url, body, response.get_data(as_text=True))
            assert response.get_json()["error"] == 'body: must be a JSON object ({"field": value, ...})'


def test_tampered_dash_state_never_answers_5xx(fuzz_app):
    """Every callback of every screen, signed in as an admin, with each state and input tampered."""
    admin = Staff(fuzz_app, "admin1")
    failures = []
    callbacks = fuzz_app.extensions["dash"].callback_map
    for output, callback in callbacks.items():
        names = [f"{d['id']}.{d['property']}" for d in callback["inputs"] + callback["state"]]
        trials = [{n: value for n in names} for value in STATE_VALUES]
        trials += [{n: STATE_VALUES[0] if n == name else None for n in names} for name in names]
        for values in trials:
            for changed in ([names[0]] if names else [], ["nope.x"]):
                body = body_for(fuzz_app, output, values, changed)
                try:
                    response = admin.client.post("/_dash-update-component", data=json.dumps(body),
                                                 content_type="application/json",
                                                 headers={"X-CSRF-Token": admin.csrf})
                except Exception as err:  # noqa: BLE001  what a server would have answered with a 500
                    failures.append(f"{output[:70]} {json.dumps(values)[:120]} -> {err!r}"[:300])
                    continue
                if response.status_code >= 500:
                    failures.append(f"{output[:70]} {json.dumps(values)[:120]} -> {response.status_code}")
    assert not failures, "\n".join(failures[:30]) + f"\n({len(failures)} in all)"
