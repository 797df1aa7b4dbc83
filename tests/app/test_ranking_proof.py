"""The supervisor's side of the officer's proof of work: a resolution whose proof was flagged counts as
unverified — not resolved in the public ranking (whose method text says so, in both languages) — and
the staff's performance figures show verified vs. flagged."""
from datetime import date, timedelta

from app import kinerja, public, ranking
from app.kinerja import data
from app.store import rollups
from tests.app.staff.conftest import as_user, seed, staff_app  # noqa: F401  fixtures
from tests.app.staff.test_staff_permissions import DISPATCHED_DLH, to_state
from tests.app.test_proof import offset, photo, resolve


def test_flagged_resolutions_count_as_unverified(services, as_user):
    rows = seed(services, count=12, categories=["garbage"])          # garbage goes to DLH
    officer = as_user("dlh1")
    at_site, far_away = rows[:3], rows[3:5]
    for n, row in enumerate(at_site):
        answer = resolve(officer, row, to_state(services, row, DISPATCHED_DLH), photo(200 + n), (row.lat, row.lng))
        assert answer.status_code == 200 and answer.get_json()["proof"]["flags"] == []
    for n, row in enumerate(far_away):
        answer = resolve(officer, row, to_state(services, row, DISPATCHED_DLH), photo(300 + n),
                         offset(row.lat, row.lng, 2000))
        assert answer.status_code == 200 and answer.get_json()["proof"]["flags"] == ["location_unverified"]

    reports = {r["id"]: r for r in ranking.window_reports(services.engine, services.preset.slug)}
    assert [reports[r.id]["unverified"] for r in at_site + far_away] == [False] * 3 + [True] * 2
    tally = ranking.tallies(list(reports.values()), "agency")["DLH"]
    figures = ranking.score(tally)
    # 12 received, 3 verified resolutions: the 2 flagged ones count as not resolved.
    assert (tally.received, tally.resolved_now, tally.unverified) == (12, 3, 2)
    assert figures["resolved_share"] == round(3 / 12, 3) and figures["unverified"] == 2

    board = public.ranking_of(services, "agency")
    dlh = next(row for row in board["ranked"] if row["code"] == "DLH")
    assert dlh["resolved_share"] == round(3 / 12, 3) and dlh["unverified"] == 2
    assert "hanya penyelesaian terverifikasi yang dihitung" in board["formula"]["id"]
    assert "only verified resolutions count" in board["formula"]["en"]

    # The staff's figures: verified vs flagged, and why.
    today = date.today()
    flt = kinerja.Filters(first=today - timedelta(days=2), last=today + timedelta(days=1))
    rollups.refresh_dirty(services.engine, services.preset.slug, services.preset.timezone)
    honesty = data.honesty(services.engine, services.preset.slug, flt)["agencies"]
    assert honesty["DLH"]["resolved"] == 5
    assert (honesty["DLH"]["verified"], honesty["DLH"]["flagged"]) == (3, 2)
    assert honesty["DLH"]["flag_location"] == 2 and honesty["DLH"]["self_filed"] == 0
