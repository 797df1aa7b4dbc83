"""The wall's time-lapse: the last 24 hours replayed on the hex map, then back to live.

Reports are created at known moments of the last day (and a day before that), counted by
the real aggregator and persisted by the real persister; ``/wall/api/timelapse`` must return
exactly those counts in five-minute frames, and headless Chromium must play them at many
times real speed, showing the replayed clock, and come back to the live counts.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import h3
import pytest
from sqlalchemy import func, select

from app import hexagg, queries
from app.factory import create_app
from app.followup import change_status
from app.store import db
from ingest.sources import RawReport
from tests.helpers import drain, wall_client, wall_url
from tests.layouts.test_wall import hexstate, report_at, running_consumers

STEP = 300            # one frame: five minutes
FRAMES = 24 * 12      # the last 24 hours
HOUR = 3600

# Points well inside mainland Jakarta, in different res-8 cells.
MONAS, SUDIRMAN, KEBAYORAN, TANJUNG_PRIOK = (-6.1754, 106.8272), (-6.2088, 106.8456), \
    (-6.2615, 106.7810), (-6.1352, 106.8133)
CAKUNG, KEMBANGAN, CIPAYUNG, KELAPA_GADING = (-6.1500, 106.9000), (-6.1862, 106.7345), \
    (-6.3019, 106.8950), (-6.1600, 106.9050)

# What a report carries about its maker and content: none of it may leave in the replay's frames.
PERSONAL = ("Budi", "Santoso", "+62", "812 1111", "laporan", "reporter", "phone", "description", "test")


def raw_at(point, seconds_ago: float, ref: str, now: datetime, category="flood", status=None):
    lat, lng = point
    return RawReport(category=category, lat=lat, lng=lng, description=f"laporan {ref}",
                     created_at=now - timedelta(seconds=seconds_ago), source="test", source_ref=ref,
                     reporter_name="Budi Santoso", reporter_phone="+62 812 1111 2222", status=status)


def expected_frames(reports, res: int, start: int, frames: int = FRAMES) -> list[dict[str, int]]:
    """The frames computed from the reports themselves: creation time -> 5-minute bucket -> cell."""
    out = [Counter() for _ in range(frames)]
    for report in reports:
        ts = int(report.created_at.timestamp())
        if start <= ts < start + frames * STEP:
            out[(ts - start) // STEP][h3.cell_to_parent(report.h3_cell, res)] += 1
    return [dict(frame) for frame in out]


def fetch_timelapse(client, query=""):
    """One answer, and the bucket it must end on (asked again if a bucket ended during the call)."""
    for _attempt in range(3):
        before = time.time()
        answer = client.get(f"/wall/api/timelapse{query}")
        after = time.time()
        if int(before // STEP) == int(after // STEP):
            return answer, int(before // STEP)
    raise AssertionError("three five-minute boundaries in a row: the clock is not sane")


# -- the JSON endpoint ---------------------------------------------------------------------------
def test_timelapse_api_counts_the_last_24_hours_in_five_minute_frames(services):
    now = datetime.now(timezone.utc)
    inside = [  # (point, seconds ago): spread over the day, away from the 24-hour edge
        (MONAS, 23 * HOUR + 40 * 60), (MONAS, 23 * HOUR + 38 * 60), (SUDIRMAN, 18 * HOUR),
        (SUDIRMAN, 12 * HOUR), (SUDIRMAN, 12 * HOUR - 30), (KEBAYORAN, 12 * HOUR - 60),
        (TANJUNG_PRIOK, 6 * HOUR + 30 * 60), (CAKUNG, 2 * HOUR), (KEMBANGAN, 45 * 60), (MONAS, 4 * 60)]
    older = [(CIPAYUNG, 24 * HOUR + 20 * 60), (CIPAYUNG, 30 * HOUR), (KELAPA_GADING, 47 * HOUR)]
    raws = [raw_at(p, ago, f"tl-in-{i}", now) for i, (p, ago) in enumerate(inside)]
    raws.append(raw_at(KELAPA_GADING, 5 * HOUR, "tl-in-resolved", now, category="garbage", status="resolved"))
    raws += [raw_at(p, ago, f"tl-old-{i}", now) for i, (p, ago) in enumerate(older)]
    reports = [services.producer.submit(raw) for raw in raws]
    drain(services)
    # what arrived counts, whatever happened to it since: a rejected report stays in its frame
    change_status(services.engine, services.producer, reports[3].id, "rejected", actor="test", note="ganda")
    drain(services)

    # The old reports are still in Redis (five-minute buckets are kept for two days): the
    # endpoint leaves them out because they are older than its 24 hours, not because they are gone.
    old_bucket = int(reports[-2].created_at.timestamp()) // STEP
    assert services.redis.hgetall(services.keys.hex_counts("m5", 8, old_bucket))

    client = wall_client(create_app(services.settings, services))
    for res in (6, 8, 10, None):
        answer, last = fetch_timelapse(client, "" if res is None else f"?res={res}")
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        body = answer.get_json()
        res = res or 8  # the default
        assert set(body) == {"start", "step", "now", "res", "frames"}
        assert body["res"] == res and body["step"] == STEP
        assert body["start"] == (last - FRAMES + 1) * STEP
        assert last * STEP <= body["now"] < (last + 1) * STEP
        assert len(body["frames"]) == FRAMES
        assert body["frames"] == expected_frames(reports, res, body["start"])
        # exactly the reports of the last day, each once, in the frame of its creation time
        assert sum(sum(f.values()) for f in body["frames"]) == len(inside) + 1
        assert {i for i, f in enumerate(body["frames"]) if f} == {
            (int(r.created_at.timestamp()) - body["start"]) // STEP for r in reports[:len(inside) + 1]}
        # the resolved and the rejected reports are counted where they arrived
        rejected = h3.cell_to_parent(reports[3].h3_cell, res)
        assert body["frames"][(int(reports[3].created_at.timestamp()) - body["start"]) // STEP][rejected] >= 1
        # cells and counts only
        for frame in body["frames"]:
            for cell, count in frame.items():
                assert h3.is_valid_cell(cell) and h3.get_resolution(cell) == res
                assert isinstance(count, int) and count > 0
        text = answer.get_data(as_text=True)
        for secret in PERSONAL + tuple(r.id for r in reports) + tuple(r.ticket for r in reports):
            assert secret not in text

    # The same count straight from SQL (what the persister wrote): reports created in the frames.
    with services.engine.connect() as conn:
        r = db.reports.c
        in_sql = conn.scalar(select(func.count()).select_from(db.reports).where(
            r.city == services.preset.slug,
            r.created_at >= datetime.fromtimestamp(body["start"], timezone.utc),
            r.created_at < datetime.fromtimestamp(body["start"] + FRAMES * STEP, timezone.utc)))
    assert in_sql == sum(sum(f.values()) for f in body["frames"]) == len(inside) + 1


def test_timelapse_api_with_nothing_to_replay(services):
    client = wall_client(create_app(services.settings, services))
    answer, last = fetch_timelapse(client, "?res=7")
    body = answer.get_json()
    assert answer.status_code == 200 and body["res"] == 7
    assert body["frames"] == [{}] * FRAMES and body["start"] == (last - FRAMES + 1) * STEP


# -- on the wall ---------------------------------------------------------------------------------
@pytest.fixture
def wall_app(live_app):
    """The live app; its push relay stopped before the app's Redis and database close."""
    yield live_app
    live_app.extensions["pantau_live"].stop()
    live_app.extensions["pantau_socket_watch"].stop()


# Installed before the page's own scripts: one record per change of what the wall shows (the
# replayed clock, the view label, the hex counts), timed with the page's own clock. Each replay
# frame is one timer task, and observers run between tasks, so every frame gets its record.
RECORDER = """
window.__wall = [];
(function () {
  var last = null;
  function record() {
    var s = document.getElementById('wall-hexstate'), l = document.getElementById('wall-view-label');
    var W = window.pantauWall, S = W && W.state ? W.state() : null;
    if (!s || !S) return;
    var rec = {tl: s.getAttribute('data-timelapse'), frame: s.getAttribute('data-replay-frame'),
               replay: s.getAttribute('data-replay'),
               view: s.getAttribute('data-view'), seq: Number(s.getAttribute('data-seq')),
               label: l ? l.textContent : null, counts: Object.assign({}, S.counts)};
    var key = JSON.stringify(rec);
    if (key === last) return;
    last = key; rec.t = performance.now();
    window.__wall.push(rec);
  }
  new MutationObserver(record).observe(document, {subtree: true, childList: true, attributes: true,
                                                  characterData: true});
})();
"""


def test_the_wall_replays_the_last_day_fast_and_comes_back_live(wall_app, browser, artifacts_dir):
    services, res = wall_app.extensions["pantau"], 8
    tz = ZoneInfo(services.preset.timezone)
    now = datetime.now(timezone.utc)
    seeded = [  # (point, seconds ago): three clusters at different hours, one spread over half an hour
        (MONAS, 20 * HOUR), (MONAS, 20 * HOUR - 40), (MONAS, 20 * HOUR - 80),
        (SUDIRMAN, 12 * HOUR), (SUDIRMAN, 12 * HOUR - 600), (SUDIRMAN, 12 * HOUR - 1200),
        (SUDIRMAN, 12 * HOUR - 1800), (KEBAYORAN, 3 * HOUR), (KEBAYORAN, 3 * HOUR - 60),
        (MONAS, 3 * HOUR - 300), (TANJUNG_PRIOK, 40 * 60)]
    older = [(CIPAYUNG, 30 * HOUR)] * 4  # a day and more ago: never in the replay
    reports = [services.producer.submit(raw_at(p, ago, f"wall-tl-{i}", now))
               for i, (p, ago) in enumerate(seeded + older)]
    drain(services)

    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.add_init_script(RECORDER)
    # A rotating wall (every 20 s): the rotation tick that falls inside the replay must wait for it.
    page.goto(wall_url(wall_app, f"?timelapse=1&res={res}&lang=en&rotate=20"))
    live_label = "Reports · today"
    with running_consumers(services):
        page.wait_for_function("() => document.getElementById('wall-hexstate')"
                               " && document.getElementById('wall-hexstate').dataset.replay", timeout=15000)
        started = time.monotonic()
        assert page.inner_text("#wall-view-label").startswith("▶ Replay · ")
        # A report arrives while the replay plays: the replay does not show it, the live wall must.
        page.wait_for_timeout(3000)
        during = services.producer.submit(report_at(*KEMBANGAN, "during-replay"))
        page.wait_for_function(f"() => document.querySelector('#wall-ticker .wall-tick').dataset.cell9"
                               f" === '{during.public_summary()['cell9']}'", timeout=3000)
        assert hexstate(page)["data-timelapse"] == "1"  # the delta reached the page during the replay
        page.screenshot(path=str(artifacts_dir / "wall-timelapse.png"))
        # The ticker's ages read from across the room: minutes, then hours, never "1800 min ago".
        whens = page.eval_on_selector_all("#wall-ticker .wall-tick-when", "els => els.map(e => e.textContent)")
        assert {"just now", "40 min ago", "30 h ago"} <= set(whens), whens
        assert not [w for w in whens if w.endswith("min ago") and int(w.split()[0]) >= 90], whens
        page.wait_for_function("() => document.getElementById('wall-hexstate').dataset.timelapse === '0'",
                               timeout=60000)
        replay_s = time.monotonic() - started
        # Back to live: the view, its label, and the counts of today with the report of the replay.
        page.wait_for_function(f"() => pantauWall.countAt({KEMBANGAN[0]}, {KEMBANGAN[1]}) === 1", timeout=3000)
        state = hexstate(page)
        assert state["data-view"] == "reports:today" and state["data-replay"] == ""
        assert page.inner_text("#wall-view-label") == live_label
        live_counts = queries.hex_counts(services.redis, services.preset, res, "today")
        assert page.evaluate("() => pantauWall.state().counts") == live_counts
        assert int(state["data-total"]) == sum(live_counts.values())
        # ...and it stays live: a report after the replay is on the map within two seconds.
        after = time.monotonic()
        services.producer.submit(report_at(*CAKUNG, "after-replay"))
        page.wait_for_function(f"() => pantauWall.countAt({CAKUNG[0]}, {CAKUNG[1]}) === 1", timeout=2000)
        print(f"replay of 24 h in {replay_s:.1f} s; live again, a new report on the map "
              f"{(time.monotonic() - after) * 1000:.0f} ms after it was accepted")
    records = page.evaluate("() => window.__wall")

    # -- what the replay showed ---------------------------------------------------------------------
    replay = [r for r in records if r["tl"] == "1"]
    by_frame: dict[int, list] = {}
    for record in replay:
        if record["frame"]:
            by_frame.setdefault(int(record["frame"]), []).append(record)
    # every frame shown, in order; a frame may have several records (a live tick changed data-seq
    # meanwhile), never two pictures or two clocks
    assert list(by_frame) == list(range(FRAMES))
    assert all(len({json.dumps([r["counts"], r["replay"], r["label"]], sort_keys=True) for r in same}) == 1
               for same in by_frame.values())
    frames = [same[0] for same in by_frame.values()]
    clocks = [int(r["replay"]) for r in frames]
    start = clocks[0] - STEP
    assert start % STEP == 0 and clocks[:-1] == [start + (i + 1) * STEP for i in range(FRAMES - 1)]
    # the last frame's clock: the moment the replay was asked for, not the end of its five minutes
    assert clocks[-2] <= clocks[-1] <= start + FRAMES * STEP and clocks[-1] >= time.time() - 600
    seeded_reports = reports[:len(seeded)]
    for record, clock in zip(frames, clocks):
        # the replayed clock on screen, in the city's time
        # ... with its day: "yesterday 16:15" / "today 03:05"
        moment = datetime.fromtimestamp(clock, tz)
        day = "today" if moment.date() == datetime.now(tz).date() else "yesterday"
        assert record["label"] == f"▶ Replay · {day} {moment:%H:%M}"
        assert record["view"] == "reports:60m"
        # each picture: the reports created in the hour up to its clock (from the replay's start)
        end = -(-clock // STEP) * STEP
        shown = Counter(h3.cell_to_parent(r.h3_cell, res) for r in seeded_reports
                        if max(start, end - HOUR) <= r.created_at.timestamp() < end)
        assert record["counts"] == dict(shown), datetime.fromtimestamp(clock, tz)
    pictures = {json.dumps(r["counts"], sort_keys=True) for r in frames}
    assert len(pictures) >= 6  # the hex layer changes as the day goes by
    old_cell = h3.cell_to_parent(reports[-1].h3_cell, res)
    assert all(old_cell not in r["counts"] for r in frames)
    # nothing else took the screen during the replay (the rotation tick at 20 s waited for it)
    assert all(r["label"].startswith("▶ Replay") and r["view"] == "reports:60m" for r in replay if r["replay"])
    assert any(r["seq"] > replay[0]["seq"] for r in replay)  # live deltas arrived during the replay

    # -- how fast ------------------------------------------------------------------------------------
    played_ms = frames[-1]["t"] - frames[0]["t"]
    whole_ms = next(r["t"] for r in records if r["tl"] == "0" and r["t"] > replay[0]["t"]) - replay[0]["t"]
    speed = (FRAMES - 1) * STEP * 1000 / played_ms
    print(f"24 h replayed in {whole_ms / 1000:.1f} s (frames {played_ms / (FRAMES - 1):.0f} ms apart): "
          f"{speed:,.0f}x real time")
    assert speed >= 60
    assert whole_ms < 60_000 and replay_s < 60  # a wall's pace: the day in under a minute

    # -- the button replays again ---------------------------------------------------------------------
    page.mouse.move(300, 300)  # the controls show while someone moves the pointer
    page.wait_for_timeout(350)
    page.click("#wall-timelapse")
    page.wait_for_function("() => document.getElementById('wall-hexstate').dataset.replay"
                           " && document.getElementById('wall-view-label').innerText.startsWith('▶')",
                           timeout=5000)
    page.close()
