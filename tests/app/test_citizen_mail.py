"""Updates by e-mail as a reporter gets them: opted in on /lapor, each state change one message
received by a real SMTP server on loopback (aiosmtpd), in their language, with the public tracking
link and an RFC 8058 one-click unsubscribe; none without a subscription, none after unsubscribing,
none lost or doubled while the server is away."""
import email
import email.policy
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app import citizen_mail
from app.factory import create_app
from app.followup import change_status
from app.reports import ticket_for
from app.services import Services
from app.store import db
from app.store.tables import audit_log, report_notifications, report_subscriptions
from ingest.jobs import Jobs
from tests.axe import axe_violations, describe
from tests.conftest import make_settings
from tests.helpers import drain


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content,
                                                                          policy=email.policy.default)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_port():
    return _free_port()


@pytest.fixture
def mailing(tmp_path, redis_url, database_url, smtp_port):
    svc = Services.open(make_settings(tmp_path, redis_url, database_url, smtp_url=f"smtp://127.0.0.1:{smtp_port}"))
    yield svc
    svc.close()


@pytest.fixture
def inbox(smtp_port):
    box = Inbox()
    server = Controller(box, hostname="127.0.0.1", port=smtp_port)
    server.start()
    yield box
    server.stop()


def _file(client, key: str, lang="id", **extra) -> dict:
    token = client.get("/lapor/token").get_json()["token"]
    body = {"token": token, "key": key, "category": "flooding", "lat": -6.1268, "lng": 106.7930,
            "description": "Air setinggi lutut di depan sekolah", **extra}
    answer = client.post(f"/lapor/send?lang={lang}", json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _report_id(services, ticket: str) -> str:
    with services.engine.connect() as conn:
        rows = conn.execute(select(db.reports.c.id)).scalars().all()
    return next(r for r in rows if ticket_for(services.preset, r) == ticket)


def _states(services, report_id):
    with services.engine.connect() as conn:
        return conn.execute(select(report_notifications.c.state, report_notifications.c.attempts)
                            .where(report_notifications.c.report_id == report_id)).all()


def test_a_state_change_mails_the_subscriber_once_and_none_without_a_subscription(mailing, inbox):
    client = create_app(mailing.settings, mailing).test_client()
    mine = _file(client, "sub" + "a" * 20, email="warga@contoh.id", updates=True)
    other = _file(client, "sub" + "b" * 20, email="diam@contoh.id")            # gave an e-mail, no opt-in
    drain(mailing)
    mine_id, other_id = _report_id(mailing, mine["ticket"]), _report_id(mailing, other["ticket"])
    change_status(mailing.engine, mailing.producer, mine_id, "verified", actor="operator:t")
    change_status(mailing.engine, mailing.producer, other_id, "verified", actor="operator:t")

    assert Jobs(mailing, ["notify"]).run_once()["notify"] == {"queued": 1, "sent": 1, "waiting": 0}
    assert len(inbox.messages) == 1
    rcpt, message = inbox.messages[0]
    assert rcpt == ["warga@contoh.id"]
    assert message["Subject"] == f"Laporan {mine['ticket']}: Diverifikasi"
    body = message.get_content()
    assert mine["ticket"] in body and "Diverifikasi" in body and "sekarang" in body
    assert f"/lacak/{mine['ticket']}?lang=id" in body
    assert "#k=" not in body and "Air setinggi lutut" not in body          # no secret, no citizen text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<") and "/lapor/unsubscribe/" in message["List-Unsubscribe"]

    # Run again: nothing more.
    assert Jobs(mailing, ["notify"]).run_once()["notify"] == {"queued": 0, "sent": 0, "waiting": 0}
    assert len(inbox.messages) == 1
    assert _states(mailing, mine_id) == [("sent", 1)] and _states(mailing, other_id) == []

    # The next change: one more message.
    change_status(mailing.engine, mailing.producer, mine_id, "dispatched", actor="operator:t")
    Jobs(mailing, ["notify"]).run_once()
    assert len(inbox.messages) == 2 and "Diteruskan ke petugas" in inbox.messages[1][1]["Subject"]


def test_english_reporter_unsubscribes_in_one_click_then_gets_none(tmp_path, redis_url, sqlite_url, inbox,
                                                                   smtp_port):
    services = Services.open(make_settings(tmp_path, redis_url, sqlite_url,
                                           smtp_url=f"smtp://127.0.0.1:{smtp_port}"))
    try:
        client = create_app(services.settings, services).test_client()
        filed = _file(client, "eng" + "c" * 20, lang="en", email="resident@example.org", updates=True)
        drain(services)
        report_id = _report_id(services, filed["ticket"])
        change_status(services.engine, services.producer, report_id, "verified", actor="operator:t")
        citizen_mail.notify(services)
        (_, message), = inbox.messages
        assert message["Subject"] == f"Report {filed['ticket']}: Verified"
        link = urlparse(message["List-Unsubscribe"].strip("<>"))
        path = f"{link.path}?{link.query}"

        # Bad tokens: 404 both ways, never a 500; opening the link changes nothing.
        for bad in ("/lapor/unsubscribe/not-a-token", "/lapor/unsubscribe/" + "x" * 300):
            assert client.get(bad).status_code == 404 and client.post(bad).status_code == 404
        page = client.get(path)
        assert page.status_code == 200 and b'id="unsub-button"' in page.data and b'lang="en"' in page.data
        with services.engine.connect() as conn:
            assert conn.execute(select(report_subscriptions.c.unsubscribed_at)).scalar_one() is None

        # The mail client's one-click POST (RFC 8058).
        done = client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
        assert done.status_code == 200 and b"no more e-mails" in done.data
        assert client.post(path).status_code == 200        # again: still done, nothing new
        with services.engine.connect() as conn:
            assert conn.execute(select(report_subscriptions.c.unsubscribed_at)).scalar_one() is not None
            audited = conn.execute(select(audit_log.c.action, audit_log.c.subject)
                                   .where(audit_log.c.action == "updates_unsubscribe")).all()
        assert audited == [("updates_unsubscribe", report_id)]

        change_status(services.engine, services.producer, report_id, "dispatched", actor="operator:t")
        assert citizen_mail.notify(services) == {"queued": 0, "sent": 0, "waiting": 0}
        assert len(inbox.messages) == 1
    finally:
        services.close()


def test_smtp_down_keeps_the_change_and_delivers_once_when_back(tmp_path, redis_url, sqlite_url, smtp_port):
    services = Services.open(make_settings(tmp_path, redis_url, sqlite_url,
                                           smtp_url=f"smtp://127.0.0.1:{smtp_port}"))
    try:
        client = create_app(services.settings, services).test_client()
        filed = _file(client, "down" + "d" * 20, email="warga@contoh.id", updates=True)
        drain(services)
        report_id = _report_id(services, filed["ticket"])
        # No server at the port: the change is saved, the notification waits.
        change = change_status(services.engine, services.producer, report_id, "verified", actor="operator:t")
        assert change["to_status"] == "verified"
        assert Jobs(services, ["notify"]).run_once()["notify"] == {"queued": 1, "sent": 0, "waiting": 1}
        assert _states(services, report_id) == [("pending", 1)]
        assert citizen_mail.notify(services)["sent"] == 0          # backing off: not tried again yet
        assert _states(services, report_id) == [("pending", 1)]

        box = Inbox()
        server = Controller(box, hostname="127.0.0.1", port=smtp_port)
        server.start()
        try:
            later = datetime.now(timezone.utc) + timedelta(minutes=2)
            assert citizen_mail.notify(services, now=later) == {"queued": 0, "sent": 1, "waiting": 0}
            assert citizen_mail.notify(services, now=later + timedelta(hours=2))["sent"] == 0
        finally:
            server.stop()
        assert len(box.messages) == 1 and filed["ticket"] in box.messages[0][1]["Subject"]
        assert _states(services, report_id) == [("sent", 2)]
    finally:
        services.close()


def test_without_smtp_url_nothing_leaves_and_nothing_piles_up(sqlite_services):
    client = create_app(sqlite_services.settings, sqlite_services).test_client()
    filed = _file(client, "none" + "e" * 20, email="warga@contoh.id", updates=True)
    drain(sqlite_services)
    report_id = _report_id(sqlite_services, filed["ticket"])
    change_status(sqlite_services.engine, sqlite_services.producer, report_id, "verified", actor="operator:t")
    assert citizen_mail.notify(sqlite_services) == {"queued": 1, "sent": 0, "waiting": 0}
    assert _states(sqlite_services, report_id) == [("skipped", 0)]


def test_updates_need_an_email_and_a_boolean(sqlite_services):
    client = create_app(sqlite_services.settings, sqlite_services).test_client()
    token = client.get("/lapor/token").get_json()["token"]
    body = {"token": token, "key": "need" + "f" * 20, "category": "flooding", "lat": -6.1268, "lng": 106.7930,
            "updates": True}
    refused = client.post("/lapor/send?lang=id", json=body)
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["email"] == "Isi alamat e-mail untuk menerima kabar."
    assert client.post("/lapor/send", json={**body, "updates": "yes", "email": "a@b.id"}).status_code == 400
    with sqlite_services.engine.connect() as conn:
        assert conn.execute(select(report_subscriptions)).all() == []


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_form_opts_in_with_the_email_given(live_app, browser, artifacts_dir, lang):
    """At 360x800: the opt-in is refused without an e-mail (in words, next to the field), then
    recorded with the report, in the form's language; axe-core clean; the unsubscribe page too."""
    base = live_app.config["BASE_URL"]
    services = live_app.extensions["pantau"]
    context = browser.new_context(viewport={"width": 360, "height": 800}, is_mobile=True, has_touch=True)
    context.set_default_timeout(60000)
    page = context.new_page()
    page.goto(f"{base}/lapor?lang={lang}")
    page.wait_for_selector("#lapor-submit")
    page.locator(".lapor-category-button").nth(1).click()
    page.fill("#lapor-place-search", "Pluit")
    page.keyboard.press("Enter")
    page.locator(".lapor-place-button").first.click()
    page.wait_for_selector("#lapor-nudge-box:not([hidden])")
    page.click("#lapor-updates")
    page.wait_for_selector("#lapor-updates[aria-pressed=true]")
    page.click("#lapor-submit")
    page.wait_for_function("() => document.getElementById('lapor-error-email').textContent.length > 0")
    assert page.text_content("#lapor-error-email") == (
        "Isi alamat e-mail untuk menerima kabar." if lang == "id" else "Enter an e-mail address to get updates.")
    assert not (v := axe_violations(page)), describe(v)
    page.fill("#lapor-email", f"warga-{lang}@contoh.id")
    page.screenshot(path=str(artifacts_dir / f"lapor-updates-{lang}.png"), full_page=True)
    page.click("#lapor-submit")
    ticket = page.wait_for_selector("#lapor-ticket").text_content()
    with services.engine.connect() as conn:
        (report_id, address, chosen), = conn.execute(select(report_subscriptions.c.report_id,
                                                            report_subscriptions.c.email,
                                                            report_subscriptions.c.lang)).all()
    assert ticket_for(services.preset, report_id) == ticket and (address, chosen) == (f"warga-{lang}@contoh.id", lang)
    token = citizen_mail.token_for(services.settings.resolved_secret_key(), report_id)
    page.goto(f"{base}/lapor/unsubscribe/{token}")
    assert page.get_attribute("html", "lang") == lang
    assert not (v := axe_violations(page)), describe(v)
    page.click("#unsub-button")
    page.wait_for_selector("#unsub-message[role=status]")
    assert not (v := axe_violations(page)), describe(v)
    page.screenshot(path=str(artifacts_dir / f"unsubscribed-{lang}.png"), full_page=True)
    context.close()
