"""Item 6 (issue item 22): a stranger sends a forged Host header and reads the URLs Open311 answers."""
from sqlalchemy import select

from app.store import approvals
from app.factory import create_app
from app.open311 import api_keys
from app.store import db
from tests.app.open311.conftest import LAT, LNG
from tests.helpers import drain
from tests.security.conftest import resolve


def test_urls_come_from_the_configured_public_url_not_the_host_header(sqlite_services):
    import io

    from PIL import Image

    services = sqlite_services
    services.settings = services.settings.with_(public_url="https://lapor.example.go.id")
    client = create_app(services.settings, services).test_client()
    _, key = api_keys.create_key(services.engine, "t")
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    discovery = client.get("/open311/v2/discovery.json", headers=evil).get_json()
    assert discovery["endpoints"][0]["url"] == "https://lapor.example.go.id/open311/v2/"
    image = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 90, 0)).save(image, "PNG")
    ticket = client.post("/open311/v2/requests.json", content_type="multipart/form-data", headers=evil, data={
        "api_key": key, "service_code": "garbage", "lat": str(LAT), "long": str(LNG),
        "media": (io.BytesIO(image.getvalue()), "a.png")}).get_json()[0]["service_request_id"]
    drain(services)
    with services.engine.connect() as conn:
        report_id = conn.execute(select(db.reports.c.id).where(db.reports.c.ticket == ticket)).scalar_one()
    resolve(services, report_id)
    approvals.approve(services.engine, report_id, "supervisor:t")
    for answer in (client.get(f"/open311/v2/requests/{ticket}.json", headers=evil),
                   client.get("/open311/v2/requests.xml", headers=evil)):
        text = answer.get_data(as_text=True)
        assert "evil.example" not in text and "https://lapor.example.go.id/photos/" in text
