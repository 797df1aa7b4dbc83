"""The simulated feed (on in ``make run``) moves only the reports it filed itself: a citizen's form
report, an Open311 report or an import stays exactly where staff left it, however long it waits."""
import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.store import db
from ingest.simulate import advance_lifecycle
from ingest.sources.simulator import SOURCE
from tests.helpers import drain, raw_reports


def test_the_simulator_never_moves_a_real_report(services):
    created = datetime.now(timezone.utc) - timedelta(hours=2)
    real = raw_reports(6, seed=11, start=created, spread_s=60, prefix="real")
    for raw, source in zip(real, ("web", "open311", "replay", "web", "open311", "phone")):
        raw.source = source
    simulated = raw_reports(6, seed=12, start=created, spread_s=60, prefix="sim")
    for raw in simulated:
        raw.source = SOURCE
    services.producer.submit_many(real + simulated)
    drain(services)
    later = datetime.now(timezone.utc) + timedelta(hours=1)   # every report old enough to move
    rng = random.Random(3)
    for _ in range(6):
        advance_lifecycle(services, 50, rng, later)
        drain(services)
    with services.engine.connect() as conn:
        rows = conn.execute(select(db.reports.c.source, db.reports.c.status, db.reports.c.version)).all()
        actors = {e.actor for e in conn.execute(select(db.report_events.c.actor, db.report_events.c.report_id)
                                                .join(db.reports, db.reports.c.id == db.report_events.c.report_id)
                                                .where(db.reports.c.source != SOURCE)).all()}
    real_rows = [r for r in rows if r.source != SOURCE]
    assert len(real_rows) == 6
    assert {(r.status, r.version) for r in real_rows} == {("new", 1)}, real_rows
    assert "simulator" not in actors
    assert all(r.status != "new" for r in rows if r.source == SOURCE)   # its own did move
