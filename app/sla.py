"""Service-level deadlines: verification, first response and resolution, per category and priority,
counted in the city's time zone over working days and hours.

Defaults follow Indonesia's national complaint service (SP4N-LAPOR!): verification within 3 working
days, the agency's follow-up within 5 working days. Resolution uses the category's hours from the
catalogue (calendar hours: a fire or a flood does not wait for Monday), scaled by priority.
Pure functions: times in and out are UTC-aware datetimes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from config.catalogue import BY_CODE

OPEN_STAGES = {"new": "verification", "reopened": "verification", "verified": "response",
               "dispatched": "response", "in_progress": "resolution"}
DUE_SOON = timedelta(hours=4)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days (Mon=0) and hours in the city's zone, plus public holidays."""
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    start: time = time(8, 0)
    end: time = time(16, 0)
    holidays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays


@dataclass(frozen=True)
class Policy:
    verification_working_days: int = 3
    response_working_days: int = 5
    priority_factor: dict = field(default_factory=lambda: {"urgent": 0.25, "high": 0.5, "normal": 1.0,
                                                           "low": 1.5})
    # category code -> (verification days, response days) where a category needs faster handling
    category_working_days: dict = field(default_factory=lambda: {"fire": (0, 0), "flood": (1, 1),
                                                                 "fallen_tree": (1, 1),
                                                                 "traffic_jam": (0, 0)})
    calendar: WorkCalendar = WorkCalendar()


DEFAULT_POLICY = Policy()


def add_working_days(start: datetime, days: int, tz_name: str, calendar: WorkCalendar = WorkCalendar()
                     ) -> datetime:
    """The end of working time on the ``days``-th working day after ``start`` (0: same-day close,
    or the next working day's close when ``start`` is after hours or on a day off)."""
    local = start.astimezone(ZoneInfo(tz_name))
    day = local.date()
    if not calendar.is_working_day(day) or local.time() >= calendar.end:
        day += timedelta(days=1)
        while not calendar.is_working_day(day):
            day += timedelta(days=1)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return datetime.combine(day, calendar.end, ZoneInfo(tz_name)).astimezone(timezone.utc)


def resolution_due(category: str, priority: str, created_at: datetime,
                   policy: Policy = DEFAULT_POLICY) -> datetime:
    """The resolution deadline promised to the citizen (``reports.sla_due_at``): the category's
    hours scaled by the priority. The one place it is computed: at intake (``app.reports``) and on
    every priority change (``app.followup.change_report``)."""
    hours = BY_CODE[category].sla_hours if category in BY_CODE else 168
    return created_at + timedelta(hours=hours * policy.priority_factor.get(priority, 1.0))


def deadlines(category: str, priority: str, created_at: datetime, preset,
              policy: Policy = DEFAULT_POLICY) -> dict[str, datetime]:
    """verification, response and resolution deadlines of one report."""
    verify_days, respond_days = policy.category_working_days.get(
        category, (policy.verification_working_days, policy.response_working_days))
    resolution = resolution_due(category, priority, created_at, policy)
    verification = add_working_days(created_at, verify_days, preset.timezone, policy.calendar)
    response = add_working_days(created_at, respond_days, preset.timezone, policy.calendar)
    return {"verification": min(verification, resolution), "response": min(response, resolution),
            "resolution": resolution}


def assess(row, preset, now: datetime, policy: Policy = DEFAULT_POLICY) -> dict:
    """SLA view of one report row: the stage it waits in, ``expected_datetime`` (the resolution
    deadline promised to the citizen), the stage deadline, ``overdue`` and a traffic-light state."""
    due = deadlines(row.category, row.priority, row.created_at, preset, policy)
    expected = row.sla_due_at or due["resolution"]
    stage = OPEN_STAGES.get(row.status)
    if stage is None:
        done_late = bool(row.resolved_at and row.resolved_at > expected)
        return {"stage": None, "stage_due": None, "expected_datetime": expected, "overdue": False,
                "state": "done", "resolved_late": done_late, "remaining_s": None}
    stage_due = expected if stage == "resolution" else min(due[stage], expected)
    breached = [name for name, at in (("stage", stage_due), ("resolution", expected)) if now > at]
    remaining = (min(stage_due, expected) - now).total_seconds()
    state = "breached" if breached else "due_soon" if remaining <= DUE_SOON.total_seconds() else "ok"
    return {"stage": stage, "stage_due": stage_due, "expected_datetime": expected, "overdue": bool(breached),
            "state": state, "remaining_s": int(remaining)}


def countdown(remaining_s: int | None) -> str:
    """'2d 4h', '3h 10m', '-1d 2h' (overdue) for a badge."""
    if remaining_s is None:
        return ""
    sign, left = ("-" if remaining_s < 0 else ""), abs(int(remaining_s))
    days, rest = divmod(left, 86400)
    hours, minutes = rest // 3600, (rest % 3600) // 60
    return f"{sign}{days}d {hours}h" if days else f"{sign}{hours}h {minutes}m"
