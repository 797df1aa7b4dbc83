"""Two supervisors act on one report at once: exactly one wins, the audit holds it once."""
import threading

from sqlalchemy import func, select

from app.auth.users import StaffUser
from app.followup import VersionConflict
from app.staff import actions
from app.store import db
from tests.app.staff.conftest import seed
from tests.helpers import drain


def test_parallel_conflicting_updates_one_wins(services):
    rows = seed(services, count=10, categories=["garbage"])
    supervisors = [StaffUser(f"super{i}", "supervisor", None, "jakarta") for i in range(6)]
    agencies = ["DLH", "DSDA", "BINAMARGA", "DINSOS", "DISHUB", "DLH"]
    for row in rows:
        version = actions.verify(services, supervisors[0], row.id, row.version)["version"]
        barrier = threading.Barrier(len(supervisors))
        outcomes = []

        def act(user, agency):
            barrier.wait()
            try:
                outcomes.append(("ok", actions.assign(services, user, row.id, version, agency, user.username)))
            except VersionConflict as err:
                outcomes.append(("conflict", str(err)))

        threads = [threading.Thread(target=act, args=(u, a)) for u, a in zip(supervisors, agencies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wins = [o for kind, o in outcomes if kind == "ok"]
        assert len(outcomes) == len(supervisors)
        assert len(wins) == 1, outcomes
        assert all("reload and try again" in o for kind, o in outcomes if kind == "conflict")
        with services.engine.connect() as conn:
            stored = conn.execute(select(db.reports.c.agency, db.reports.c.team, db.reports.c.version)
                                  .where(db.reports.c.id == row.id)).one()
            audit = conn.execute(select(db.report_events.c.actor, db.report_events.c.to_status)
                                 .where(db.report_events.c.report_id == row.id,
                                        db.report_events.c.kind == "status")
                                 .order_by(db.report_events.c.version)).all()
            details = conn.execute(select(func.count()).select_from(actions.report_actions)
                                   .where(actions.report_actions.c.report_id == row.id,
                                          actions.report_actions.c.action == "assign")).scalar_one()
        winner = wins[0]
        assert stored.version == winner["version"] == version + 1
        assert stored.team.startswith("super")
        assert [a.to_status for a in audit] == ["verified", "dispatched"]   # each accepted change once
        assert audit[1].actor == f"supervisor:{stored.team}" and details == 1
    drain(services)   # the stream events replayed by the persister change nothing
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.report_events)
                            .where(db.report_events.c.kind == "status")).scalar_one() == 2 * len(rows)
