"""The public figures behind the kiosk, as a citizen reading them would check: the ranking cannot
be gamed by closing fast and badly, small areas are not ranked, and no sensitive count below k
shows anywhere."""
from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

from app import feedback, privacy, public, ranking, reporter_secret
from app.followup import change_status
from app.staff.actions import report_actions
from ingest.sources import RawReport
from tests.helpers import drain

# Two well-separated points inside mainland Jakarta (different kelurahan and res-6 cells).
CENTRAL = (-6.1754, 106.8272)
SOUTH = (-6.3019, 106.8950)
EAST = (-6.2088, 106.8456)


SECRETS: dict[str, str] = {}


def submit(services, category, point, count, created_at, seed=0, jitter=0.002, description="report {i}",
           **contact):
    rng = random.Random(seed)
    reports = []
    for i in range(count):
        raw = RawReport(category=category, lat=point[0] + rng.uniform(-jitter, jitter),
                        lng=point[1] + rng.uniform(-jitter, jitter), description=description.format(i=i),
                        created_at=created_at, source="test", source_ref=f"{category}-{seed}-{i}-{uuid.uuid4().hex[:6]}",
                        **contact)
        # Filed as the form does, with the reporter's secret (the feedback below needs it).
        secret, report = reporter_secret.issue(services.settings.resolved_secret_key(), services.producer.validate(raw))
        SECRETS[report.id] = secret
        reports.append(services.producer.append(report))
    return reports


def resolve(services, report, at, after_photo: bool = False):
    """Verify, dispatch and resolve a report; the resolution at ``at``, optionally with an after photo."""
    for status, moment in (("verified", report.created_at + timedelta(minutes=1)),
                           ("dispatched", report.created_at + timedelta(minutes=2)), ("resolved", at)):
        change = change_status(services.engine, services.producer, report.id, status, "supervisor:test", now=moment)
    if after_photo:
        with services.engine.begin() as conn:
            conn.execute(report_actions.insert().values(
                action_id=change["event_id"], report_id=report.id, event_id=change["event_id"], action="resolve",
                actor="officer:test", version=change["version"],
                detail=json.dumps({"after_photo": uuid.uuid4().hex + ".jpg"}), occurred_at=at))
    return change


def test_fast_but_bad_agency_ranks_below_slow_good_one_and_small_areas_are_not_ranked(sqlite_services):
    services = sqlite_services
    created = datetime.now(timezone.utc) - timedelta(days=5)
    # Garbage goes to the environment agency (DLH), road damage to the highways agency (BINAMARGA).
    fast = submit(services, "garbage", CENTRAL, 14, created, seed=1)
    slow = submit(services, "road_damage", SOUTH, 14, created, seed=2)
    few = submit(services, "road_damage", EAST, 3, created, seed=3)
    drain(services)
    assert {r.agency for r in fast} == {"DLH"} and {r.agency for r in slow + few} == {"BINAMARGA"}

    for i, report in enumerate(fast):        # closed in 30 minutes, no photo...
        resolve(services, report, created + timedelta(minutes=30))
        if i < 9:                            # ...and most of them disputed by the citizen
            feedback.dispute(services.engine, services.producer, report.ticket, "masih rusak",
                             secret=SECRETS[report.id], city="jakarta", now=created + timedelta(hours=2))
        else:
            feedback.rate(services.engine, services.producer, report.ticket, 1, secret=SECRETS[report.id], city="jakarta", now=created + timedelta(hours=2))
    for report in slow + few:                # fixed in three days, with an after photo, well rated
        resolve(services, report, created + timedelta(days=3), after_photo=True)
        feedback.rate(services.engine, services.producer, report.ticket, 5, secret=SECRETS[report.id], city="jakarta", now=created + timedelta(days=3, hours=1))
    drain(services)

    board = public.ranking_of(services, "agency")
    by_code = {row["code"]: row for row in board["ranked"]}
    assert by_code["BINAMARGA"]["rank"] < by_code["DLH"]["rank"]
    assert by_code["DLH"]["median_hours"] < by_code["BINAMARGA"]["median_hours"]   # DLH really was faster
    assert by_code["DLH"]["reopened_share"] > 0.5 and by_code["BINAMARGA"]["photo_share"] == 1.0
    # Agencies with fewer than the minimum (every other one here) are listed without figures.
    assert {"code": "DINKES", "name": {"id": "Dinas Kesehatan", "en": "Health Agency"}} not in board["ranked"]
    assert all(set(row) == {"code", "name"} for row in board["not_ranked"])
    assert board["formula"]["en"].startswith("score = 100 × resolved share × (speed + rating")

    if services.areas.has_areas:
        kelurahan = public.ranking_of(services, "kelurahan")
        ranked = {row["code"] for row in kelurahan["ranked"]}
        unranked = {row["code"] for row in kelurahan["not_ranked"]}
        assert few[0].kelurahan_code in unranked and few[0].kelurahan_code not in ranked
        assert slow[0].kelurahan_code in ranked
        assert all(row["reports"] >= kelurahan["min_reports"] for row in kelurahan["ranked"])


def test_rank_is_pure_and_speed_alone_does_not_win():
    fast_bad, slow_good = ranking.Tally(), ranking.Tally()
    for _ in range(20):
        fast_bad.add({"status": "closed", "hours_to_resolve": 0.5, "reopened": 1, "after_photo": False,
                      "ratings": [1]})
        slow_good.add({"status": "closed", "hours_to_resolve": 96.0, "reopened": 0, "after_photo": True,
                       "ratings": [4]})
    small = ranking.Tally()
    small.add({"status": "closed", "hours_to_resolve": 1.0, "reopened": 0, "after_photo": True, "ratings": [5]})
    ranked, unranked = ranking.rank({"fast": fast_bad, "slow": slow_good, "small": small}, min_reports=10)
    assert [row["key"] for row in ranked] == ["slow", "fast"] and unranked == ["small"]


def sensitive_counts(payload) -> list[int]:
    """Every count the public figures give for a sensitive category (hexes and summaries)."""
    found = []
    for cell_counts in payload["hexes"]["sensitive"]["cells"].values():
        found += list(cell_counts.values())
    for window_name in public.COUNT_WINDOWS:
        for code, figures in payload["summary"][window_name]["by_category"].items():
            if privacy.is_sensitive(code):
                found += [n for n in figures.values() if n is not None]
    return found


def test_no_sensitive_count_from_one_to_k_minus_one(sqlite_services):
    services = sqlite_services
    k = services.settings.public_k
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    submit(services, "health", CENTRAL, k - 2, now, seed=4)          # too few: must not show
    submit(services, "social_aid", SOUTH, k + 2, now, seed=5)        # enough: shows at res 6
    submit(services, "public_order", EAST, 1, now, seed=6)
    submit(services, "garbage", CENTRAL, 6, now, seed=7)
    drain(services)

    payload = {"hexes": public.hexes(services, "today"), "summary": public.summary(services)}
    counts = sensitive_counts(payload)
    assert counts and not [n for n in counts if 1 <= n < k]
    assert payload["summary"]["today"]["by_category"]["health"]["received"] is None
    assert payload["summary"]["today"]["by_category"]["social_aid"]["received"] == k + 2
    for cell in payload["hexes"]["sensitive"]["cells"]:
        assert public.h3.get_resolution(cell) <= 6
    # Area figures leave sensitive categories out entirely; agencies with fewer than k show nothing.
    for level in ("kelurahan", "kecamatan"):
        data = public.ranking_of(services, level)
        assert not [row for row in data["ranked"] if row["reports"] < k]
    agencies = {row["code"]: row for row in public.agencies(services)["agencies"]}
    assert agencies["DINKES"]["reports"] is None and agencies["SATPOLPP"]["reports"] is None
    assert agencies["DINSOS"]["reports"] == k + 2
