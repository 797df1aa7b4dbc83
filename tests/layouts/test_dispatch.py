"""In a real browser: a supervisor logs in, filters the queue, verifies and assigns a report; the
agency officer then resolves it with an after photo; the live counts move."""
import io

import h3
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from PIL import Image

from app import queries
from app.auth.users import create_user
from tests.app.staff.conftest import PASSWORD, seed
from tests.helpers import drain


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")


def pick_option(page, dropdown: str, code: str) -> None:
    """Open a dropdown, type, and click the option itself, as a person would. A re-render that lands
    while the menu is open (a loaded machine answers callbacks late) closes it: then open it again."""
    for _ in range(5):
        page.click(dropdown)
        page.keyboard.type(code)
        try:
            page.get_by_text(f"{code} — ").first.click(timeout=5000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"could not pick {code} in {dropdown}")


def test_supervisor_assigns_officer_resolves_with_photo(live_app, browser, artifacts_dir, tmp_path):
    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "super1", PASSWORD, "supervisor")
    create_user(services.engine, services.preset, "dlh1", PASSWORD, "agency_officer", "DLH")
    rows = seed(services, count=20, categories=["garbage", "flood"])
    target = next(r for r in rows if r.category == "garbage")
    cell = h3.cell_to_parent(target.h3_cell, 8)
    in_cell = [r for r in rows if h3.cell_to_parent(r.h3_cell, 8) == cell]
    before = queries.kpis(services.redis, services.preset, "7d")

    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(90_000)      # a loaded CI machine answers Dash callbacks slowly
    page = context.new_page()
    page.goto(f"{base}/dispatch")                       # logged out: sent to the login page
    assert "/login" in page.url
    sign_in(page, base, "super1")
    page.wait_for_url(f"{base}/dispatch")
    page.wait_for_selector(".queue-table tbody tr")
    assert page.locator(".queue-table tbody tr").count() == 20
    page.goto(f"{base}/dispatch?h3={cell}")             # filter: one hex (as a hex click on the wall opens it)
    page.wait_for_function(f"() => document.querySelectorAll('.queue-table tbody tr').length == {len(in_cell)}")
    assert page.inner_text("#dispatch-h3-label").startswith("Heksagon ")     # said in words, never the id
    assert cell not in page.inner_text(".dispatch")
    page.screenshot(path=str(artifacts_dir / "1-filtered.png"))
    page.click(f".dispatch-ticket:has-text('{target.ticket}')")
    page.wait_for_selector("#dispatch-detail-ticket")
    page.click("#dispatch-verify")
    page.wait_for_selector("#dispatch-detail:has-text('· versi 2')")
    # The queue re-renders after the change too; let it settle before opening a menu.
    page.wait_for_selector(f"[data-report='{target.id}'] [data-status='verified']")
    pick_option(page, "#dispatch-target-agency", "DLH")
    page.fill("#dispatch-team", "Regu Kebersihan 3")
    page.click("#dispatch-assign")
    page.wait_for_selector("#dispatch-detail:has-text('· versi 3')")
    assert page.locator(f"[data-report='{target.id}'] [data-status='dispatched']").count() == 1
    page.screenshot(path=str(artifacts_dir / "2-assigned.png"))
    context.close()

    after_photo = tmp_path / "sesudah.jpg"
    Image.new("RGB", (320, 240), (30, 140, 60)).save(after_photo, "JPEG")
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(90_000)      # a loaded CI machine answers Dash callbacks slowly
    page = context.new_page()
    sign_in(page, base, "dlh1")
    page.wait_for_url(f"{base}/tugas")
    page.wait_for_selector(f"text={target.ticket}")
    assert page.locator("#dispatch-queue").count() == 0           # the officer has no dispatch console
    page.on("dialog", lambda dialog: dialog.accept())     # each action is confirmed with its ticket
    page.click(f"text={target.ticket}")
    page.wait_for_url(f"{base}/tugas/{target.ticket}")
    page.fill("#tugas-note", "Sampah sudah diangkut")
    page.set_input_files("#tugas-photo", str(after_photo))
    page.click("#tugas-resolve")
    page.wait_for_selector(".tugas-status[data-status='resolved']")
    page.wait_for_selector(".tugas-photos img[src^='/photos/']")
    page.screenshot(path=str(artifacts_dir / "3-resolved.png"))
    context.close()

    drain(services)
    after = queries.kpis(services.redis, services.preset, "7d")
    assert after["resolved"] == before["resolved"] + 1
    assert after["open_backlog"] == before["open_backlog"] - 1

    # The supervisor puts the resolution in public view, with a sentence written for the public.
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(90_000)
    page = context.new_page()
    sign_in(page, base, "super1")
    page.wait_for_url(f"{base}/dispatch")
    page.click("[data-state='resolved']")          # the console opens on open work: ask for the resolved
    page.wait_for_selector(f".dispatch-ticket:has-text('{target.ticket}')")
    page.click(f".dispatch-ticket:has-text('{target.ticket}')")
    page.wait_for_selector("#dispatch-public-state:has-text('Tidak tampil')")
    page.fill("#dispatch-public-text", "Hubungi 0812-3456-7890")            # personal data: refused
    page.click("#dispatch-publish")
    page.wait_for_selector("#dispatch-message:has-text('tanpa nomor HP atau e-mail')")
    page.fill("#dispatch-public-text", "Tumpukan sampah sudah diangkut DLH")
    page.click("#dispatch-publish")
    page.wait_for_selector("#dispatch-public-state:has-text('Tumpukan sampah sudah diangkut DLH')")
    page.screenshot(path=str(artifacts_dir / "4-published.png"))
    context.close()
    resolved = browser.new_page()
    items = resolved.goto(f"{base}/api/public/resolved").json()["items"]
    resolved.close()
    assert [i["text"] for i in items] == ["Tumpukan sampah sudah diangkut DLH"]
    assert items[0]["after_photo"]
