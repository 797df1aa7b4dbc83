"""Shared short-lived results: one computation per key however many callers, fresh after the TTL."""
import threading
import time

from sqlalchemy import event

from app.memo import Memo
from layouts import wall


def test_concurrent_callers_share_one_computation_and_the_ttl_renews_it():
    now = [100.0]
    memo, calls, gate = Memo(clock=lambda: now[0]), [], threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)
        return len(calls)

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(memo.get("k", 1.0, compute))) for _ in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join()
    assert calls == [1] and answers == [1] * 20
    now[0] += 0.5
    assert memo.get("k", 1.0, compute) == 1
    now[0] += 0.6
    assert memo.get("k", 1.0, compute) == 2
    assert memo.get("other", 1.0, lambda: "x") == "x"


def test_a_failed_computation_keeps_nothing_and_reaches_the_caller():
    memo = Memo()

    def boom():
        raise RuntimeError("database down")

    try:
        memo.get("k", 1.0, boom)
    except RuntimeError as err:
        assert str(err) == "database down"
    else:
        raise AssertionError("the error was swallowed")
    assert memo.get("k", 1.0, lambda: 7) == 7


def test_twenty_wall_displays_cost_one_agency_query(sqlite_services):
    services = sqlite_services
    statements = []

    @event.listens_for(services.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):
        if "GROUP BY reports.agency" in statement:
            statements.append(statement)

    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(wall.panels(services, ("id", "en")[i % 2])))
               for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20 and len(statements) == 1
