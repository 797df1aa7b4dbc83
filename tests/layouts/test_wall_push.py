"""The wall as an unattended screen and as an operator's tool (issue 15): the panels arrive by push
(no display polls), place names on the offline map, a click on a hex opens the console for a
signed-in operator only, and a display token's wall goes through its views by itself.

Real server, real Redis and SQLite, the real aggregator, headless Chromium.
"""
from __future__ import annotations

import h3
import pytest

from app import live
from tests.axe import axe_violations, describe
from tests.helpers import drain
from tests.layouts.test_wall import hexstate, report_at, running_consumers
from tests.layouts.test_wall_room import KEBON_BARU, flood_burst, quiet_week_then_now, readable
from tests.layouts.wall_helpers import open_wall


@pytest.fixture
def wall_app(live_app):
    yield live_app
    live_app.extensions["pantau_live"].stop()
    live_app.extensions["pantau_socket_watch"].stop()


def http_requests(page, base: str) -> list[str]:
    """Every HTTP request the page makes to our server from now on (the WebSocket is not one; map
    tiles come from the tile server, when one is reachable, as the map moves)."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url)
            if request.resource_type != "websocket" and request.url.startswith(base) else None)
    return seen


def test_panels_arrive_by_push_and_no_wall_polls(wall_app, browser, artifacts_dir):
    services = wall_app.extensions["pantau"]
    quiet_week_then_now(services, now_count=30)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    open_wall(page, wall_app, lang="id", kiosk="1", stale="3")
    page.wait_for_function("() => Number(document.getElementById('wall-hexstate').dataset.beats) > 0")
    before = page.inner_text("#wall-kpi-received")
    requests = http_requests(page, wall_app.config["BASE_URL"])
    with running_consumers(services):
        page.wait_for_timeout(1500)
        services.producer.submit(report_at(-6.2100, 106.8450, "push-1"))
        # the KPI moves by push: the wall asked the server for nothing
        page.wait_for_function(f"() => document.getElementById('wall-kpi-received').innerText !== '{before}'",
                               timeout=8000)
        page.wait_for_timeout(6000)        # a few panel periods and heartbeats
        state = hexstate(page)
        assert int(state["data-panel-pushes"]) >= 1 and int(state["data-beats"]) >= 4
        # a running aggregator with nothing to do is not "late": its heartbeat rides the socket
        assert state["data-stale"] == "0"
        assert page.is_hidden("#wall-stale-banner")
    polls = [url for url in requests if "/_dash-update-component" in url or "/wall/api/" in url]
    assert polls == [], polls
    assert requests == [], requests
    print(f"HTTP requests in {7.5:.1f} s of a live wall: {len(requests)}")

    # the aggregator stops: the heartbeat says so, and the wall dims with no request either
    drain(services)
    page.wait_for_selector("#wall-stale-banner", state="visible", timeout=8000)
    assert "Data terlambat" in page.inner_text("#wall-stale-banner")
    page.close()


def test_place_names_on_the_map_busiest_first_never_overlapping(wall_app, browser, artifacts_dir):
    services = wall_app.extensions["pantau"]
    quiet_week_then_now(services)
    flood_burst(services)
    district_names = {a.district_name for a in services.areas.areas()}
    area_names = {a.name for a in services.areas.areas()}
    from app import spikes

    incident = spikes.current_incidents(services.redis, services.preset)[0]
    flooded = services.areas.locate(*h3.cell_to_latlng(incident.cells[0]))  # the banner's first place
    for viewport in ((1920, 1080), (3840, 2160)):
        for lang in ("id", "en"):
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            open_wall(page, wall_app, lang=lang, kiosk="1")
            page.wait_for_function("() => Number(document.getElementById('wall-hexstate').dataset.places) > 0",
                                   timeout=10000)
            # names and rings read in one turn of the page, once the names are placed for the rings
            # as they are: read apart, a push that moved the rings between the two reads made a
            # name look misplaced for the 200 ms before it moved
            snap = page.wait_for_function(
                "() => { if (!pantauWall.placesSettled()) return null;"
                " const S = pantauWall.state(), r = S.map.getContainer().getBoundingClientRect();"
                " const names = [...document.querySelectorAll('.wall-places .wall-place')]"
                ".map(n => { const b = n.getBoundingClientRect();"
                " return [n.innerText, b.left, b.top, b.right, b.bottom]; });"
                " const rings = S.spikePolys.map(p => { const b = p.ring.getBounds(),"
                " a = S.map.latLngToContainerPoint(b.getNorthWest()),"
                " z = S.map.latLngToContainerPoint(b.getSouthEast());"
                " return [r.left + a.x, r.top + a.y, r.left + z.x, r.top + z.y]; });"
                " return {names, rings}; }", timeout=10000).json_value()
            names, rings = snap["names"], snap["rings"]
            assert hexstate(page)["data-place-level"] == "district"
            assert 4 <= len(names) and {n[0] for n in names} <= district_names, names
            # the busiest places are named first, and no name covers the spike's rings
            assert rings
            for n in names:
                for ring in rings:
                    assert n[3] <= ring[0] or ring[2] <= n[1] or n[4] <= ring[1] or ring[3] <= n[2], (n, ring)
            cells = page.evaluate("() => Object.keys(pantauWall.state().counts)")
            busy = {area.district_name for area in (services.areas.locate(*h3.cell_to_latlng(c)) for c in cells)
                    if area}
            assert names[0][0] in busy, (names[0], busy)
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    assert a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2], (a, b)
            legend = page.evaluate("() => { const r = document.getElementById('wall-legend')"
                                   ".getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }")
            for n in names:
                assert n[3] <= legend[0] or legend[2] <= n[1] or n[4] <= legend[1] or legend[3] <= n[2], n
            # every name shown is legible: read with the texts (a push may re-place the names between
            # two reads of the page, the last one before the check stands)
            for _attempt in range(3):
                shown = set(page.evaluate("() => [...document.querySelectorAll('.wall-places .wall-place')]"
                                          ".map(n => n.innerText)"))
                texts = readable(page, f"place names {viewport} {lang}")
                if shown and shown <= {t["text"] for t in texts}:
                    break
            assert shown and shown <= {t["text"] for t in texts}, (shown, texts)
            page.screenshot(path=str(artifacts_dir / f"wall-places-{viewport[0]}-{lang}.png"))
            if viewport == (1920, 1080):
                v = axe_violations(page)
                assert not v, describe(v)
                # closer in, the kelurahan are named too: the flooded one among them
                page.evaluate(f"() => pantauWall.state().map.setView([{KEBON_BARU[0]}, {KEBON_BARU[1]}], "
                              "pantauWall.state().map.getZoom() + 2, {animate: false})")
                page.wait_for_function("() => document.getElementById('wall-hexstate').dataset.placeLevel"
                                       " === 'area'", timeout=20000)
                page.wait_for_timeout(600)
                close = page.evaluate("() => [...document.querySelectorAll('.wall-places .wall-place-area')]"
                                      ".map(n => n.innerText)")
                assert close and set(close) <= area_names, close
                assert flooded.name in close, close
                readable(page, f"kelurahan names {lang}")
                page.screenshot(path=str(artifacts_dir / f"wall-places-close-{lang}.png"))
            assert not errors, errors
            context.close()


def test_a_click_on_a_hex_opens_the_console_for_an_operator_only(wall_app, browser, artifacts_dir):
    from app.auth.users import create_user
    from tests.app.staff.conftest import PASSWORD
    from tests.layouts.test_dispatch import sign_in

    services = wall_app.extensions["pantau"]
    base = wall_app.config["BASE_URL"]
    flood_burst(services)
    # a display token's wall: the hex is not a link
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    open_wall(page, wall_app, lang="en", kiosk="1", res="8")
    page.wait_for_function("() => Number(document.getElementById('wall-hexstate').dataset.features) > 0")
    point = page.evaluate(f"() => {{ const p = pantauWall.state().map.latLngToContainerPoint([{KEBON_BARU[0]}, "
                          f"{KEBON_BARU[1]}]); const r = pantauWall.state().map.getContainer()"
                          ".getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }")
    page.mouse.click(*point)
    page.wait_for_timeout(800)
    assert page.url.split("?")[0].endswith("/wall")
    page.close()

    # a signed-in operator's wall: the hex opens /dispatch filtered to it
    create_user(services.engine, services.preset, "oper2", PASSWORD, "operator")
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    sign_in(page, base, "oper2")
    page.wait_for_url(lambda url: "/login" not in url, timeout=15000)
    page.goto(f"{base}/wall?lang=en&kiosk=1&res=8")
    page.wait_for_function("() => Number((document.getElementById('wall-hexstate') || {dataset: {}})"
                           ".dataset.features) > 0", timeout=15000)
    assert hexstate(page)["data-rotate"] == "0"       # an operator's wall stays on its view
    point = page.evaluate(f"() => {{ const p = pantauWall.state().map.latLngToContainerPoint([{KEBON_BARU[0]}, "
                          f"{KEBON_BARU[1]}]); const r = pantauWall.state().map.getContainer()"
                          ".getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }")
    cell = h3.latlng_to_cell(KEBON_BARU[0], KEBON_BARU[1], 8)
    page.mouse.click(*point)
    page.wait_for_url(lambda url: "/dispatch" in url, timeout=10000)
    assert f"h3={cell}" in page.url
    # The console names the hex in words (its kelurahan), with a button to clear it.
    label = page.wait_for_selector("#dispatch-h3-label", state="visible", timeout=15000)
    assert label.inner_text().strip() and page.is_visible("#dispatch-h3-clear")
    page.close()


def test_an_unattended_wall_goes_through_its_views_and_names_each(wall_app, browser, artifacts_dir):
    services = wall_app.extensions["pantau"]
    quiet_week_then_now(services, now_count=30)
    names = {"id": {"reports:today": "Laporan masuk · hari ini", "reports:60m": "Laporan masuk · 60 menit terakhir",
                    "reports:24h": "Laporan masuk · 24 jam terakhir"},
             "en": {"reports:today": "Reports · today", "reports:60m": "Reports · last 60 minutes",
                    "reports:24h": "Reports · last 24 hours"}}
    for lang in ("id", "en"):
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        open_wall(page, wall_app, rotating=True, lang=lang, kiosk="1")
        assert hexstate(page)["data-rotate"] == "30"   # a display token rotates without being asked
        # hurry the round along for the test: a display set to 2 s per view
        open_wall(page, wall_app, lang=lang, kiosk="1", rotate="2")
        view = hexstate(page)["data-view"]
        page.wait_for_function(f"() => document.getElementById('wall-hexstate').dataset.view !== '{view}'",
                               timeout=8000)
        # the name of the view on screen and where it is in the round, read together
        view, pos, label = page.evaluate("() => [document.getElementById('wall-hexstate').dataset.view,"
                                         " document.getElementById('wall-view-pos').innerText,"
                                         " document.getElementById('wall-view-label').innerText]")
        index = [f"{m}:{w}" for m, w in live.VIEWS].index(view)
        assert pos == f"{index + 1}/{len(live.VIEWS)}", (view, pos)
        if view in names[lang]:
            assert label == names[lang][view], (view, label)
        assert label and "_" not in label and ":" not in label, label
        readable(page, f"rotation {lang}")
        page.screenshot(path=str(artifacts_dir / f"wall-rotating-{lang}.png"))
        # rotate=0: the screen stays on its view
        open_wall(page, wall_app, lang=lang, kiosk="1", rotate="0")
        assert hexstate(page)["data-rotate"] == "0" and page.is_hidden("#wall-view-pos")
        page.close()
