"""Two cities in one database (Jakarta and Kupang over the same DATABASE_URL and Redis): a stranger
signed in as Jakarta's supervisor tries to read, change, export and follow Kupang's reports.

Every lookup by id or ticket carries the city: each attempt answers 404 and changes nothing.
"""
import io
import re
from datetime import datetime, timezone

import pytest
from PIL import Image
from sqlalchemy import select

from app.followup import change_status
from app.store import db
from ingest.sources import RawReport
from tests.conftest import make_settings
from tests.helpers import drain, raw_reports

PASSWORD = "correct horse battery"
KUPANG_POINT = (-10.1620, 123.5950)     # Kota Kupang, Kelurahan Oebobo area


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def two_cities(tmp_path, redis_url, database_url):
    """Jakarta's and Kupang's services over one database; each city has one report (Kupang's with a photo)."""
    from app.auth.users import create_user
    from app.factory import create_app
    from app.photos import store_photo
    from app.services import Services

    jakarta = Services.open(make_settings(tmp_path / "jkt", redis_url, database_url))
    kupang = Services.open(make_settings(tmp_path / "kpg", redis_url, database_url, city="kupang"))
    photo = store_photo(kupang.settings, _jpeg(), "foto.jpg")
    kupang.producer.submit(RawReport(category="garbage", lat=KUPANG_POINT[0], lng=KUPANG_POINT[1],
                                     description="sampah menumpuk", source="test", source_ref="kpg-1",
                                     photos=(photo.ref,), created_at=datetime.now(timezone.utc)))
    drain(kupang)
    jakarta.producer.submit_many(raw_reports(1, seed=3, prefix="jkt"))
    drain(jakarta)
    create_user(jakarta.engine, jakarta.preset, "super_jkt", PASSWORD, "supervisor", None)
    create_user(kupang.engine, kupang.preset, "super_kpg", PASSWORD, "supervisor", None)
    with jakarta.engine.connect() as conn:
        rows = {r.city: r for r in conn.execute(select(db.reports)).all()}
    jakarta_app, kupang_app = create_app(jakarta.settings, jakarta), create_app(kupang.settings, kupang)
    yield {"jakarta": jakarta, "kupang": kupang, "jakarta_app": jakarta_app, "kupang_app": kupang_app,
           "kpg": rows["kupang"], "jkt": rows["jakarta"], "photo": photo}
    jakarta.close()
    kupang.close()


def _staff(app, username):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": username,
                                       "password": PASSWORD}).status_code == 302
    csrf = client.get("/staff/api/session").get_json()["csrf_token"]
    return client, {"X-CSRF-Token": csrf}


def _status(services, report_id):
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports.c.status, db.reports.c.version)
                            .where(db.reports.c.id == report_id)).one()


def test_jakarta_supervisor_cannot_read_kupang_report_nor_see_its_photo(two_cities):
    client, _ = _staff(two_cities["jakarta_app"], "super_jkt")
    kpg = two_cities["kpg"]
    detail = client.get(f"/staff/api/reports/{kpg.id}")
    assert detail.status_code == 404, detail.get_data(as_text=True)
    assert two_cities["photo"].ref not in detail.get_data(as_text=True)
    # the queue and the export of Jakarta hold Jakarta's report only
    queue = client.get("/staff/api/queue").get_json()
    assert [i["id"] for i in queue["items"]] == [two_cities["jkt"].id]
    export = client.get("/staff/api/export?format=csv").get_data(as_text=True)
    assert kpg.ticket not in export and two_cities["jkt"].ticket in export
    # Kupang's own supervisor sees it, photo included (the filter is the city, not a broken lookup)
    own, _ = _staff(two_cities["kupang_app"], "super_kpg")
    seen = own.get(f"/staff/api/reports/{kpg.id}")
    assert seen.status_code == 200 and seen.get_json()["photos"] == [two_cities["photo"].ref]


def test_jakarta_supervisor_cannot_verify_assign_note_or_merge_into_kupang_report(two_cities):
    client, headers = _staff(two_cities["jakarta_app"], "super_jkt")
    kupang, kpg, jkt = two_cities["kupang"], two_cities["kpg"], two_cities["jkt"]
    before = _status(kupang, kpg.id)
    verify = client.post(f"/staff/api/reports/{kpg.id}/verify", json={"version": kpg.version}, headers=headers)
    assert verify.status_code == 404, verify.get_data(as_text=True)
    assert _status(kupang, kpg.id) == before
    # verified by Kupang, then Jakarta tries to dispatch it to one of its agencies
    version = change_status(kupang.engine, kupang.producer, kpg.id, "verified", "admin:setup",
                            expected_version=kpg.version)["version"]
    assign = client.post(f"/staff/api/reports/{kpg.id}/assign", json={"version": version, "agency": "DLH"},
                         headers=headers)
    assert assign.status_code == 404, assign.get_data(as_text=True)
    bulk = client.post("/staff/api/bulk-assign", json={"items": [{"id": kpg.id, "version": version}],
                                                       "agency": "DLH"}, headers=headers).get_json()
    assert bulk["assigned"] == 0 and bulk["results"][0]["kind"] == "not_found"
    note = client.post(f"/staff/api/reports/{kpg.id}/note", json={"text": "cek"}, headers=headers)
    assert note.status_code == 404
    priority = client.post(f"/staff/api/reports/{kpg.id}/priority", json={"version": version,
                                                                          "priority": "urgent"}, headers=headers)
    assert priority.status_code == 404
    merge = client.post(f"/staff/api/reports/{jkt.id}/merge", json={"version": jkt.version, "into": kpg.id},
                        headers=headers)
    assert merge.status_code == 404
    assert _status(kupang, kpg.id) == ("verified", version)
    assert _status(two_cities["jakarta"], jkt.id).status == "new"


def test_a_ticket_of_one_city_is_unknown_to_the_other_citys_tracking_and_feedback(two_cities):
    kpg, jkt = two_cities["kpg"], two_cities["jkt"]
    from layouts import lacak

    def shown(services, ticket):
        return str(lacak.layout(services, {"path": f"/lacak/{ticket}", "lang": "en"}))

    assert "lacak-not-found" in shown(two_cities["kupang"], jkt.ticket)
    assert "lacak-not-found" not in shown(two_cities["kupang"], kpg.ticket)
    from app.feedback import report_feedback

    with two_cities["kupang"].engine.begin() as conn:     # what Kupang's citizen said about it
        conn.execute(report_feedback.insert().values(report_id=kpg.id, ticket=kpg.ticket, kind="dispute",
                                                     comment="masih ada, hubungi 0812 3456 7890", version=5,
                                                     occurred_at=datetime.now(timezone.utc)))
    jakarta = two_cities["jakarta_app"].test_client()
    listed = jakarta.get(f"/api/feedback/{kpg.ticket}")
    assert listed.status_code == 404 or listed.get_json()["feedback"] == [], listed.get_data(as_text=True)
    rated = jakarta.post(f"/api/feedback/{kpg.ticket}", json={"dispute": "belum beres"})
    assert rated.status_code == 404, rated.get_data(as_text=True)


def test_one_citys_outbox_is_never_relayed_into_the_other_citys_stream(two_cities):
    from app import followup
    from app.store.keys import Keys

    jakarta, kupang, kpg = two_cities["jakarta"], two_cities["kupang"], two_cities["kpg"]
    with kupang.engine.begin() as conn:   # a Kupang change whose append never happened
        conn.execute(db.report_events.insert().values(
            event_id=f"{kpg.id}:v9", report_id=kpg.id, city="kupang", kind="status", from_status="new",
            to_status="verified", version=9, actor="admin:setup", note=None,
            occurred_at=datetime(2024, 1, 1, tzinfo=timezone.utc), published=False))
    length = jakarta.redis.xlen(Keys("jakarta").stream(0))
    assert followup.relay_unpublished(jakarta.engine, jakarta.producer) == 0
    assert jakarta.redis.xlen(Keys("jakarta").stream(0)) == length
    assert followup.relay_unpublished(kupang.engine, kupang.producer) == 1
