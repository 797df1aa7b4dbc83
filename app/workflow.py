"""Report statuses and the one table of allowed transitions.

Every status change in Pantau goes through ``check_transition``; nothing else
decides what may follow what.
"""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    NEW = "new"
    VERIFIED = "verified"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.VERIFIED, Status.REJECTED}),
    Status.VERIFIED: frozenset({Status.DISPATCHED, Status.REJECTED}),
    Status.DISPATCHED: frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.DISPATCHED}),
    Status.IN_PROGRESS: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.REOPENED}),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.REJECTED: frozenset({Status.REOPENED}),
    Status.REOPENED: frozenset({Status.VERIFIED, Status.DISPATCHED, Status.REJECTED}),
}

# The three states the live aggregates distinguish.
OPEN, RESOLVED, REJECTED = "o", "r", "x"
_AGG_STATE = {
    Status.RESOLVED: RESOLVED,
    Status.CLOSED: RESOLVED,
    Status.REJECTED: REJECTED,
}
# Statuses of a report still waiting for the city (the aggregates' "open"), in one fixed order:
# the dispatch queue's partial indexes and its queries must spell the list the same way.
OPEN_STATUSES = ("new", "verified", "dispatched", "in_progress", "reopened")
# The rest: resolved (the aggregates' RESOLVED) or rejected; Open311 calls all of them "closed".
RESOLVED_STATUSES = ("resolved", "closed")
CLOSED_STATUSES = (*RESOLVED_STATUSES, "rejected")
# Statuses an import may give a report it creates (historic records, replays).
IMPORTABLE = frozenset({Status.NEW, Status.RESOLVED, Status.CLOSED, Status.REJECTED})


class InvalidTransition(ValueError):
    def __init__(self, current: Status, wanted: Status, reason: str):
        super().__init__(reason)
        self.current, self.wanted = current, wanted


def parse_status(raw: str) -> Status:
    try:
        return Status(raw)
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise ValueError(f"unknown status {raw!r}; known statuses: {known}") from None


def check_transition(current: Status, wanted: Status, note: str | None = None) -> None:
    """Raise ``InvalidTransition`` unless ``current -> wanted`` is allowed."""
    if wanted not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing"
        raise InvalidTransition(current, wanted,
                                f"cannot go from {current.value} to {wanted.value}; allowed: {allowed}")
    if wanted in (Status.REJECTED, Status.REOPENED) and not (note and note.strip()):
        raise InvalidTransition(current, wanted, f"{wanted.value} needs a reason")


def aggregate_state(status: Status | str) -> str:
    """The live-aggregate state of a status: open, resolved or rejected."""
    return _AGG_STATE.get(Status(status), OPEN)
