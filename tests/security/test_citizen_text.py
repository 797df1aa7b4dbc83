"""Item 2: a stranger reads every public output looking for what citizens wrote.

A POST's address_string and description, a rating's comment and a dispute's reason (with a phone
number in it) never appear in Open311 (JSON and XML), GET /api/feedback or /lacak for a non-holder;
the reporter sees their own words on /lacak; staff notes with a phone number are refused or hidden."""
import pytest
from sqlalchemy import select

from app.followup import change_status
from app.open311.records import public_note
from app.staff import actions
from app.store import db
from layouts import lacak
from tests.app.open311.conftest import post_form
from tests.helpers import drain
from tests.security.conftest import page_text, resolve

PHONE = "+62 812 7777 6543"
PRIVATE = ("Rahasia", "7777", "Bu Siti", "masih bau")


def test_citizen_words_never_public(public_app):
    client, services, key = public_app
    posted = post_form(client, key, address_string="Jl. Rahasia 7 rumah Bu Siti", description="sampah Bu Siti")
    ticket, secret = posted.get_json()[0]["service_request_id"], posted.get_json()[0]["reporter_secret"]
    drain(services)
    with services.engine.connect() as conn:
        report_id = conn.execute(select(db.reports.c.id).where(db.reports.c.ticket == ticket)).scalar_one()
    resolve(services, report_id)
    holder = {"X-Reporter-Secret": secret}
    assert client.post(f"/api/feedback/{ticket}", json={"rating": 2, "comment": f"masih bau, HP {PHONE}"},
                       headers=holder).status_code == 200
    assert client.post(f"/api/feedback/{ticket}", json={"dispute": f"masih bau, telepon {PHONE}"},
                       headers=holder).status_code == 200
    drain(services)
    outputs = [client.get(f"/open311/v2/requests.{fmt}").get_data(as_text=True) for fmt in ("json", "xml")]
    outputs += [client.get(f"/open311/v2/requests/{ticket}.{fmt}").get_data(as_text=True) for fmt in ("json", "xml")]
    outputs.append(client.get(f"/api/feedback/{ticket}").get_data(as_text=True))
    outputs.append(page_text(lacak.layout(services, {"path": f"/lacak/{ticket}", "lang": "id"})))
    for text in outputs:
        for private in PRIVATE:
            assert private not in text, (private, text[:300])
    item = client.get(f"/open311/v2/requests/{ticket}.json").get_json()[0]
    assert isinstance(item["address"], str) and item["address"]
    if services.areas._areas:   # boundaries loaded: the place in words
        assert item["address"] == "Kel. Pasar Manggis, Kec. Setiabudi, Jakarta Selatan"
    else:                                                          # no boundaries: the city's name
        assert item["address"] == services.preset.name
    # The reporter sees their own words.
    own = page_text(lacak.layout(services, {"path": f"/lacak/{ticket}", "lang": "id", "fragment": {"k": secret}}))
    assert "sampah Bu Siti" in own and "lacak-holder" in own
    assert "masih bau" in client.get(f"/api/feedback/{ticket}", headers=holder).get_data(as_text=True)


def test_staff_public_notes_pass_the_publish_check(public_app):
    client, services, key = public_app
    ticket = post_form(client, key).get_json()[0]["service_request_id"]
    drain(services)
    with services.engine.connect() as conn:
        row = conn.execute(select(db.reports).where(db.reports.c.ticket == ticket)).first()
    from app.auth.users import StaffUser

    user = StaffUser(username="oper1", role="operator", agency=None, city=services.preset.slug)
    with pytest.raises(actions.ActionInvalid, match="phone number"):
        actions.reject(services, user, row.id, row.version, f"hubungi {PHONE}")
    # A note that got in some other way (older data, the shell) is hidden on every public surface.
    change_status(services.engine, services.producer, row.id, "rejected", "operator:oper1",
                  note=f"ditolak, hubungi {PHONE}", expected_version=row.version)
    drain(services)
    assert client.get(f"/open311/v2/requests/{ticket}.json").get_json()[0]["status_notes"] is None
    assert "7777" not in page_text(lacak.layout(services, {"path": f"/lacak/{ticket}", "lang": "en"}))
    assert public_note("resolved", "agency_officer:dlh1", "Sampah sudah diangkut") == "Sampah sudah diangkut"
    assert public_note("reopened", "citizen", "disputed: belum") is None
