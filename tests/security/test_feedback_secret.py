"""Item 1: a stranger who knows a ticket tries to close or reopen it through POST /api/feedback.

Without the reporter's secret they get a 403; the reporter (secret from the Open311 answer, or the
form's tracking link) is accepted; floods from one address and repeated changes of one ticket get a 429."""
from sqlalchemy import select

from app.store import db
from tests.app.open311.conftest import post_form
from tests.helpers import drain
from tests.security.conftest import resolve


def _filed(client, services, key, **fields):
    answer = post_form(client, key, **fields)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()[0]
    drain(services)
    with services.engine.connect() as conn:
        report_id = conn.execute(select(db.reports.c.id)
                                 .where(db.reports.c.ticket == body["service_request_id"])).scalar_one()
    return body["service_request_id"], report_id, body["reporter_secret"]


def _status(services, report_id):
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports.c.status).where(db.reports.c.id == report_id)).scalar_one()


def test_a_stranger_cannot_rate_or_dispute_the_reporter_can(public_app):
    client, services, key = public_app
    ticket, report_id, secret = _filed(client, services, key)
    resolve(services, report_id)
    for attempt in ({"rating": 1}, {"dispute": "belum beres"}, {"rating": 1, "secret": "x" * 32},
                    {"rating": 1, "secret": report_id}):
        refused = client.post(f"/api/feedback/{ticket}", json=attempt)
        assert refused.status_code == 403, attempt
        assert refused.get_json()["kind"] == "forbidden" and "secret" in refused.get_json()["error"]
    assert _status(services, report_id) == "resolved"
    rated = client.post(f"/api/feedback/{ticket}", json={"rating": 4}, headers={"X-Reporter-Secret": secret})
    assert rated.status_code == 200 and _status(services, report_id) == "closed"
    # A retried POST with the same Idempotency-Key answers the same secret (the first answer may be lost).
    again = [client.post("/open311/v2/requests.json", headers={"Idempotency-Key": "retry-1"},
                         data={"api_key": key, "service_code": "garbage", "lat": "-6.2088", "long": "106.8456"})
             for _ in range(2)]
    assert again[0].get_json()[0]["reporter_secret"] == again[1].get_json()[0]["reporter_secret"]


def test_reports_without_a_secret_cannot_be_rated_by_anyone(public_app):
    """Reports filed before secrets existed (or replayed) have none: the public API refuses them all."""
    from tests.app.staff.conftest import seed

    client, services, _ = public_app
    row = seed(services, count=1, categories=["garbage"])[0]
    resolve(services, row.id)
    assert client.post(f"/api/feedback/{row.ticket}", json={"rating": 5, "secret": ""}).status_code == 403
    assert _status(services, row.id) == "resolved"


def test_feedback_floods_are_limited_per_address_and_per_ticket(public_app):
    client, services, key = public_app
    services.settings = services.settings.with_(feedback_address_rate=6, feedback_ticket_rate=2)
    ticket, report_id, secret = _filed(client, services, key)
    resolve(services, report_id)
    holder = {"X-Reporter-Secret": secret}
    assert client.post(f"/api/feedback/{ticket}", json={"rating": 2}, headers=holder).status_code == 200
    assert client.post(f"/api/feedback/{ticket}", json={"dispute": "masih kotor"}, headers=holder).status_code == 200
    limited = client.post(f"/api/feedback/{ticket}", json={"rating": 5}, headers=holder)
    assert limited.status_code == 429 and "per ticket" in limited.get_json()["error"]
    assert int(limited.headers["Retry-After"]) > 3600
    # A stranger's attempts count against their address, never against the reporter's ticket.
    answers = [client.post(f"/api/feedback/{ticket}", json={"rating": 1}).status_code for _ in range(5)]
    assert answers[:3] == [403, 403, 403] and answers[3:] == [429, 429]
    assert _status(services, report_id) == "reopened"
