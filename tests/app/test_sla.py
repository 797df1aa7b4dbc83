"""SLA deadlines in the city's zone over working days, and the overdue view of a report."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from app import sla
from app.staff import service
from config.cities import PRESETS

JAKARTA = PRESETS["jakarta"]        # WIB, UTC+7
KUPANG = PRESETS["kupang"]          # WITA, UTC+8


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_working_days_skip_the_weekend_in_the_city_zone():
    # Thursday 2026-11-26 10:00 WIB (03:00 UTC) + 3 working days -> Tuesday 16:00 WIB
    assert sla.add_working_days(utc(2026, 11, 26, 3), 3, JAKARTA.timezone) == utc(2026, 12, 1, 9)
    # the same instant is Thursday 11:00 WITA: Tuesday 16:00 WITA is an hour earlier in UTC
    assert sla.add_working_days(utc(2026, 11, 26, 3), 3, KUPANG.timezone) == utc(2026, 12, 1, 8)
    # filed Saturday: counting starts Monday
    assert sla.add_working_days(utc(2026, 11, 28, 3), 0, JAKARTA.timezone) == utc(2026, 11, 30, 9)
    # filed Friday after hours (17:00 WIB): Monday is day 0, +5 -> next Monday 16:00
    assert sla.add_working_days(utc(2026, 11, 27, 10), 5, JAKARTA.timezone) == utc(2026, 12, 7, 9)
    holiday = sla.WorkCalendar(holidays=frozenset({datetime(2026, 11, 30).date()}))
    assert sla.add_working_days(utc(2026, 11, 26, 3), 3, JAKARTA.timezone, holiday) == utc(2026, 12, 2, 9)


def test_defaults_verification_3_and_follow_up_5_working_days_resolution_by_priority():
    created = utc(2026, 11, 26, 3)
    due = sla.deadlines("agri_seeds", "normal", created, JAKARTA)
    assert due["verification"] == utc(2026, 12, 1, 9)
    assert due["response"] == utc(2026, 12, 3, 9)
    assert due["resolution"] == created + timedelta(hours=336)
    # a stage deadline never lies beyond the resolution deadline
    assert sla.deadlines("road_damage", "normal", created, JAKARTA)["response"] == created + timedelta(hours=168)
    assert sla.deadlines("road_damage", "urgent", created, JAKARTA)["resolution"] == created + timedelta(hours=42)
    fire = sla.deadlines("fire", "normal", created, JAKARTA)
    assert fire["resolution"] == created + timedelta(hours=2) and fire["verification"] <= fire["resolution"]


def test_assess_gives_expected_datetime_overdue_and_colour_state():
    created = utc(2026, 11, 26, 3)
    row = SimpleNamespace(category="road_damage", priority="normal", created_at=created, status="new",
                          sla_due_at=created + timedelta(hours=168), resolved_at=None)
    fresh = sla.assess(row, JAKARTA, created + timedelta(hours=1))
    assert fresh["state"] == "ok" and not fresh["overdue"] and fresh["stage"] == "verification"
    assert fresh["expected_datetime"] == row.sla_due_at
    late = sla.assess(row, JAKARTA, utc(2026, 12, 1, 10))     # verification deadline passed
    assert late["overdue"] and late["state"] == "breached" and late["remaining_s"] < 0
    soon = sla.assess(row, JAKARTA, utc(2026, 12, 1, 7))
    assert soon["state"] == "due_soon"
    done = sla.assess(SimpleNamespace(**{**vars(row), "status": "resolved",
                                         "resolved_at": created + timedelta(days=1)}), JAKARTA, utc(2027, 1, 1))
    assert done["state"] == "done" and not done["overdue"] and not done["resolved_late"]
    assert sla.countdown(-93600) == "-1d 2h" and sla.countdown(3660) == "1h 1m"


def test_escalation_list_holds_overdue_open_reports(services):
    from tests.app.staff.conftest import seed

    rows = seed(services, count=6, categories=["road_damage"])
    now = max(r.created_at for r in rows) + timedelta(days=30)
    listed = service.escalations(services.engine, services.preset, now)
    assert {item["id"] for item in listed} == {r.id for r in rows}
    assert all(item["overdue_s"] > 0 for item in listed)
    assert service.escalations(services.engine, services.preset, min(r.created_at for r in rows)) == []


def test_intake_and_a_priority_change_share_one_resolution_deadline(sqlite_services):
    """The deadline a report is filed with is the one ``resolution_due`` gives (priority factor
    included), the same function a later priority change uses."""
    from tests.helpers import raw_reports

    raw = raw_reports(1, seed=3)[0]
    raw.category, raw.priority = "road_damage", "urgent"
    report = sqlite_services.producer.validate(raw)
    assert report.sla_due_at == report.created_at + timedelta(hours=42)
    assert report.sla_due_at == sla.resolution_due("road_damage", "urgent", report.created_at)
