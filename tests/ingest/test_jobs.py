"""Scheduled work runs as its own job; the persister never writes back what SQL already holds."""
from datetime import timedelta

from sqlalchemy import select, update

from app.followup import change_status
from app.store import db
from ingest.jobs import Jobs
from tests.helpers import drain, raw_reports


def _row(services, report_id):
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports).where(db.reports.c.id == report_id)).one()


def test_the_persister_leaves_status_changes_to_the_change_path(services):
    report = services.producer.submit_many(raw_reports(1, seed=5)).accepted[0]
    drain(services)
    # An event no change path wrote (as a stray or forged entry would be): SQL does not follow it.
    services.producer.emit_status({
        "event_id": f"{report.id}:v9", "report_id": report.id, "city": report.city, "kind": "status",
        "from_status": "new", "to_status": "rejected", "version": 9, "actor": "nobody", "note": "x",
        "occurred_at": report.created_at + timedelta(minutes=1), "resolved_at": None,
        "agency": None, "team": None, "priority": "normal", "sla_due_at": report.sla_due_at})
    drain(services)
    row = _row(services, report.id)
    assert (row.status, row.version) == ("new", 1)
    with services.engine.connect() as conn:
        assert conn.execute(select(db.report_events.c.event_id)
                            .where(db.report_events.c.report_id == report.id)).scalars().all() == [
            f"{report.id}:created"]
    # The real path writes SQL itself; the persister acknowledges its event and changes nothing more.
    change = change_status(services.engine, services.producer, report.id, "verified", actor="supervisor:t")
    drain(services)
    row = _row(services, report.id)
    assert (row.status, row.version) == ("verified", change["version"])


def test_the_jobs_relay_the_outbox_and_trim_the_stream_outside_the_consumers(services):
    reports = services.producer.submit_many(raw_reports(3, seed=6)).accepted
    drain(services)
    stream = services.keys.stream()
    assert services.redis.xlen(stream) == 3
    # A change whose append never happened waits in the outbox until the relay job sends it.
    change = change_status(services.engine, services.producer, reports[0].id, "verified", actor="op:t")
    with services.engine.begin() as conn:
        conn.execute(update(db.report_events).where(db.report_events.c.event_id == change["event_id"])
                     .values(published=False, occurred_at=change["occurred_at"] - timedelta(minutes=1)))
    drain(services)
    jobs = Jobs(services)
    done = jobs.run_once()
    # Trimming keeps the last entry delivered: the 3 reports go, the change's first append stays.
    assert done["relay"] == 1 and done["trim"] == 3 and done["autoclose"] == 0
    with services.engine.connect() as conn:
        assert conn.execute(select(db.report_events.c.published)
                            .where(db.report_events.c.event_id == change["event_id"])).scalar_one()
    drain(services)
    assert Jobs(services, ["trim"]).run_once() == {"trim": 1}
    assert services.redis.xlen(stream) == 1
