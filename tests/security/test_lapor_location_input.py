"""The place on the report form (h8's search, GPS, map and nudges) scripted by a stranger: a value the
page could not have sent is a 400 naming the field, checked by the callback itself (not the
catch-all), and a genuine one still sets the point in words."""
import json

import pytest

from tests.security.dash_calls import body_for, find_callback

LOCATION_INPUTS = {"lapor-map-click.data": None, "lapor-gps-result.data": None,
                   "lapor-location.data": None, "lapor-language.data": "en"}


@pytest.fixture
def app(sqlite_services):
    from app.factory import create_app

    server = create_app(sqlite_services.settings, sqlite_services)
    server.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    return server


def _post(app, output, values, changed, places=()):
    body = body_for(app, find_callback(app, output), values, changed)
    for i, item in enumerate(body["inputs"]):
        if str(item["id"]).startswith("{"):
            # What the renderer sends for an ALL input: a list, one entry per matched button.
            kind = json.loads(item["id"])["type"]
            body["inputs"][i] = [{"id": {"type": kind, "index": p}, "property": "n_clicks", "value": 1}
                                 for p in places] if kind == "lapor-place" else []
    return app.test_client().post("/_dash-update-component", data=json.dumps(body),
                                  content_type="application/json")


@pytest.mark.parametrize("changed, values, field", [
    ("lapor-gps-result.data", {"lapor-gps-result.data": {"lat": "a", "lng": None}}, "gps"),
    ("lapor-gps-result.data", {"lapor-gps-result.data": [1, 2]}, "gps"),
    ("lapor-gps-result.data", {"lapor-gps-result.data": {"lat": -6.2, "lng": 106.8, "accuracy": "far"}}, "gps"),
    ("lapor-map-click.data", {"lapor-map-click.data": {"latlng": {"lat": 1e308, "lng": 0}}}, "map"),
    ("lapor-map-click.data", {"lapor-map-click.data": {"latlng": {"lat": -6.2, "lng": 106.8},
                                                       }, "lapor-location.data": {"lat": "x"}}, "location"),
])
def test_a_tampered_point_is_a_400_naming_the_field(app, changed, values, field):
    response = _post(app, "lapor-location.data", {**LOCATION_INPUTS, **values}, [changed])
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"].startswith(f"{field}: "), response.get_json()


def test_a_made_up_search_result_is_a_400_and_a_real_one_sets_the_point(app):
    bad = '{"index":"north pole","type":"lapor-place"}.n_clicks'
    response = _post(app, "lapor-location.data", LOCATION_INPUTS, [bad], places=["north pole"])
    assert response.status_code == 400 and response.get_json()["error"].startswith("place: ")
    good = '{"index":"-6.2088,106.8456","type":"lapor-place"}.n_clicks'
    response = _post(app, "lapor-location.data", LOCATION_INPUTS, [good], places=["-6.2088,106.8456"])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    answer = response.get_json()["response"]
    assert answer["lapor-location"]["data"] == {"lat": -6.2088, "lng": 106.8456}
    assert "Jakarta" in json.dumps(answer["lapor-location-text"])


@pytest.mark.parametrize("output, values, field", [
    ("lapor-place-results.children", {"lapor-place-search.value": ["Pluit"], "lapor-language.data": "en"}, "place"),
    ("lapor-map-box.children", {"lapor-map-ready.data": "ready", "lapor-location.data": [1],
                                "lapor-language.data": "en"}, "location"),
])
def test_the_search_and_the_map_refuse_tampered_values_by_name(app, output, values, field):
    response = _post(app, output, values, [next(iter(values))])
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.get_json()["error"].startswith(f"{field}: ")
