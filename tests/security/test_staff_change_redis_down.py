"""A supervisor acts while Redis is down (a restart, a crash): the change is saved in SQL and the
answer says so, never a 500 after the commit; the outbox sends it once Redis is back.

Runs its own redis-server (stopped mid-test), never the shared one."""
import re

import pytest
from sqlalchemy import select

from app import followup
from app.staff.actions import FEED_PENDING, report_actions
from app.store import db
from app.store.redis_conn import EmbeddedRedis
from tests.conftest import make_settings
from tests.helpers import drain, raw_reports

PASSWORD = "correct horse battery"


@pytest.fixture
def own_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "own-redis").start()
    yield server
    server.stop()


@pytest.fixture
def stack(tmp_path, own_redis, database_url):
    from app.auth.users import create_user
    from app.factory import create_app
    from app.services import Services

    services = Services.open(make_settings(tmp_path, own_redis.url, database_url))
    services.producer.submit_many(raw_reports(2, seed=5, prefix="down"))
    drain(services)
    create_user(services.engine, services.preset, "super1", PASSWORD, "supervisor", None)
    app = create_app(services.settings, services)
    yield services, app
    services.close()


def test_a_change_while_redis_is_down_is_saved_said_so_and_relayed_when_it_is_back(stack, own_redis):
    services, app = stack
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": "super1",
                                       "password": PASSWORD}).status_code == 302
    csrf = client.get("/staff/api/session").get_json()["csrf_token"]
    with services.engine.connect() as conn:
        row = conn.execute(select(db.reports).order_by(db.reports.c.id)).first()

    own_redis.stop()                          # Redis goes away between page load and click
    answer = client.post(f"/staff/api/reports/{row.id}/verify", json={"version": row.version},
                         headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["status"] == "verified" and body["feed"] == "pending" and body["message"] == FEED_PENDING
    with services.engine.connect() as conn:
        saved = conn.execute(select(db.reports.c.status, db.reports.c.version)
                             .where(db.reports.c.id == row.id)).one()
        event = conn.execute(select(db.report_events).where(db.report_events.c.report_id == row.id,
                                                            db.report_events.c.kind == "status")).one()
        audit = conn.execute(select(report_actions).where(report_actions.c.report_id == row.id)).all()
    assert tuple(saved) == ("verified", row.version + 1)
    assert event.published is False or event.published == 0      # waits in the outbox
    assert [a.action for a in audit] == ["verify"]               # the staff action's own row too

    back = EmbeddedRedis(own_redis.folder, port=own_redis.port).start()   # back, with its AOF
    own_redis.process = back.process                                     # the fixture stops it
    assert followup.relay_unpublished(services.engine, services.producer, older_than_s=0) == 1
    drain(services)
    with services.engine.connect() as conn:
        assert conn.execute(select(db.report_events.c.published)
                            .where(db.report_events.c.event_id == event.event_id)).scalar_one()
    stream = services.redis.xrange(services.keys.stream(0))
    assert any(fields.get("event_id") == event.event_id or event.event_id in str(fields)
               for _, fields in stream)
