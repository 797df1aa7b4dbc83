"""Item 3 (issue item 10, Open311 and /lacak): a stranger looks for single sensitive reports.

Open311 never lists a sensitive report on its own (the kiosk's rule: only aggregated, resolution 6,
k >= 5): not in GET requests (JSON, XML, by id), 404 from requests/{id}; /lacak never shows its photos,
and its area only to the reporter."""
import io

from PIL import Image
from sqlalchemy import select

from app.store import approvals
from app.store import db
from layouts import lacak
from tests.app.open311.conftest import LAT, LNG
from tests.helpers import drain
from tests.security.conftest import page_text


def test_sensitive_reports_are_not_listed_and_their_photos_never_shown(public_app):
    client, services, key = public_app
    image = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 0, 0)).save(image, "PNG")
    answer = client.post("/open311/v2/requests.json", content_type="multipart/form-data", data={
        "api_key": key, "service_code": "health", "lat": str(LAT), "long": str(LNG),
        "media": (io.BytesIO(image.getvalue()), "luka.png")})
    assert answer.status_code == 201
    ticket, secret = answer.get_json()[0]["service_request_id"], answer.get_json()[0]["reporter_secret"]
    drain(services)
    assert client.get(f"/open311/v2/requests/{ticket}.json").status_code == 404
    assert client.get(f"/open311/v2/requests/{ticket}.xml").status_code == 404
    for query in ("", "?service_code=health", f"?service_request_id={ticket}", "?status=open"):
        assert client.get(f"/open311/v2/requests.json{query}").get_json() == [], query
        assert ticket not in client.get(f"/open311/v2/requests.xml{query}").get_data(as_text=True)
    with services.engine.connect() as conn:
        report = conn.execute(select(db.reports).where(db.reports.c.ticket == ticket)).first()
    approvals.approve(services.engine, report.id, "supervisor:t")     # even approved (publish refuses it anyway)
    stranger = page_text(lacak.layout(services, {"path": f"/lacak/{ticket}", "lang": "id"}))
    reporter = page_text(lacak.layout(services, {"path": f"/lacak/{ticket}", "lang": "id", "fragment": {"k": secret}}))
    for text in (stranger, reporter):
        assert "/photos/" not in text
    if report.kelurahan_name:
        assert report.kelurahan_name not in stranger and report.kelurahan_name in reporter
