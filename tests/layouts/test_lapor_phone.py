"""Issue 14: the report form on a cheap phone (360x800), in Indonesian and English.

A full report in each language; a keyboard-only report without GPS; refused GPS explained in
Indonesian; a photo too large or of the wrong type explained; errors in words next to their field;
axe-core clean; no horizontal scroll; only what the page uses is downloaded, compressed."""
import json
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app import web_assets
from tests.axe import axe_violations, describe
from tests.helpers import wall_client

PHONE = {"width": 360, "height": 800}
LEFT_OUT = ("wall.js", "h3-js", "socket.io", "dash_table", "dash_bootstrap_components", "dash_leaflet",
            "polyfill", "kiosk.css", "wall.css")


# Emulated 3G (DevTools): 1.6 Mbit/s down, 750 kbit/s up, 300 ms round trip.
G3 = {"offline": False, "latency": 300, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}


def _context(browser, **extra):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True, **extra)
    context.set_default_timeout(60000)   # 3G on a loaded CI machine
    return context


def _on_3g(context):
    """A new page of ``context`` on emulated 3G."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", G3)
    return page


def _no_horizontal_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _choose_place(page, name="Pluit"):
    page.fill("#lapor-place-search", name)
    page.keyboard.press("Enter")
    page.locator(".lapor-place-button").first.click()
    page.wait_for_selector("#lapor-nudge-box:not([hidden])")


@pytest.mark.parametrize("lang", ["id", "en"])
def test_a_full_report_in_each_language(live_app, browser, artifacts_dir, lang):
    base = live_app.config["BASE_URL"]
    context = _context(browser)
    page = _on_3g(context)
    fetched = []
    page.on("response", lambda r: fetched.append((r.url, r.headers.get("content-encoding"))))
    page.goto(f"{base}/lapor?lang={lang}")
    page.wait_for_selector("#lapor-submit")
    assert page.get_attribute("html", "lang") == lang
    # Light: none of the wall's, kiosk's or staff's libraries; the big ones compressed.
    assert not [u for u, _ in fetched if any(name in u for name in LEFT_OUT)], fetched
    assert all(enc in ("br", "gzip") for u, enc in fetched if "dash_core_components.v" in u or "bootstrap" in u)
    # Jakarta's own categories, most used first; no farming ones.
    names = page.locator(".lapor-category-name").all_text_contents()
    assert names[0].strip() == ("Sampah" if lang == "id" else "Garbage")
    assert not [n for n in names if "rigation" in n or "Irigasi" in n or "Pupuk" in n]
    page.locator(".lapor-category-button").nth(1).click()
    # the press is drawn by the page's own script: on a slow CPU a moment after the click
    page.wait_for_function("() => document.querySelectorAll('.lapor-category-button')[1]"
                           ".getAttribute('aria-pressed') === 'true'", timeout=5000)
    _choose_place(page)
    assert page.text_content("#lapor-location-text") == "Kel. Pluit, Kec. Penjaringan, Jakarta Utara"
    page.click("#lapor-nudge-box button >> nth=3")   # 25 m east: still in words, still Pluit
    page.wait_for_timeout(300)
    assert "Pluit" in page.text_content("#lapor-location-text")
    page.fill("#lapor-description", "Air setinggi lutut" if lang == "id" else "Knee-deep water")
    page.fill("#lapor-phone", "0812 3456 7890")
    _no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts_dir / f"lapor-filled-{lang}.png"), full_page=True)
    page.click("#lapor-submit")
    ticket = page.wait_for_selector("#lapor-ticket", timeout=60000).text_content()
    assert re.fullmatch(r"JKT-[0-9A-Z]{5}-[0-9A-Z]{5}", ticket)
    track = page.get_attribute("#lapor-track-link", "href")
    assert track.startswith(f"/lacak/{ticket}?lang={lang}#k=") and len(track.split("#k=")[1]) >= 32
    assert page.get_attribute("#lapor-again", "href") == f"/lapor?lang={lang}"
    page.wait_for_function("() => document.activeElement.id === 'lapor-result-heading'")
    assert not page.is_visible("#lapor-submit")   # the form gives way to the answer
    page.screenshot(path=str(artifacts_dir / f"lapor-ticket-{lang}.png"), full_page=True)
    page.click("#lapor-again")
    page.wait_for_selector("#lapor-submit")
    assert page.text_content("#lapor-location-text") == ("Lokasi belum dipilih" if lang == "id"
                                                         else "No location chosen yet")
    context.close()


def test_a_keyboard_only_report_without_gps(live_app, browser):
    base = live_app.config["BASE_URL"]
    context = _context(browser, permissions=[])
    page = _on_3g(context)
    page.goto(f"{base}/lapor")
    page.wait_for_selector("#lapor-submit")

    def tab_to(predicate: str, limit: int = 80):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"(() => {{ const e = document.activeElement; return {predicate}; }})()"):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    tab_to("e.classList.contains('lapor-category-button')")
    page.keyboard.press("Space")
    # The choice goes through a clientside callback: wait for it rather than read at once.
    page.wait_for_selector(".lapor-category-button[aria-pressed='true']", timeout=10000)
    assert page.get_attribute(".lapor-category-button >> nth=0", "aria-pressed") == "true"
    tab_to("e.id === 'lapor-place-search'")
    page.keyboard.type("Pluit")
    page.keyboard.press("Enter")
    for _ in range(3):   # the first search of a worker, on a loaded CI: ask again if the answer was lost
        try:
            page.wait_for_selector(".lapor-place-button", timeout=20000)
            break
        except PlaywrightTimeout:
            page.focus("#lapor-place-search")
            page.keyboard.press("Enter")
    page.wait_for_selector(".lapor-place-button", timeout=20000)
    tab_to("e.classList.contains('lapor-place-button')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#lapor-nudge-box:not([hidden])")
    tab_to("e.classList.contains('lapor-nudge-button')")
    page.keyboard.press("Enter")   # nudged north
    tab_to("e.id === 'lapor-submit'")
    page.keyboard.press("Enter")
    assert page.wait_for_selector("#lapor-ticket", timeout=60000).text_content().startswith("JKT-")
    context.close()


def test_refused_gps_is_explained_in_indonesian(live_app, browser, artifacts_dir):
    base = live_app.config["BASE_URL"]
    context = _context(browser, permissions=[])
    page = _on_3g(context)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/lapor")
    page.wait_for_selector("#lapor-submit")
    page.wait_for_timeout(500)
    assert page.text_content("#lapor-gps-status") == ""   # nothing asked as the page opens
    page.click("#lapor-gps")
    message = page.wait_for_selector("#lapor-gps-error", timeout=10000).text_content()
    assert "Izin lokasi ditolak" in message and "cari nama kelurahan" in message
    assert "User denied" not in page.content() and "ERROR(1)" not in page.content()
    assert not dialogs   # no browser alert
    page.screenshot(path=str(artifacts_dir / "lapor-gps-refused.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("lang", ["id", "en"])
def test_bad_input_in_words_next_to_its_field(live_app, browser, artifacts_dir, tmp_path, lang):
    base = live_app.config["BASE_URL"]
    context = _context(browser)
    page = _on_3g(context)
    page.goto(f"{base}/lapor?lang={lang}")
    page.wait_for_selector("#lapor-submit")
    assert not (v := axe_violations(page)), describe(v)
    # A photo too large and a file of the wrong type: said at once, in the citizen's language.
    big = tmp_path / "besar.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024 + 10))
    page.set_input_files("#lapor-photo-file", str(big))
    too_large = page.wait_for_selector("#lapor-error-photo:not(:empty)").text_content()
    assert too_large.startswith("Foto terlalu besar" if lang == "id" else "The photo is too large")
    text = tmp_path / "catatan.txt"
    text.write_text("bukan foto")
    page.set_input_files("#lapor-photo-file", str(text))
    page.wait_for_function("() => !document.querySelector('#lapor-error-photo').textContent.includes('10 MB')")
    assert ("bukan foto" if lang == "id" else "not a JPEG") in page.text_content("#lapor-error-photo")
    # A file named .jpg that is not an image: the phone cannot read it, said in words.
    fake = tmp_path / "palsu.jpg"
    fake.write_bytes(b"this is not an image at all" * 10)
    page.set_input_files("#lapor-photo-file", str(fake))
    page.wait_for_function("() => document.querySelector('#lapor-error-photo').textContent.length > 0")
    refused = page.text_content("#lapor-error-photo")
    assert "photo:" not in refused and ("bukan foto" if lang == "id" else "not a JPEG") in refused
    # Nothing chosen and a bad phone number: every error next to its field, announced, focus on the first.
    page.fill("#lapor-phone", "abc")
    page.click("#lapor-submit")
    page.wait_for_selector("#lapor-error-category:not(:empty)")
    for field in ("category", "location", "phone"):
        slot = page.locator(f"#lapor-error-{field}")
        assert slot.get_attribute("role") == "alert" and slot.text_content().strip()
        assert ":" not in slot.text_content().split(" ")[0]   # never "field: rule"
    assert page.get_attribute("#lapor-phone", "aria-invalid") is None   # marked on its box
    assert page.locator("#lapor-phone").evaluate("e => e.closest('[aria-invalid]') !== null")
    page.wait_for_function("() => document.activeElement.classList.contains('lapor-category-button')")
    assert not (v := axe_violations(page)), describe(v)
    _no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts_dir / f"lapor-errors-{lang}.png"), full_page=True)
    # Choosing a category takes its message away at once (the others stay until the next send).
    page.click(".lapor-category-button >> nth=0")
    page.wait_for_selector("#lapor-error-category:empty", state="attached")
    assert page.get_attribute("#lapor-category", "aria-invalid") is None
    assert page.locator("#lapor-error-location").text_content().strip()
    context.close()


# -- without a browser -------------------------------------------------------------------------

def test_the_form_page_names_only_light_bundles_and_answers_compressed(live_app):
    client = live_app.test_client()
    page = client.get("/lapor", headers={"Accept-Encoding": "br"})
    assert page.headers["Content-Encoding"] == "br"
    import brotli

    html = brotli.decompress(page.data).decode()
    loaded = re.findall(r'<(?:script[^>]*src|link[^>]*href)="([^"]+)"', html)
    assert loaded and not [url for url in loaded if any(name in url for name in LEFT_OUT)], loaded
    # The map's bundle is named in a JSON data block (the CSP runs no inline script), fetched on a tap.
    lazy = re.search(r'<script type="application/json" id="pantau-lazy">(.*?)</script>', html, re.S)
    assert lazy and any("dash_leaflet" in url for url in json.loads(lazy.group(1))["dash_leaflet"]), html[:500]
    wall = wall_client(live_app).get("/wall").get_data(as_text=True)   # the wall is for display screens
    assert "wall.js" in wall and "dash_leaflet.v" in wall and "pantau-lazy" not in wall
    bundle = re.search(r'src="(/_dash-component-suites/dash/dcc/dash_core_components\.v[^"]+)"', html).group(1)
    answer = client.get(bundle, headers={"Accept-Encoding": "gzip, br"})
    assert answer.headers["Content-Encoding"] == "br"
    assert "immutable" in answer.headers["Cache-Control"] and "max-age=31536000" in answer.headers["Cache-Control"]
    css = re.search(r'href="(/assets/lapor\.css\?m=[^"]+)"', html).group(1)
    assert "immutable" in client.get(css).headers["Cache-Control"]


def test_the_citizen_layouts_render_only_light_components(sqlite_services):
    from layouts import lacak, lapor

    def namespaces(component, found):
        found.add(getattr(component, "_namespace", None))
        children = getattr(component, "children", None)
        for child in children if isinstance(children, (list, tuple)) else [children]:
            if hasattr(child, "_namespace"):
                namespaces(child, found)
        return found

    for module, params in ((lapor, {"lang": "id"}), (lacak, {"lang": "en", "path": "/lacak"})):
        found = namespaces(module.layout(sqlite_services, params), set())
        assert found <= set(web_assets.LIGHT_NAMESPACES), (module.__name__, found)


def test_categories_are_the_citys_own_most_used_first():
    from config.cities import PRESETS
    from layouts.lapor import city_categories

    jakarta = [c.code for c in city_categories(PRESETS["jakarta"])]
    karo = [c.code for c in city_categories(PRESETS["karo"])]
    assert jakarta[0] == "garbage" and jakarta[-1] == "other"
    assert not [c for c in jakarta if c.startswith("agri")] and [c for c in karo if c.startswith("agri")]


def test_place_search_and_outside_the_city_in_words(sqlite_services):
    from callbacks.lapor import _place_words

    if not sqlite_services.areas.has_areas:
        pytest.skip("no boundaries")
    assert sqlite_services.areas.search("pluit")[0][0] == "Kel. Pluit, Kec. Penjaringan, Jakarta Utara"
    assert sqlite_services.areas.search("PENJAR")[0][0] == "Kec. Penjaringan, Jakarta Utara"
    label, lat, lng = sqlite_services.areas.search("Pluit")[0]
    assert _place_words(sqlite_services, {"lat": lat, "lng": lng}, "id") == (label, True)
    words, inside = _place_words(sqlite_services, {"lat": -5.9, "lng": 106.2}, "en")
    assert not inside and "outside DKI Jakarta" in words and "inside DKI Jakarta" in words
    words, _ = _place_words(sqlite_services, {"lat": -5.9, "lng": 106.2}, "id")
    assert words.startswith("Titik ini di luar wilayah DKI Jakarta")
