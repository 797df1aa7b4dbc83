"""Open311 GeoReport v2 as a client sees it: every endpoint and error path, JSON and XML,
checked against the OpenAPI document; reports go through the real stream into the real database."""
from datetime import datetime, timedelta, timezone

import pytest

from app.followup import change_status
from app.open311 import api_keys
from tests.app.open311.conftest import LAT, LNG, check_openapi, post_form, xml_of
from tests.helpers import drain

SPEC_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
               "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
               "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


def _post_and_drain(client, services, key, **fields):
    response = post_form(client, key, **fields)
    assert response.status_code == 201, response.get_data(as_text=True)
    drain(services)
    return response.get_json()[0]


def test_discovery_and_openapi(open311):
    client, _, _ = open311
    body = check_openapi(client.get("/open311/v2/discovery.json"), "/discovery.{format}")
    assert body["endpoints"][0]["url"].endswith("/open311/v2/")
    root = xml_of(client.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery" and root.find("endpoints/endpoint/formats/format") is not None
    doc = client.get("/open311/v2/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and "/requests.{format}" in doc["paths"]


def test_services_and_definitions(open311):
    client, _, _ = open311
    services = check_openapi(client.get("/open311/v2/services.json?lang=en"), "/services.{format}")
    by_code = {s["service_code"]: s for s in services}
    assert by_code["flood"]["service_name"] == "Flooding" and by_code["flood"]["metadata"] is True
    assert by_code["garbage"]["metadata"] is False
    root = xml_of(client.get("/open311/v2/services.xml"))
    assert root.tag == "services" and root.find("service/service_name").text == "Banjir"
    definition = check_openapi(client.get("/open311/v2/services/agri_seeds.json"),
                               "/services/{service_code}.{format}")
    crop = definition["attributes"][0]
    assert crop["code"] == "crop" and crop["required"] is True and {"key": "rice", "name": "Padi"} in crop["values"]
    root = xml_of(client.get("/open311/v2/services/flood.xml"))
    assert root.tag == "service_definition" and root.find("attributes/attribute/code").text == "water_depth_cm"
    for fmt in ("json", "xml"):
        response = client.get(f"/open311/v2/services/volcano.{fmt}")
        assert response.status_code == 404
    assert check_openapi(client.get("/open311/v2/services/volcano.json"),
                         "/services/{service_code}.{format}")[0]["description"].startswith("service_code")
    assert xml_of(client.get("/open311/v2/services/volcano.xml")).find("error/code").text == "404"
    response = client.get("/open311/v2/services.csv")
    assert response.status_code == 400 and "format" in response.get_json()[0]["description"]
    response = client.get("/open311/v2/services.json?jurisdiction_id=gotham")
    assert response.status_code == 404 and "jurisdiction_id" in response.get_json()[0]["description"]
    assert client.get("/open311/v2/services.json?jurisdiction_id=jakarta").status_code == 200
    assert client.get("/open311/v2/services.json?lang=fr").status_code == 400


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_then_read_back(open311, fmt):
    client, services, key = open311
    response = post_form(client, key, fmt, email="budi@contoh.id", phone="+62 812 3456 7890",
                         first_name="Budi", last_name="Santoso", address_string="Jl. Rahasia No. 7",
                         media_url="https://example.org/p.jpg")
    assert response.status_code == 201, response.get_data(as_text=True)
    if fmt == "json":
        posted = check_openapi(response, "/requests.{format}", "post")[0]
    else:
        node = xml_of(response).find("request")
        posted = {child.tag: child.text for child in node}
        assert set(posted) == {"service_request_id", "token", "service_notice", "account_id", "reporter_secret"}
    ticket, token = posted["service_request_id"], posted["token"]
    assert ticket.startswith("JKT-")
    # Not in SQL until the workers run: the token says so precisely.
    assert client.get(f"/open311/v2/tokens/{token}.{fmt}").status_code == 404
    drain(services)

    single = client.get(f"/open311/v2/requests/{ticket}.{fmt}")
    assert single.status_code == 200
    text = single.get_data(as_text=True)
    for private in ("budi@contoh.id", "3456", "Budi", "Santoso", "Rahasia", "example.org", "sampah di depan"):
        assert private not in text
    if fmt == "json":
        item = check_openapi(single, "/requests/{service_request_id}.{format}")[0]
        assert list(item) == SPEC_FIELDS
        assert item["status"] == "open" and item["status_notes"] is None
        # The place from the boundaries (none loaded here: the city's name), never address_string;
        # an external media_url is never republished.
        assert item["service_code"] == "garbage" and isinstance(item["address"], str)
        assert item["address"] == ("Kel. Pasar Manggis, Kec. Setiabudi, Jakarta Selatan" if services.areas._areas
                                   else services.preset.name)   # the place in words from the boundaries
        assert item["agency_responsible"] and item["media_url"] is None
        requested = datetime.fromisoformat(item["requested_datetime"])
        expected = datetime.fromisoformat(item["expected_datetime"])
        assert requested.utcoffset() == timedelta(hours=7) and expected - requested == timedelta(hours=48)
        assert abs(item["lat"] - LAT) < 1e-6 and abs(item["long"] - LNG) < 1e-6
    else:
        node = xml_of(single).find("request")
        assert [child.tag for child in node] == SPEC_FIELDS
        assert node.find("status").text == "open" and node.find("zipcode").text is None
    token_answer = client.get(f"/open311/v2/tokens/{token}.{fmt}")
    assert token_answer.status_code == 200
    if fmt == "json":
        assert check_openapi(token_answer, "/tokens/{token}.{format}") == [
            {"service_request_id": ticket, "token": token}]
    else:
        assert xml_of(token_answer).find("request/service_request_id").text == ticket


def test_status_closed_with_public_notes(open311):
    client, services, key = open311
    ticket = _post_and_drain(client, services, key)["service_request_id"]
    from sqlalchemy import select

    from app.store import db
    with services.engine.connect() as conn:
        report_id = conn.execute(select(db.reports.c.id).where(db.reports.c.ticket == ticket)).scalar_one()
    change_status(services.engine, services.producer, report_id, "verified", "operator:oper1", note="cek lapangan")
    change_status(services.engine, services.producer, report_id, "dispatched", "supervisor:super1")
    change_status(services.engine, services.producer, report_id, "resolved", "agency_officer:dlh1",
                  note="Sampah sudah diangkut")
    drain(services)
    item = check_openapi(client.get(f"/open311/v2/requests/{ticket}.json"),
                         "/requests/{service_request_id}.{format}")[0]
    assert item["status"] == "closed" and item["status_notes"] == "Sampah sudah diangkut"
    assert item["updated_datetime"] >= item["requested_datetime"]
    closed = client.get("/open311/v2/requests.json?status=closed").get_json()
    assert [r["service_request_id"] for r in closed] == [ticket]
    assert client.get("/open311/v2/requests.json?status=open").get_json() == []
    node = xml_of(client.get(f"/open311/v2/requests/{ticket}.xml")).find("request")
    assert node.find("status").text == "closed" and node.find("status_notes").text == "Sampah sudah diangkut"


def test_list_filters_and_paging(open311):
    client, services, key = open311
    tickets = [post_form(client, key, lat=str(LAT + i * 0.002)).get_json()[0]["service_request_id"]
               for i in range(3)]
    flood = post_form(client, key, service_code="flood", **{"attribute[water_depth_cm]": "40"}).get_json()
    drain(services)
    everything = check_openapi(client.get("/open311/v2/requests.json"), "/requests.{format}")
    assert len(everything) == 4
    only_garbage = client.get("/open311/v2/requests.json?service_code=garbage").get_json()
    assert sorted(r["service_request_id"] for r in only_garbage) == sorted(tickets)
    both = client.get("/open311/v2/requests.json?service_code=garbage,flood").get_json()
    assert len(both) == 4
    picked = client.get(f"/open311/v2/requests.json?service_request_id={tickets[0]},{tickets[2]}").get_json()
    assert sorted(r["service_request_id"] for r in picked) == sorted([tickets[0], tickets[2]])
    pages = [client.get(f"/open311/v2/requests.json?page_size=3&page={p}").get_json() for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 1, 0]
    assert len({r["service_request_id"] for p in pages for r in p}) == 4
    now = datetime.now(timezone.utc)
    future = (now + timedelta(hours=1)).isoformat()
    past = (now - timedelta(hours=1)).isoformat()
    assert client.get("/open311/v2/requests.json", query_string={"start_date": future}).get_json() == []
    assert len(client.get("/open311/v2/requests.json", query_string={"start_date": past,
                                                                       "end_date": future}).get_json()) == 4
    # An end date 100 days ago: the default 90-day span before it holds nothing.
    old = (now - timedelta(days=100)).isoformat()
    assert client.get("/open311/v2/requests.json", query_string={"end_date": old}).get_json() == []
    assert len(client.get("/open311/v2/requests.json", query_string={"updated_after": past}).get_json()) == 4
    assert client.get("/open311/v2/requests.json", query_string={"updated_before": past}).get_json() == []
    root = xml_of(client.get("/open311/v2/requests.xml?service_code=flood"))
    assert root.tag == "service_requests" and len(root.findall("request")) == 1
    assert root.find("request/service_request_id").text == flood[0]["service_request_id"]


@pytest.mark.parametrize("query,field", [
    ("status=pending", "status"), ("service_code=volcano", "service_code"),
    ("start_date=yesterday", "start_date"), ("end_date=2026-01-01T00:00:00", "end_date"),
    ("updated_after=2026-13-01T00:00:00Z", "updated_after"), ("page=0", "page"),
    ("page_size=1001", "page_size"), ("page_size=-5", "page_size"), ("page=abc", "page"),
    ("start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "start_date"),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_list_refuses_bad_filters(open311, query, field, fmt):
    client, _, _ = open311
    response = client.get(f"/open311/v2/requests.{fmt}?{query}")
    assert response.status_code == 400
    if fmt == "json":
        description = check_openapi(response, "/requests.{format}")[0]["description"]
    else:
        description = xml_of(response).find("error/description").text
    assert description.startswith(field + ":"), description


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("fields,status,starts", [
    ({"api_key": None}, 400, "api_key: is required"),
    ({"api_key": "p311_nope_nope"}, 403, "api_key: unknown"),
    ({"service_code": None}, 400, "service_code: is required"),
    ({"service_code": "volcano"}, 400, "service_code: unknown"),
    ({"lat": None, "long": None}, 400, "location: lat and long are required"),
    ({"lat": None, "long": None, "address_string": "Jl. Sudirman 1"}, 400, "lat/long: required"),
    ({"long": None}, 400, "long: is required with lat"),
    ({"lat": "abc"}, 400, "lat: must be a number"),
    ({"lat": "-7.5"}, 400, "location:"),
    ({"long": "500"}, 400, "long: must be between"),
    ({"jurisdiction_id": "gotham"}, 404, "jurisdiction_id: unknown"),
    ({"email": "not-an-email"}, 400, "email: must be an e-mail"),
    ({"phone": "call me"}, 400, "phone: must be a phone"),
    ({"description": "x" * 2001}, 400, "description: at most 2000"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url: must be an http"),
    ({"attribute[colour]": "red"}, 400, "attribute[colour]: unknown attribute"),
    ({"attribute[x": "1"}, 400, "attribute[x: attributes are sent"),
    ({"service_code": "fire"}, 400, "attribute[people_in_danger]: is required"),
    ({"service_code": "fire", "attribute[people_in_danger]": "maybe"}, 400, "attribute[people_in_danger]: 'maybe'"),
    ({"service_code": "flood", "attribute[water_depth_cm]": "deep"}, 400, "attribute[water_depth_cm]: must be a number"),
    ({"service_code": "flood", "attribute[water_depth_cm]": "nan"}, 400, "attribute[water_depth_cm]: must be between"),
    ({"first_name": "B" * 120}, 400, "first_name/last_name: at most"),
])
def test_post_error_paths(open311, fields, status, starts, fmt):
    client, services, key = open311
    response = post_form(client, key, fmt, **fields)
    assert response.status_code == status, response.get_data(as_text=True)
    if fmt == "json":
        description = check_openapi(response, "/requests.{format}", "post")[0]["description"]
    else:
        root = xml_of(response)
        assert root.tag == "errors" and root.find("error/code").text == str(status)
        description = root.find("error/description").text
    assert description.startswith(starts), description
    assert services.redis.xlen(services.keys.stream()) == 0   # nothing invalid reached the stream


def test_multivalue_attributes_and_photo_upload(open311):
    import io

    from PIL import Image

    client, services, key = open311
    image = io.BytesIO()
    Image.new("RGB", (50, 40), (0, 120, 0)).save(image, "PNG")
    response = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "agri_vegetable_distribution", "lat": str(LAT), "long": str(LNG),
        "attribute[crops][]": ["chili", "cabbage"], "media": (io.BytesIO(image.getvalue()), "kebun.png")},
        content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    drain(services)
    ticket = response.get_json()[0]["service_request_id"]
    item = client.get(f"/open311/v2/requests/{ticket}.json").get_json()[0]
    assert item["media_url"] is None          # public only once staff published the report
    from sqlalchemy import select

    from app.store import approvals
    from app.store import db
    with services.engine.connect() as conn:
        report_id = conn.execute(select(db.reports.c.id).where(db.reports.c.ticket == ticket)).scalar_one()
    approvals.approve(services.engine, report_id, "supervisor:t")
    item = client.get(f"/open311/v2/requests/{ticket}.json").get_json()[0]
    base = services.settings.resolved_public_url()   # PANTAU_PUBLIC_URL, never the Host header
    assert item["media_url"].startswith(f"{base}/photos/") and item["media_url"].endswith(".png")
    photo = client.get(item["media_url"].replace(base, ""))
    assert photo.status_code == 200 and photo.mimetype == "image/png"
    bad = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG),
        "media": (io.BytesIO(b"<html>not an image</html>"), "x.jpg")}, content_type="multipart/form-data")
    assert bad.status_code == 400 and bad.get_json()[0]["description"].startswith("media: must be a JPEG")


def test_too_large_is_413_in_spec_format(open311):
    client, _, key = open311
    response = post_form(client, key, description="x" * (17 * 1024 * 1024))
    assert response.status_code == 413
    assert response.get_json()[0]["code"] == 413


def test_unknown_request_and_bad_token(open311):
    client, _, _ = open311
    for fmt in ("json", "xml"):
        assert client.get(f"/open311/v2/requests/JKT-AAAAA-BBBBB.{fmt}").status_code == 404
        assert client.get(f"/open311/v2/tokens/not-a-token.{fmt}").status_code == 400
        assert client.get(f"/open311/v2/tokens/00000000-0000-4000-8000-000000000000.{fmt}").status_code == 404
    check_openapi(client.get("/open311/v2/requests/JKT-AAAAA-BBBBB.json"), "/requests/{service_request_id}.{format}")
    check_openapi(client.get("/open311/v2/tokens/x.json"), "/tokens/{token}.{format}")


def test_revoked_key_and_rate_limits(open311):
    client, services, key = open311
    record, limited = api_keys.create_key(services.engine, "tiny", rate_per_minute=2)
    assert post_form(client, limited).status_code == 201
    assert post_form(client, limited).status_code == 201
    third = post_form(client, limited)
    assert third.status_code == 429 and int(third.headers["Retry-After"]) >= 1
    assert check_openapi(third, "/requests.{format}", "post")[0]["description"].startswith("rate limit")
    assert api_keys.revoke_key(services.engine, record.key_id, services.redis, services.keys)
    assert post_form(client, limited).status_code == 403
    assert not api_keys.revoke_key(services.engine, record.key_id, services.redis, services.keys)
    assert post_form(client, key).status_code == 201   # other keys are unaffected


def test_rate_limit_per_address(services):
    from app.factory import create_app

    services.settings = services.settings.with_(open311_address_rate=3)
    server = create_app(services.settings, services)
    client = server.test_client()
    codes = [client.get("/open311/v2/services.json", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    xml = client.get("/open311/v2/services.xml", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert xml.status_code == 429 and xml_of(xml).find("error/code").text == "429"
    other = client.get("/open311/v2/services.json", environ_base={"REMOTE_ADDR": "10.0.0.10"})
    assert other.status_code == 200


@pytest.mark.parametrize("proxies", [0, 1])
def test_rate_limit_per_address_behind_a_proxy(services, proxies):
    """Behind a trusted proxy the client's own address is counted; otherwise a forged
    X-Forwarded-For changes nothing."""
    from app.factory import create_app

    services.settings = services.settings.with_(open311_address_rate=2, proxies=proxies)
    client = create_app(services.settings, services).test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    codes = [client.get("/open311/v2/services.json", environ_base=proxy,
                        headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)]
    assert codes == ([200] * 4 if proxies else [200, 200, 429, 429])
    _, key = api_keys.create_key(services.engine, "proxy test")
    form = {"api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG)}
    posts = [client.post("/open311/v2/requests.json", data=form, environ_base=proxy,
                         headers={"X-Forwarded-For": "198.51.100.7"}).status_code for _ in range(3)]
    assert posts == ([201, 201, 429] if proxies else [429, 429, 429])


def test_sensitive_categories_are_never_listed_one_by_one(open311):
    client, services, key = open311
    ticket = _post_and_drain(client, services, key, service_code="health", description="Pak RT sakit",
                             address_string="Rumah Pak RT")["service_request_id"]
    assert client.get(f"/open311/v2/requests/{ticket}.json").status_code == 404
    assert client.get("/open311/v2/requests.json").get_json() == []
    assert client.get(f"/open311/v2/requests.json?service_request_id={ticket}").get_json() == []
    assert "Pak RT" not in client.get("/open311/v2/requests.xml").get_data(as_text=True)


def test_post_while_workers_are_down_is_kept(open311):
    """Redis is up but no consumer runs: the report is accepted, kept, and reaches SQL once they run."""
    client, services, key = open311
    response = post_form(client, key, description="Sampah menumpuk saat worker mati")
    assert response.status_code == 201
    ticket = response.get_json()[0]["service_request_id"]
    assert services.redis.xlen(services.keys.stream()) == 1
    assert client.get(f"/open311/v2/requests/{ticket}.json").status_code == 404
    drain(services)   # the workers come back
    item = client.get(f"/open311/v2/requests/{ticket}.json").get_json()[0]
    assert item["service_request_id"] == ticket and item["status"] == "open"
    assert item["description"] is None                 # free text is public only once staff approve it


def test_description_is_public_only_as_staff_approved_it(open311):
    from app.store import approvals

    client, services, key = open311
    response = post_form(client, key, description="Hubungi saya di 0812 9999 0000, sampah menumpuk")
    ticket = response.get_json()[0]["service_request_id"]
    drain(services)
    assert client.get(f"/open311/v2/requests/{ticket}.json").get_json()[0]["description"] is None
    approvals.approve(services.engine, response.get_json()[0]["token"], "moderator",
                   public_text="Sampah menumpuk di tepi jalan")
    listed = client.get(f"/open311/v2/requests/{ticket}.json").get_json()[0]
    assert listed["description"] == "Sampah menumpuk di tepi jalan"
    assert "0812" not in client.get("/open311/v2/requests.json").get_data(as_text=True)


def test_likely_duplicate_is_linked(open311):
    from app import duplicates
    from sqlalchemy import select

    from app.store import db

    client, services, key = open311
    first = _post_and_drain(client, services, key)["service_request_id"]
    second = post_form(client, key, lat=str(LAT + 0.0003)).get_json()[0]
    assert second["service_notice"] == f"possible duplicate of {first}"
    drain(services)   # the persister keeps the link with the report
    with services.engine.connect() as conn:
        first_id = conn.execute(select(db.reports.c.id).where(db.reports.c.ticket == first)).scalar_one()
    assert duplicates.links_of(services.engine, second["token"]) == [first_id]
    far = post_form(client, key, lat=str(LAT + 0.03)).get_json()[0]
    other = post_form(client, key, service_code="street_light", lat=str(LAT + 0.0003)).get_json()[0]
    drain(services)
    assert far["service_notice"] is None and duplicates.links_of(services.engine, far["token"]) == []
    assert other["service_notice"] is None   # another category is another problem
    # Resolved reports are not duplicates any more.
    for status in ("verified", "dispatched", "resolved"):
        change_status(services.engine, services.producer, first_id, status, "staff:oper1")
    drain(services)
    later = post_form(client, key, lat=str(LAT + 0.0003)).get_json()[0]
    assert later["service_notice"] == f"possible duplicate of {second['service_request_id']}"


def test_refused_posts_count_against_the_limits(services):
    """Bad fields, a bad format or a bad key are refused and still counted: a flood of junk
    cannot dodge the limits, and once past them the answer is the 429."""
    from app.factory import create_app

    services.settings = services.settings.with_(open311_address_rate=4)
    client = create_app(services.settings, services).test_client()
    _, key = api_keys.create_key(services.engine, "junk test")
    env = {"REMOTE_ADDR": "10.0.0.77"}
    junk = [client.post("/open311/v2/requests.json", data={"api_key": key, "service_code": "garbage"},
                        environ_base=env),
            client.post("/open311/v2/requests.csv", data={"api_key": key}, environ_base=env),
            client.post("/open311/v2/requests.json", data={"api_key": "p311_nope"}, environ_base=env),
            client.post("/open311/v2/requests.json", data={}, environ_base=env)]
    assert [r.status_code for r in junk] == [400, 400, 403, 400]
    assert junk[0].get_json()[0]["description"] == "location: lat and long are required"
    assert post_form(client, key).status_code == 201   # another address is not affected
    late = client.post("/open311/v2/requests.json", environ_base=env,
                       data={"api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG)})
    assert late.status_code == 429 and late.headers["Retry-After"]
    assert services.redis.xlen(services.keys.stream()) == 1


def test_intake_survives_a_redis_that_forgot_its_scripts(open311):
    """A restarted Redis has an empty script cache: the intake loads its script again."""
    client, services, key = open311
    assert post_form(client, key).status_code == 201
    services.redis.script_flush()
    assert post_form(client, key, lat=str(LAT + 0.01)).status_code == 201
    assert services.redis.xlen(services.keys.stream()) == 2


def test_a_retried_post_with_an_idempotency_key_files_one_report(open311):
    from app import queries
    from app.store import db

    client, services, key = open311
    retry = {"Idempotency-Key": "app-7f3c:42"}
    first = client.post("/open311/v2/requests.json", headers=retry, data={
        "api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG)})
    assert first.status_code == 201
    drain(services)
    # The answer was lost on the way; the client sends the same request again, twice.
    again = [client.post("/open311/v2/requests.json", headers=retry, data={
        "api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG)}) for _ in range(2)]
    assert [r.status_code for r in again] == [201, 201]
    answers = [r.get_json()[0] for r in (first, *again)]
    assert len({(a["service_request_id"], a["token"]) for a in answers}) == 1
    assert all(a["service_notice"] is None for a in answers)     # not a duplicate of itself
    drain(services)
    assert db.count_reports(services.engine, services.preset.slug) == 1
    assert queries.kpis(services.redis, services.preset, "today")["received"] == 1
    # Another key (or another API key) is another report; a malformed key is refused precisely.
    other = client.post("/open311/v2/requests.json", headers={"Idempotency-Key": "app-7f3c:43"}, data={
        "api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG)}).get_json()[0]
    assert other["token"] != answers[0]["token"]
    bad = client.post("/open311/v2/requests.json", headers={"Idempotency-Key": "spasi tidak boleh"}, data={
        "api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG)})
    assert bad.status_code == 400
    assert bad.get_json()[0]["description"] == "Idempotency-Key: 1 to 64 letters, digits, '-', '_', ':' or '.'"


def test_a_database_outage_answers_503_and_known_keys_still_file(services):
    """The intake needs only Redis once a process knows the key; what needs SQL answers 503."""
    from sqlalchemy import create_engine

    from app.factory import create_app

    client = create_app(services.settings, services).test_client()
    _, key = api_keys.create_key(services.engine, "outage test")
    _, other_key = api_keys.create_key(services.engine, "never seen")
    assert post_form(client, key).status_code == 201          # the key is cached from here on
    working = services.engine
    services.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                    connect_args={"connect_timeout": 1})
    services.read_engine = services.engine      # the public reads' engine (no replica here)
    client.application.extensions["pantau_key_cache"].engine = services.engine
    try:
        assert post_form(client, key, lat=str(LAT + 0.01)).status_code == 201
        for response in (post_form(client, other_key), client.get("/open311/v2/requests.json"),
                         post_form(client, other_key, "xml")):
            assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert check_openapi(post_form(client, other_key), "/requests.{format}", "post")[0]["description"] \
            == "service unavailable: try again shortly"
        assert services.redis.xlen(services.keys.stream()) == 2
    finally:
        services.engine.dispose()
        services.engine = services.read_engine = working
