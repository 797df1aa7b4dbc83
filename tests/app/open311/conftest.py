"""Open311 fixtures: the real app (real Redis, real database), an API key, and the OpenAPI checker."""
import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from app.open311 import api, api_keys

DOC = json.loads(api.OPENAPI.read_text())
# A point well inside mainland Jakarta (see tests/helpers.py JAKARTA_POINTS).
LAT, LNG = -6.2088, 106.8456


def check_openapi(response, path: str, method: str = "get"):
    """Validate a JSON answer against the response schema the OpenAPI document gives for its status."""
    operation = DOC["paths"][path][method]
    answers = operation["responses"]
    assert str(response.status_code) in answers, f"{response.status_code} not documented for {method} {path}"
    if response.mimetype != "application/json":
        return None
    schema = answers[str(response.status_code)]["content"]["application/json"]["schema"]
    body = response.get_json()
    jsonschema.Draft202012Validator({**schema, "components": DOC["components"]}).validate(body)
    return body


def xml_of(response):
    assert response.mimetype == "text/xml", response.get_data(as_text=True)[:200]
    return ET.fromstring(response.get_data())


@pytest.fixture
def open311(services):
    """(client, services, api key) with the app built from the test's settings."""
    from app.factory import create_app

    server = create_app(services.settings, services)
    server.config["TESTING"] = True
    _, secret = api_keys.create_key(services.engine, "test client")
    return server.test_client(), services, secret


def post_form(client, key, fmt="json", **fields):
    form = {"api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG),
            "description": "Tumpukan sampah di depan pasar", **fields}
    form = {k: v for k, v in form.items() if v is not None}
    return client.post(f"/open311/v2/requests.{fmt}", data=form)
