"""Schema-driven fuzz of the Open311 API (schemathesis): requests generated from the OpenAPI document,
valid and invalid, against the real app (real Redis, real SQLite). Every answer: no 5xx, a status
code and content type the document lists, a body its schema accepts; invalid input always a 4xx."""
import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_headers_conformance, response_schema_conformance,
                                               status_code_conformance)

from app.open311 import api, api_keys

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, negative_data_rejection]
EXAMPLES = 25     # per operation and mode: the whole run stays well under a minute


@pytest.fixture
def open311_schema(sqlite_services):
    import json

    from app.factory import create_app

    sqlite_services.settings = sqlite_services.settings.with_(open311_address_rate=10**9, open311_key_rate=10**9)
    server = create_app(sqlite_services.settings, sqlite_services)
    _, secret = api_keys.create_key(sqlite_services.engine, "schemathesis")
    server.config["FUZZ_KEY"] = secret
    document = json.loads(api.OPENAPI.read_text())
    document["servers"] = [{"url": "/open311/v2"}]
    schema = schemathesis.openapi.from_dict(document)
    schema.app = server
    return schema


def _operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_open311_answers_as_its_document_says(open311_schema, mode):
    app = open311_schema.app
    operations = _operations(open311_schema)
    assert len(operations) == 7
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        def check(case):
            if case.method == "POST" and isinstance(case.body, dict) and isinstance(case.body.get("api_key"), str):
                case.body["api_key"] = app.config["FUZZ_KEY"]   # a real key, so the checks behind it are reached
            # The WSGI client does not decode Brotli/gzip (Flask-Compress answers in them when asked):
            # ask for the plain body, as the document describes it.
            case.headers = {**(case.headers or {}), "Accept-Encoding": "identity"}
            case.call_and_validate(checks=CHECKS)

        check()
