"""The public kiosk, as a passer-by and a privacy auditor see it: a real server, real Redis and SQLite,
the real consumers, headless Chromium. Nothing personal leaks; screenshots in both orientations."""
from __future__ import annotations

import importlib.util
import io
import json
import re
import types
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

from PIL import Image

from app.store import approvals
from app.photos import store_photo
from layouts import kiosk
from tests.app.test_public import CENTRAL, EAST, SOUTH, resolve, submit
from tests.helpers import drain

SENSITIVE = ("health", "social_aid", "public_order")
ORDINARY_TEXT = "Tolong perbaiki, rumah kami nomor 17"     # citizens' free text: public only when approved
SENSITIVE_TEXT = "Keluarga kami butuh bantuan rahasia"     # a sensitive report's text: never public


def _png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "PNG")
    return out.getvalue()


def seed(services):
    """Reports with distinctive contacts (also written into their free text), some sensitive;
    a few resolved, one approved for public view with before/after photos."""
    now = datetime.now(timezone.utc) - timedelta(hours=3)
    contacts, reports = [], []
    for i, (category, point, count) in enumerate((("garbage", CENTRAL, 12), ("road_damage", SOUTH, 12),
                                                  ("health", EAST, 3), ("social_aid", SOUTH, 6),
                                                  ("public_order", CENTRAL, 2))):
        name, phone, email = f"Sutrisna Bocorwati{i}", f"+62 813 9{i}57 4{i}21", f"bocor.rahasia{i}@contoh.id"
        contacts += [name, phone, phone.replace(" ", ""), email]
        before = store_photo(services.settings, _png((200, 40 * i, 40)))
        batch = submit(services, category, point, count, now, seed=20 + i, reporter_name=name,
                       reporter_phone=phone, reporter_email=email, photos=(before.ref,),
                       description=(SENSITIVE_TEXT if category in SENSITIVE else ORDINARY_TEXT) + " {i}")
        reports += batch
    drain(services)
    ordinary = [r for r in reports if r.category not in SENSITIVE]
    for report in ordinary[:14]:
        resolve(services, report, now + timedelta(hours=2), after_photo=False)
    after = store_photo(services.settings, _png((40, 200, 60)))
    from app.staff.actions import report_actions
    with services.engine.begin() as conn:
        conn.execute(report_actions.insert().values(
            action_id=f"{ordinary[0].id}:after", report_id=ordinary[0].id, event_id=None, action="resolve",
            actor="officer:test", version=4, detail=json.dumps({"after_photo": after.ref}), occurred_at=now))
    approvals.approve(services.engine, ordinary[0].id, "supervisor:test", "Sampah sudah diangkut.")
    sensitive_resolved = [r for r in reports if r.category in SENSITIVE][0]
    resolve(services, sensitive_resolved, now + timedelta(hours=1))
    approvals.approve(services.engine, sensitive_resolved.id, "supervisor:test")   # still never shown
    drain(services)
    return reports, contacts


def _coordinate_patterns(reports):
    """The exact coordinates (5 decimals) of the sensitive reports, lat and lng close together."""
    patterns = []
    for r in reports:
        if r.category in SENSITIVE:
            lat, lng = re.escape(f"{r.lat:.5f}"), re.escape(f"{r.lng:.5f}")
            patterns.append(re.compile(rf"{lat}(?!\d).{{0,40}}{lng}(?!\d)|{lng}(?!\d).{{0,40}}{lat}(?!\d)", re.S))
    return patterns


def _leaks(where: str, text: str, contacts, patterns, descriptions) -> list[str]:
    found = [f"{where}: contact {c!r}" for c in contacts if c.lower() in text.lower()]
    found += [f"{where}: sensitive coordinates {p.pattern[:30]}" for p in patterns if p.search(text)]
    found += [f"{where}: free text {d!r}" for d in descriptions if d in text]
    return found


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.read().decode("utf-8", "replace")


def test_kiosk_and_public_endpoints_show_no_personal_data(live_app, browser, artifacts_dir):
    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    reports, contacts = seed(services)
    patterns = _coordinate_patterns(reports)
    leaks = []

    # Every public JSON endpoint, and every Open311 GET answer (which, as the standard expects,
    # carries ordinary reports' descriptions, but never a sensitive one's).
    urls = ["/api/public/", "/api/public/summary", "/api/public/hexes?window=today", "/api/public/hexes?window=7d",
            "/api/public/agencies", "/api/public/resolved", "/open311/v2/services.json",
            "/open311/v2/requests.json", "/open311/v2/requests.xml", "/open311/v2/discovery.json"]
    urls += [f"/api/public/ranking?level={level}" for level in ("agency", "kelurahan", "kecamatan")]
    urls += [f"/open311/v2/requests/{r.ticket}.json" for r in reports if r.category in SENSITIVE][:4]
    for url in urls:
        free_text = [SENSITIVE_TEXT] + ([] if url.startswith("/open311") else [ORDINARY_TEXT])
        leaks += _leaks(url, _get(base + url), contacts, patterns, free_text)
    resolved = json.loads(_get(base + "/api/public/resolved"))["items"]
    assert [item["text"] for item in resolved] == ["Sampah sudah diangkut."]   # approved, ordinary only
    assert resolved[0]["before_photo"] and resolved[0]["after_photo"]
    assert _get(base + "/api/public/outlines").startswith('{"type":"FeatureCollection"')

    # Cached: a new report shows only once the short TTL has passed; browsers may cache too.
    with urllib.request.urlopen(base + "/api/public/summary") as response:
        assert "max-age=" in response.headers["Cache-Control"]
        received = json.loads(response.read())["today"]["received"]
    assert services.redis.exists(services.keys.public_cache("summary"))
    submit(services, "garbage", CENTRAL, 2, datetime.now(timezone.utc), seed=99)
    drain(services)
    assert json.loads(_get(base + "/api/public/summary"))["today"]["received"] == received
    assert json.loads(_get(base + "/api/public/ranking?level=street"))["error"].startswith("level")

    # Every public page, rendered (each kiosk view in both orientations and languages), with
    # everything the browser received while rendering it; screenshots of the kiosk.
    shots = []
    for orientation, (width, height), lang in (("portrait", (1080, 1920), "id"), ("landscape", (1920, 1080), "en")):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        pages = [f"/kiosk?view={view}&orientation={orientation}&lang={lang}" for view in kiosk.VIEWS]
        if orientation == "landscape":
            # (/wall is not public: a stranger gets the login, tests/security/test_wall_access.py)
            pages += ["/"] + ([f"/lacak/{reports[-1].ticket}"] if importlib.util.find_spec("layouts.lacak")
                                       else [])
        for path in pages:
            texts = _render(page, base + path)
            for text in texts:
                leaks += _leaks(path, text, contacts, patterns, [SENSITIVE_TEXT, ORDINARY_TEXT])
            if path.startswith("/kiosk"):
                assert page.locator(f".kiosk-{orientation}").count() == 1
                view = path.split("view=")[1].split("&")[0]
                if view == "map":
                    page.wait_for_selector(".kiosk-leaflet path.leaflet-interactive, .kiosk-leaflet canvas")
                shot = artifacts_dir / f"kiosk-{orientation}-{width}x{height}-{view}.png"
                page.screenshot(path=str(shot))
                shots.append(shot)
                # Nothing spills off the screen: an unattended kiosk has nobody to scroll it.
                size = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
                assert size[0] <= width + 1 and size[1] <= height + 1, (path, size)
                clipped = page.evaluate(f"() => {{ const f = document.getElementById('{kiosk.FORMULA}');"
                                        " return f.scrollWidth > f.clientWidth + 1; }")
                assert not clipped, f"the ranking formula is cut off at {width}x{height}"
        context.close()
    assert not leaks, "\n".join(sorted(set(leaks)))
    assert len(shots) == 8 and all(p.stat().st_size > 10_000 for p in shots)
    print(f"kiosk screenshots: {artifacts_dir}")


def _render(page, url: str) -> list[str]:
    """The DOM, the visible text and every document/XHR body the browser got while rendering ``url``."""
    responses = []

    def keep(response):
        responses.append(response)

    page.on("response", keep)
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector(f"#{kiosk.TITLE}" if "/kiosk" in url else "#shell-page > *")
    page.wait_for_timeout(200)
    texts = [page.content(), page.inner_text("body")]
    for response in responses:
        if response.request.resource_type in ("xhr", "fetch", "document"):
            try:
                texts.append(response.text())
            except Exception:   # a redirected or aborted response has no body to scan
                continue
    page.remove_listener("response", keep)
    return texts


def test_kiosk_rotates_views_then_switches_language():
    settings = types.SimpleNamespace(settings=types.SimpleNamespace(language="id"))
    config = kiosk.config_from(settings, {})
    steps = [kiosk.current(config, tick) for tick in range(2 * len(kiosk.VIEWS))]
    assert [v for v, _ in steps[:len(kiosk.VIEWS)]] == list(kiosk.VIEWS) == [v for v, _ in steps[len(kiosk.VIEWS):]]
    assert [lang for _, lang in steps] == ["id"] * len(kiosk.VIEWS) + ["en"] * len(kiosk.VIEWS)
    pinned = kiosk.config_from(settings, {"lang": "en", "view": "ranking", "orientation": "portrait"})
    assert {kiosk.current(pinned, tick) for tick in range(9)} == {("ranking", "en")}
    assert kiosk.config_from(settings, {"orientation": "sideways"})["orientation"] == "auto"
