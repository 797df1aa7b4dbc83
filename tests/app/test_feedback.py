"""The citizen rates or disputes a resolved report by ticket and reporter's secret; silence closes it
after 10 working days."""
from datetime import timedelta

from sqlalchemy import select

from app import feedback, sla
from app.followup import change_status
from app.store import db
from tests.app.staff.conftest import seed
from tests.helpers import drain, file_with_secrets, raw_reports


def resolve(services, row):
    version = row.version
    for status, fields in (("verified", {}), ("dispatched", {"agency": "DLH"}), ("resolved", {})):
        change = change_status(services.engine, services.producer, row.id, status, "admin:t", note="t",
                               expected_version=version, **fields)
        version = change["version"]
    return change


def status_of(services, row):
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports.c.status).where(db.reports.c.id == row.id)).scalar_one()


def test_rating_closes_and_dispute_reopens(services):
    from app.factory import create_app

    raws = raw_reports(3, seed=7)
    for raw in raws:
        raw.category = "garbage"
    filed = file_with_secrets(services, raws)
    rows, secrets = [row for row, _ in filed], [secret for _, secret in filed]
    client = create_app(services.settings, services).test_client()
    early = client.post(f"/api/feedback/{rows[0].ticket}", json={"rating": 5, "secret": secrets[0]})
    assert early.status_code == 422 and "only a resolved report" in early.get_json()["error"]
    resolve(services, rows[0])
    resolve(services, rows[1])
    assert client.post(f"/api/feedback/{rows[0].ticket}", json={"rating": 9, "secret": secrets[0]}).status_code == 422
    rated = client.post(f"/api/feedback/{rows[0].ticket}", json={"rating": 4, "comment": "bersih"},
                        headers={"X-Reporter-Secret": secrets[0]})
    assert rated.status_code == 200 and rated.get_json()["status"] == "closed"
    disputed = client.post(f"/api/feedback/{rows[1].ticket}", json={"dispute": "sampah masih ada",
                                                                     "secret": secrets[1]})
    assert disputed.get_json()["status"] == "reopened"
    assert status_of(services, rows[0]) == "closed" and status_of(services, rows[1]) == "reopened"
    assert client.post("/api/feedback/JKT-NOPE-NOPE", json={"rating": 3}).status_code == 404
    listed = client.get(f"/api/feedback/{rows[1].ticket}", headers={"X-Reporter-Secret": secrets[1]})
    assert listed.get_json()["feedback"][0]["kind"] == "dispute"
    assert listed.get_json()["feedback"][0]["comment"] == "sampah masih ada"
    # Everybody else sees that a dispute was made, not what it says.
    public = client.get(f"/api/feedback/{rows[1].ticket}").get_json()["feedback"]
    assert public[0]["kind"] == "dispute" and public[0]["comment"] is None
    drain(services)


def test_auto_close_after_ten_working_days(services):
    rows = seed(services, count=2, categories=["garbage"])
    resolved = [resolve(services, row) for row in rows]
    at = resolved[0]["occurred_at"]
    # Ten working days (Monday to Friday, 08:00-16:00 in the city's zone, holidays off) are two weeks,
    # and up to three days more from a Friday evening or a weekend: the close of the tenth day counts.
    due = sla.add_working_days(at, feedback.AUTO_CLOSE_WORKING_DAYS, services.preset.timezone)
    assert timedelta(days=13) < due - at < timedelta(days=19)
    assert feedback.auto_close(services.engine, services.producer, services.preset, now=at + timedelta(days=7)) == 0
    assert feedback.auto_close(services.engine, services.producer, services.preset,
                               now=due - timedelta(minutes=1)) == 0
    assert feedback.auto_close(services.engine, services.producer, services.preset,
                               now=due + timedelta(minutes=1)) == 2
    assert {status_of(services, r) for r in rows} == {"closed"}
    with services.engine.connect() as conn:
        actors = conn.execute(select(db.report_events.c.actor).where(db.report_events.c.to_status == "closed")).all()
    assert {a.actor for a in actors} == {feedback.SYSTEM}
