"""The officer's task list (app.staff.tasks.task_page): only the agency's open tasks, deadline first,
counts per state in one pass, search, the overdue / mine / state filters and paging."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from app.auth.users import StaffUser
from app.staff import tasks
from app.staff.tasks import TaskFilter, task_page
from app.store import db
from tests.app.staff.conftest import seed
from tests.app.staff.test_staff_permissions import DISPATCHED_DLH, to_state

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)


def _prepared(services):
    rows = seed(services, count=10, categories=["garbage"])
    to_state(services, rows[0], DISPATCHED_DLH + [("in_progress", {})])
    for row in rows[1:7]:
        to_state(services, row, DISPATCHED_DLH)
    with services.engine.begin() as conn:      # deadlines: one late, the rest later, one none
        for i, row in enumerate(rows[:7]):
            due = None if i == 6 else NOW + timedelta(hours=(i - 1) * 5)
            conn.execute(update(db.reports).where(db.reports.c.id == row.id).values(sla_due_at=due))
    return rows


def test_task_list_counts_filters_and_order(services):
    rows = _prepared(services)
    officer = StaffUser("dlh1", "agency_officer", "DLH", services.preset.slug)
    other = StaffUser("dsda1", "agency_officer", "DSDA", services.preset.slug)
    page = task_page(services.engine, services.preset, officer, TaskFilter(), 0, NOW)
    assert page["total"] == 7 and page["pages"] == 1 and page["page"] == 0
    assert page["counts"] == {"dispatched": 6, "in_progress": 1, "reopened": 0, "verified": 0}
    assert page["overdue"] == 1
    # deadline first, the one without a deadline last
    assert [i["ticket"] for i in page["items"]] == [r.ticket for r in rows[:7]]
    assert page["items"][0]["remaining_s"] == -5 * 3600 and page["items"][-1]["remaining_s"] is None
    assert task_page(services.engine, services.preset, other, TaskFilter(), 0, NOW)["total"] == 0

    late = task_page(services.engine, services.preset, officer, TaskFilter(overdue=True), 0, NOW)
    assert [i["ticket"] for i in late["items"]] == [rows[0].ticket]
    started = task_page(services.engine, services.preset, officer, TaskFilter(state="in_progress"), 0, NOW)
    assert started["total"] == 1 and started["counts"]["dispatched"] == 6      # counts before the state filter
    found = task_page(services.engine, services.preset, officer, TaskFilter(search=rows[3].ticket.lower()), 0, NOW)
    assert [i["ticket"] for i in found["items"]] == [rows[3].ticket]
    assert task_page(services.engine, services.preset, officer, TaskFilter(mine=True), 0, NOW)["total"] == 0


def test_task_list_pages(services, monkeypatch):
    rows = _prepared(services)
    officer = StaffUser("dlh1", "agency_officer", "DLH", services.preset.slug)
    monkeypatch.setattr(tasks, "PAGE_SIZE", 3)
    seen = []
    for n in range(3):
        page = task_page(services.engine, services.preset, officer, TaskFilter(), n, NOW)
        assert page["pages"] == 3 and page["page"] == n
        seen += [i["ticket"] for i in page["items"]]
    assert seen == [r.ticket for r in rows[:7]]
    assert task_page(services.engine, services.preset, officer, TaskFilter(), 99, NOW)["page"] == 2   # clamped
