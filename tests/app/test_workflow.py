"""The one table of allowed status transitions."""
import pytest

from app.workflow import InvalidTransition, Status, TRANSITIONS, aggregate_state, check_transition


def test_the_happy_path_is_allowed():
    path = ["new", "verified", "dispatched", "in_progress", "resolved", "closed"]
    for current, wanted in zip(path, path[1:]):
        check_transition(Status(current), Status(wanted))


@pytest.mark.parametrize("current, wanted", [("new", "resolved"), ("closed", "verified"),
                                             ("rejected", "dispatched"), ("in_progress", "new")])
def test_illegal_moves_get_a_clear_error(current, wanted):
    with pytest.raises(InvalidTransition, match=f"cannot go from {current} to {wanted}; allowed:"):
        check_transition(Status(current), Status(wanted))


def test_reject_and_reopen_need_a_reason():
    with pytest.raises(InvalidTransition, match="needs a reason"):
        check_transition(Status.NEW, Status.REJECTED, "  ")
    check_transition(Status.CLOSED, Status.REOPENED, "masih banjir")


def test_every_status_has_transitions_and_an_aggregate_state():
    assert set(TRANSITIONS) == set(Status)
    assert {aggregate_state(s) for s in Status} == {"o", "r", "x"}
