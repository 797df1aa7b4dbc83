"""Item 15: a stranger with a 600-a-minute key sends 1,200 POSTs in 8 s across a minute's edge,
hoping a fixed one-minute window lets both halves through. What they get: the intake's limiter
is a sliding window: no 60 s span ever holds more than the limit, and Retry-After says when the
oldest counted requests leave the window."""
import pytest

from app.open311 import api_keys, intake
from tests.app.open311.conftest import post_form


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_1200_requests_in_8_s_across_a_minute_edge_let_600_through(services):
    clock = Clock(1_800_000_056.0)          # 4 s before a minute's edge
    gate = intake.Intake(services, clock=clock)
    accepted = []
    for i in range(1200):
        clock.now = 1_800_000_056.0 + i * 8 / 1200
        try:
            gate.gate("198.51.100.7", "key-1", 600)
            accepted.append(clock.now)
        except intake.IntakeRefused as refused:
            assert refused.status == 429 and refused.scope == "key" and refused.retry_after >= 1
    assert len(accepted) == 600
    # Any 60 s span, at any later moment, holds at most 600.
    for moment in (1_800_000_100.0, 1_800_000_115.0, 1_800_000_117.0):
        clock.now = moment
        with pytest.raises(intake.IntakeRefused):
            gate.gate("198.51.100.7", "key-1", 600)
    clock.now = accepted[0] + 65     # the oldest bucket has left: the key may send again
    gate.gate("198.51.100.7", "key-1", 600)


def test_open311_posts_across_the_edge_and_retry_after(services):
    from app.factory import create_app

    app = create_app(services.settings, services)
    app.config["TESTING"] = True
    clock = Clock(1_800_000_059.5)
    app.extensions["pantau_intake"] = intake.Intake(services, clock=clock)
    app.extensions["pantau_key_cache"] = api_keys.KeyCache(services.engine)
    _, secret = api_keys.create_key(services.engine, "tiny", rate_per_minute=10)
    client = app.test_client()
    assert [post_form(client, secret).status_code for _ in range(10)] == [201] * 10
    clock.now = 1_800_000_060.5       # a new fixed window would have started here
    refused = post_form(client, secret)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 55 <= wait <= 65, wait
    clock.now += wait - 2
    assert post_form(client, secret).status_code == 429
    clock.now += 3
    assert post_form(client, secret).status_code == 201


def test_the_same_gate_limits_the_form_per_address_over_any_window(services):
    clock = Clock(1_800_000_000.0)
    gate = intake.RateGate(services.redis, services.keys, clock=clock)
    for i in range(3):
        gate.hit("support-report", "203.0.113.9|r1", 3, window_s=24 * 3600)
        clock.now += 3600
    with pytest.raises(intake.IntakeRefused) as err:
        gate.hit("support-report", "203.0.113.9|r1", 3, window_s=24 * 3600)
    assert err.value.retry_after > 18 * 3600
    gate.hit("support-report", "203.0.113.9|r2", 3, window_s=24 * 3600)    # another subject is apart
    clock.now += 24 * 3600
    gate.hit("support-report", "203.0.113.9|r1", 3, window_s=24 * 3600)
