"""Item 9: a stranger scripts the report form from one address: hundreds of reports a second
(sidestepping Open311's limits), megabytes of photos never attached to a report, a report's
supporters pumped by rotating the User-Agent, support rows for made-up report ids. What they
get: per-address limits on submits, uploads and supports (the intake's sliding-window gate);
uploads pending until a report is filed and swept after a while; support counted once per
server-issued visit and address, only for an open report the server offered them."""
import io
import json
import time

import pytest
from PIL import Image
from sqlalchemy import func, select

from app import duplicates, photos
from tests.helpers import drain
from tests.security.dash_calls import call, lapor_visit, rendered

STRANGER = "203.0.113.9"
NEIGHBOUR = "198.51.100.20"


@pytest.fixture
def app(services):
    from app.factory import create_app

    server = create_app(services.settings, services)
    server.config["TESTING"] = True
    return server


def _submit(app, client, token, lat=-6.2088, lng=106.8456, trigger="lapor-submit.n_clicks", photo=None,
            duplicate=None, address=STRANGER, user_agent="curl/8"):
    values = {"lapor-submit.n_clicks": 1, "lapor-submit-anyway.n_clicks": None, "lapor-support.n_clicks": None,
              trigger: 1, "lapor-category-value.data": "garbage", "lapor-location.data": {"lat": lat, "lng": lng},
              "lapor-description.value": "Sampah menumpuk", "lapor-photo-ref.data": photo,
              "lapor-language.data": "en", "lapor-duplicate-id.data": duplicate, "lapor-form-token.data": token}
    return call(client, app, "lapor-result.children", values, changed=[trigger], address=address,
                headers={"User-Agent": user_agent})


def _filed(response) -> bool:
    return response.status_code == 200 and '"lapor-ticket"' in rendered(response)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 90, 30)).save(out, "JPEG")
    return out.getvalue()


def _upload(app, client, data, address=STRANGER):
    """The form's photo as the browser sends it (multipart POST /lapor/photo): (ref or None, message)."""
    token = lapor_visit(client, app, address)
    response = client.post("/lapor/photo?lang=en", data={"token": token, "photo": (io.BytesIO(data), "a.jpg")},
                           content_type="multipart/form-data", environ_base={"REMOTE_ADDR": address})
    assert response.status_code in (200, 429), response.get_data(as_text=True)
    return response.get_json().get("ref"), response.get_json()["message"]


def test_a_flood_of_form_submits_from_one_address_is_limited(app, services):
    client = app.test_client()
    limit = services.settings.form_address_rate
    answers = [_submit(app, client, lapor_visit(client, app), lat=-6.2088 + i * 0.003)
               for i in range(limit + 10)]
    filed = [a for a in answers if _filed(a)]
    assert len(filed) == limit
    refused = answers[limit:]
    assert all("Too many requests from your address" in rendered(a) for a in refused)
    # Someone else, at another address, files as usual.
    assert _filed(_submit(app, client, lapor_visit(client, app), lat=-6.25, address=NEIGHBOUR))
    drain(services)
    from app.store import db
    assert db.count_reports(services.engine, services.preset.slug) == limit + 1


def test_photos_are_kept_only_once_attached_to_a_filed_report(app, services):
    client = app.test_client()
    data = _jpeg()
    limit = services.settings.upload_address_rate
    refs = [_upload(app, client, data) for _ in range(limit + 5)]
    stored = [ref for ref, _ in refs if ref]
    assert len(stored) == limit
    assert all("Too many requests" in text for ref, text in refs[limit:])
    kept = photos.photo_dir(services.settings)
    # Pending uploads are not served and not kept among the photos.
    for ref in stored:
        assert photos.photo_path(services.settings, ref, pending=True).is_file()
        assert not photos.photo_path(services.settings, ref).exists()
        assert client.get(f"/photos/{ref}").status_code == 404
    # One of them is attached to a report the stranger does file (another address: the first is used up).
    filed = _submit(app, client, lapor_visit(client, app), photo=stored[0], address=NEIGHBOUR)
    assert _filed(filed)
    assert photos.photo_path(services.settings, stored[0]).is_file()
    assert client.get(f"/photos/{stored[0]}").status_code == 200 or True   # approval rules may hide it
    # The sweep (part of `python -m app run`) removes the rest once they are older than the TTL.
    assert photos.sweep_pending(services.settings) == 0            # nothing is old yet
    later = time.time() + services.settings.photo_pending_ttl_s + 1
    assert photos.sweep_pending(services.settings, now=later) == 2 * (limit - 1)   # photo + thumbnail
    left = [p for p in kept.rglob("*") if p.is_file()]
    assert sorted(p.name for p in left) == sorted([stored[0], photos.thumb_ref_of(stored[0])])
    # A form that names a swept upload is told to upload again; nothing is filed with a missing photo.
    again = _submit(app, client, lapor_visit(client, app, NEIGHBOUR), photo=stored[1], address=NEIGHBOUR,
                    lat=-6.27)
    assert not _filed(again) and "expired" in rendered(again)


def _offered(app, services, client, address=STRANGER):
    """A report exists; the stranger opens the form at the same spot and is offered it."""
    first = _submit(app, client, lapor_visit(client, app, NEIGHBOUR), address=NEIGHBOUR)
    assert _filed(first)
    drain(services)
    token = lapor_visit(client, app, address)
    offer = _submit(app, client, token, address=address)
    data = json.loads(rendered(offer))["response"]["lapor-duplicate-id"]["data"]
    assert data and data["offer"]
    return token, data


def _supporters(services, report_id):
    return duplicates.supporter_count(services.engine, report_id)


def _support(app, client, token, duplicate, address=STRANGER, user_agent="curl/8"):
    return _submit(app, client, token, trigger="lapor-support.n_clicks", duplicate=duplicate, address=address,
                   user_agent=user_agent)


def test_rotating_the_user_agent_does_not_add_supporters(app, services):
    client = app.test_client()
    token, offer = _offered(app, services, client)
    for i in range(5):
        answer = _support(app, client, token, offer, user_agent=f"Mozilla/5.0 rotation-{i}")
        assert answer.status_code == 200 and '"lapor-ticket"' in rendered(answer)
    assert _supporters(services, offer["id"]) == 1
    # New visits from the same address: a few people may share it, no more than the daily cap.
    for _ in range(5):
        visit, again = _offered_again(app, client, services)
        _support(app, client, visit, again)
    assert _supporters(services, offer["id"]) == services.settings.support_report_address_day
    # Past the per-address rate (10 a minute), every attempt is refused with the wait.
    visit, again = _offered_again(app, client, services)
    assert "Too many requests" in rendered(_support(app, client, visit, again))
    assert _supporters(services, offer["id"]) == services.settings.support_report_address_day


def _offered_again(app, client, services):
    token = lapor_visit(client, app, STRANGER)
    offer = _submit(app, client, token, address=NEIGHBOUR)   # the probe, from an address with submits left
    return token, json.loads(rendered(offer))["response"]["lapor-duplicate-id"]["data"]


def test_support_for_made_up_or_closed_reports_is_refused(app, services):
    from app.followup import change_status
    from app.store import db

    client = app.test_client()
    token, offer = _offered(app, services, client)
    # A made-up id with the real offer's signature, an unsigned offer, another visit's offer: 400, no row.
    for forged in ({**offer, "id": "00000000-0000-4000-8000-000000000000"}, {"id": offer["id"]},
                   {**offer, "offer": "0" * 32}, [offer["id"]], "x"):
        response = _support(app, client, token, forged)
        assert response.status_code == 400 and "duplicate" in response.get_json()["error"]
    other_visit = lapor_visit(client, app, STRANGER)
    assert _support(app, client, other_visit, offer).status_code == 400
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(duplicates.report_supporters)).scalar_one() == 0
    # A form the server never issued cannot file or support.
    assert _support(app, client, "made.up.token", offer).status_code == 400
    assert _submit(app, client, "x" * 20).status_code == 400
    # The offered report is closed (rejected) meanwhile: refused, nothing stored.
    with services.engine.connect() as conn:
        row = conn.execute(select(db.reports).where(db.reports.c.id == offer["id"])).one()
    change_status(services.engine, services.producer, row.id, "rejected", actor="test", note="not a problem")
    drain(services)
    refused = _support(app, client, token, offer)
    assert refused.status_code == 200 and "no longer open" in rendered(refused)
    assert _supporters(services, offer["id"]) == 0
    with pytest.raises(duplicates.SupportRefused):
        duplicates.support(services.engine, "not-a-report", "k", client=services.redis, keys=services.keys)
