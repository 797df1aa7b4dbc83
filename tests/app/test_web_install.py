"""A two-city install (PANTAU_CITIES=jakarta,kupang) on one Redis and one database, end to end:
each city's screens and APIs under its own path, a report lands in its own city only, each
Open311 ``jurisdiction_id`` answers only its own reports, a Kupang supervisor is nobody at
Jakarta (screens, staff API, exports, crafted callbacks, the wall's push), an account given a
second city works there with its role there, and the overview's totals are the sum of the cities'."""
import json
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from app import overview, queries
from app.auth import displays
from app.auth.users import add_city, cities_of, create_user, remove_city
from app.open311 import api_keys
from app.store import db
from ingest.sources import RawReport
from tests.conftest import make_settings
from tests.helpers import drain, raw_reports

PASSWORD = "correct horse battery"
KUPANG_POINTS = [(-10.1620, 123.5950), (-10.1680, 123.6020), (-10.1750, 123.5900)]


@pytest.fixture
def install(tmp_path, redis_url, database_url):
    """The install's root app (both cities mounted), its city services, and one account per city."""
    from app.factory import create_app
    from app.services import Services

    settings = make_settings(tmp_path, redis_url, database_url, cities=("jakarta", "kupang"))
    services = Services.open(settings)
    root = create_app(settings, services)
    root.config["TESTING"] = True
    cities = root.extensions["pantau_city_services"]
    create_user(services.engine, cities["kupang"].preset, "super_kpg", PASSWORD, "supervisor")
    create_user(services.engine, cities["jakarta"].preset, "super_jkt", PASSWORD, "supervisor")
    yield root, cities
    services.close()


def _login(client, city, username):
    page = client.get(f"/{city}/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(f"/{city}/login", data={"csrf_token": token, "username": username, "password": PASSWORD})


def _kupang_reports(n, prefix="kpg"):
    now = datetime.now(timezone.utc)
    return [RawReport(category=("garbage", "flood", "road_damage")[i % 3], lat=KUPANG_POINTS[i % 3][0],
                      lng=KUPANG_POINTS[i % 3][1], description=f"laporan {i}", source="test",
                      source_ref=f"{prefix}-{i}", created_at=now) for i in range(n)]


def test_the_root_lists_the_cities_and_each_city_lives_under_its_path(install):
    root, _ = install
    client = root.test_client()
    index = client.get("/")
    assert index.status_code == 200
    text = index.get_data(as_text=True)
    assert "DKI Jakarta" in text and "Kota Kupang" in text and 'href="/kupang/lapor?lang=id"' in text
    assert "WITA" in text and "WIB" in text
    assert "Cities on this platform" in client.get("/?lang=en").get_data(as_text=True)
    assert client.get("/?lang=xx").status_code == 400
    page = client.get("/kupang/lapor")
    assert page.status_code == 200
    # Dash fetches its layout, callbacks and assets under the city's path.
    assert 'src="/kupang/_dash-component-suites/' in page.get_data(as_text=True)
    assert client.get("/kupang/_dash-layout").status_code == 200
    assert client.get("/kupang/healthz").status_code in (200, 503)
    assert client.get("/lapor").status_code == 404        # no city: no screen


def test_an_open311_report_lands_in_its_city_and_each_jurisdiction_answers_only_its_own(install):
    root, cities = install
    client = root.test_client()
    _, secret = api_keys.create_key(cities["kupang"].engine, "kupang client")
    posted = client.post("/kupang/open311/v2/requests.json", data={
        "api_key": secret, "jurisdiction_id": "kupang", "service_code": "garbage",
        "lat": "-10.1620", "long": "123.5950", "description": "Sampah di depan pasar Oebobo"})
    assert posted.status_code in (200, 201), posted.get_data(as_text=True)
    request_id = posted.get_json()[0]["service_request_id"]
    assert request_id.startswith("KPG-")
    # A Kupang point sent to Jakarta is outside Jakarta: refused, not filed there.
    refused = client.post("/jakarta/open311/v2/requests.json", data={
        "api_key": secret, "service_code": "garbage", "lat": "-10.1620", "long": "123.5950",
        "description": "Sampah di depan pasar Oebobo"})
    assert refused.status_code == 400
    wrong = client.post("/jakarta/open311/v2/requests.json", data={
        "api_key": secret, "jurisdiction_id": "kupang", "service_code": "garbage",
        "lat": "-6.2088", "long": "106.8456", "description": "Sampah"})
    assert wrong.status_code == 404
    for city in cities.values():
        drain(city)
    with cities["kupang"].engine.connect() as conn:
        rows = conn.execute(select(db.reports.c.city, db.reports.c.ticket)).all()
    assert [(r.city, r.ticket) for r in rows] == [("kupang", request_id)]
    mine = client.get("/kupang/open311/v2/requests.json?jurisdiction_id=kupang").get_json()
    assert [r["service_request_id"] for r in mine] == [request_id]
    assert client.get("/jakarta/open311/v2/requests.json?jurisdiction_id=jakarta").get_json() == []
    assert client.get(f"/jakarta/open311/v2/requests/{request_id}.json").status_code == 404
    assert client.get("/jakarta/open311/v2/requests.json?jurisdiction_id=kupang").status_code == 404
    discovery = client.get("/kupang/open311/v2/discovery.json").get_json()
    assert all(e["url"].endswith("/kupang/open311/v2/") for e in discovery["endpoints"])
    assert queries.kpis(cities["kupang"].redis, cities["kupang"].preset)["received"] == 1
    assert queries.kpis(cities["jakarta"].redis, cities["jakarta"].preset)["received"] == 0


def test_a_kupang_supervisor_cannot_see_jakarta(install):
    root, cities = install
    cities["jakarta"].producer.submit_many(raw_reports(2, seed=5, prefix="jkt"))
    cities["kupang"].producer.submit_many(_kupang_reports(2))
    for city in cities.values():
        drain(city)
    with cities["jakarta"].engine.connect() as conn:
        jakarta_id = conn.execute(select(db.reports.c.id).where(db.reports.c.city == "jakarta")).scalars().first()
    client = root.test_client()
    signed_in = _login(client, "kupang", "super_kpg")
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/kupang/dispatch")
    assert client.get("/kupang/dispatch").status_code == 200
    queue = client.get("/kupang/staff/api/queue")
    assert queue.status_code == 200 and queue.get_json()["total"] == 2
    # Jakarta: the screens send to Jakarta's sign-in, the APIs say who is asked for
    screen = client.get("/jakarta/dispatch")
    assert screen.status_code == 302 and "/jakarta/login" in screen.headers["Location"]
    assert screen.headers["Location"].endswith("next=/jakarta/dispatch")
    for url in ("/jakarta/staff/api/queue", f"/jakarta/staff/api/reports/{jakarta_id}", "/jakarta/staff/api/export",
                "/jakarta/wall/api/snapshot"):
        assert client.get(url).status_code == 401, url
    assert client.get("/jakarta/wall").status_code == 302
    assert client.get(f"/kupang/staff/api/reports/{jakarta_id}").status_code == 404
    # A crafted Dash callback for Jakarta's console, and the router asked for it
    for body in ({"output": "dispatch-queue.children", "outputs": {"id": "dispatch-queue", "property": "children"},
                  "inputs": [{"id": "dispatch-refresh", "property": "n_intervals", "value": 1}], "changedPropIds": []},
                 {"output": "shell-page.children", "outputs": {"id": "shell-page", "property": "children"},
                  "inputs": [{"id": "shell-location", "property": "pathname", "value": "/jakarta/dispatch"}],
                  "changedPropIds": ["shell-location.pathname"]}):
        answer = client.post("/jakarta/_dash-update-component", data=json.dumps(body),
                             content_type="application/json")
        assert answer.status_code == 401, answer.get_data(as_text=True)
    # Jakarta's sign-in refuses the Kupang account
    assert _login(root.test_client(), "jakarta", "super_kpg").status_code == 401
    # The wall's push connection of Jakarta refuses the session too
    handshake = client.get("/jakarta/socket.io/?EIO=4&transport=websocket")
    assert handshake.status_code == 401


def test_an_account_given_a_second_city_works_there_with_its_role_there(install):
    root, cities = install
    jakarta = cities["jakarta"]
    add_city(jakarta.engine, jakarta.preset, "super_kpg", "operator")
    assert cities_of(jakarta.engine, "super_kpg") == {"kupang": "supervisor", "jakarta": "operator"}
    client = root.test_client()
    assert _login(client, "kupang", "super_kpg").status_code == 302
    assert client.get("/jakarta/staff/api/session").get_json()["role"] == "operator"
    assert client.get("/kupang/staff/api/session").get_json()["role"] == "supervisor"
    assert client.get("/jakarta/kinerja").status_code == 403          # an operator's rights in Jakarta
    assert client.get("/kupang/kinerja").status_code == 200
    assert remove_city(jakarta.engine, "super_kpg", "jakarta")
    assert client.get("/kupang/staff/api/queue").status_code == 401    # its sessions ended
    assert _login(client, "kupang", "super_kpg").status_code == 302
    assert client.get("/jakarta/staff/api/queue").status_code == 401


def test_the_overview_totals_are_the_sum_of_the_cities(install):
    root, cities = install
    cities["jakarta"].producer.submit_many(raw_reports(7, seed=9, prefix="jkt"))
    cities["kupang"].producer.submit_many(_kupang_reports(4))
    for city in cities.values():
        drain(city)
    anonymous = root.test_client()
    assert anonymous.get("/overview").status_code == 302
    kupang_only = root.test_client()
    assert _login(kupang_only, "kupang", "super_kpg").status_code == 302
    assert kupang_only.get("/overview").status_code == 302      # not a member of Jakarta
    add_city(cities["jakarta"].engine, cities["jakarta"].preset, "super_kpg", "supervisor")
    both = root.test_client()
    assert _login(both, "kupang", "super_kpg").status_code == 302
    page = both.get("/overview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    per_city = {slug: queries.kpis(city.redis, city.preset, "today") for slug, city in cities.items()}
    assert per_city["jakarta"]["received"] == 7 and per_city["kupang"]["received"] == 4
    for name in ("received", "open_backlog", "resolved", "sla_breaches"):
        shown = {slug: _cell(html, f"overview-city-{slug}", name) for slug in cities}
        assert shown == {slug: per_city[slug][name] for slug in cities}
        assert _cell(html, "overview-total", name) == sum(shown.values())
    assert "WITA" in html and "WIB" in html
    # every report is on the map: the hexes hold the same total
    cells = overview.map_cells(cities, "today")
    assert sum(n for per in cells.values() for n in per.values()) == 11
    assert html.count('class="hex"') == sum(len(per) for per in cells.values())
    # a screen with an overview display token
    _, token = displays.create_display(cities["jakarta"].engine, overview.OVERVIEW, "Ruang gubernur")
    screen = root.test_client()
    opened = screen.get(f"/overview?display={token}&lang=en")
    assert opened.status_code == 303 and opened.headers["Location"] == "/overview?lang=en"
    shown = screen.get("/overview?lang=en")
    assert shown.status_code == 200 and "Overview of every city" in shown.get_data(as_text=True)
    # a city's display token is not the overview's
    _, city_token = displays.create_display(cities["kupang"].engine, "kupang", "Kupang wall")
    assert root.test_client().get(f"/overview?display={city_token}").status_code == 403


COLUMNS = ("received", "open_backlog", "resolved", "sla_breaches")


def _cell(html, row_id, name):
    row = re.search(rf'id="{row_id}">(.*?)</tr>', html, re.S).group(1)
    values = re.findall(r'data-value="(-?\d+)"', row)
    return int(values[COLUMNS.index(name)])
