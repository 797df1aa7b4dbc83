"""Item 4 (issue item 13): a stranger reads Open311 media_url for photos nobody approved, and tries to
have the city's feed republish a URL of theirs."""
import io

from PIL import Image
from sqlalchemy import select

from app.store import approvals
from app.store import db
from layouts import lacak
from tests.app.open311.conftest import LAT, LNG, post_form
from tests.helpers import drain
from tests.security.conftest import page_text, resolve


def test_photos_public_only_after_approval_and_external_urls_never(public_app):
    client, services, key = public_app
    image = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 0, 200)).save(image, "PNG")
    uploaded = client.post("/open311/v2/requests.json", content_type="multipart/form-data", data={
        "api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG),
        "media": (io.BytesIO(image.getvalue()), "sampah.png")}).get_json()[0]
    linked = post_form(client, key, media_url="https://evil.example/tracker.png").get_json()[0]
    drain(services)
    with services.engine.connect() as conn:
        ids = dict(conn.execute(select(db.reports.c.ticket, db.reports.c.id)).all())
    for ticket in (uploaded["service_request_id"], linked["service_request_id"]):
        assert client.get(f"/open311/v2/requests/{ticket}.json").get_json()[0]["media_url"] is None
        assert "/photos/" not in page_text(lacak.layout(services, {"path": f"/lacak/{ticket}", "lang": "id"}))
    assert "evil.example" not in client.get("/open311/v2/requests.xml").get_data(as_text=True)
    for ticket in ids:
        resolve(services, ids[ticket])
        approvals.approve(services.engine, ids[ticket], "supervisor:t")
    drain(services)
    shown = client.get(f"/open311/v2/requests/{uploaded['service_request_id']}.json").get_json()[0]["media_url"]
    assert shown.startswith(services.settings.resolved_public_url() + "/photos/")
    assert client.get(f"/open311/v2/requests/{linked['service_request_id']}.json").get_json()[0]["media_url"] is None
    assert "evil.example" not in client.get("/open311/v2/requests.json").get_data(as_text=True)
    # The reporter sees their own photo before any approval (the holder's link).
    assert "/photos/" in page_text(lacak.layout(services, {"path": f"/lacak/{uploaded['service_request_id']}",
                                                           "fragment": {"k": uploaded["reporter_secret"]}}))
