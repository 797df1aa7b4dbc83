"""Self-service from the intake side (issue 12): a report filed on /lapor by a browser signed in as an
agency officer names that officer, and his own resolution of it is flagged "self_service"; the same
form sent by a citizen (no one signed in) names no one."""
import io
import json

from sqlalchemy import select

from app import proof
from app.auth.users import create_user
from app.store import db
from tests.app.staff.conftest import PASSWORD, Staff
from tests.app.staff.test_staff_permissions import DISPATCHED_DLH, to_state
from tests.app.test_proof import photo
from tests.callbacks.test_lapor import PHONE, _fill_form
from tests.helpers import drain
from tests.layouts.test_dispatch import sign_in


def _file(page, base) -> str:
    _fill_form(page, base, description="Sampah menumpuk di depan kantor kelurahan")
    page.click("#lapor-submit")
    return page.wait_for_selector("#lapor-ticket", timeout=30000).text_content()


def _row(services, ticket):
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports).where(db.reports.c.ticket == ticket)).first()


def test_a_report_an_officer_files_himself_is_flagged_when_he_resolves_it(live_app, browser):
    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "dlh1", PASSWORD, "agency_officer", "DLH")
    officer_browser = browser.new_context(viewport=PHONE)
    officer_browser.set_default_timeout(60_000)
    page = officer_browser.new_page()
    sign_in(page, base, "dlh1")
    page.wait_for_url(f"{base}/tugas")
    ticket = _file(page, base)
    officer_browser.close()
    citizen = browser.new_context(viewport=PHONE)
    citizen.set_default_timeout(60_000)
    citizen_ticket = _file(citizen.new_page(), base)
    citizen.close()
    drain(services)

    row = _row(services, ticket)
    assert json.loads(row.attributes)["filed_by"] == "dlh1"
    assert "filed_by" not in json.loads(_row(services, citizen_ticket).attributes)

    server = live_app
    officer = Staff(server, "dlh1")
    version = to_state(services, row, DISPATCHED_DLH)
    done = officer.post(f"/staff/api/reports/{row.id}/resolve?lang=id", content_type="multipart/form-data",
                        data={"version": str(version), "note": "Sudah diangkut", "lat": str(row.lat),
                              "lng": str(row.lng), "accuracy": "8", "photo": (io.BytesIO(photo(61)), "a.jpg")})
    assert done.status_code == 200, done.get_json()
    assert [f["kind"] for f in proof.flags_of(services.engine, row.id)] == ["self_service"]
