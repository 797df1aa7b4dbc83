"""A reporter's updates by e-mail: opt-in on /lapor, one message per state change, one-click unsubscribe.

* ``subscribe``: the filing (the Dash form, a report kept offline) records the address the reporter
  gave, their language and the hash of the unsubscribe token, beside the report's id. A retried
  filing records nothing new (same report id, same token).
* ``notify``: run by the jobs process (``ingest.jobs``, job ``notify``). The one change path
  (``app.followup.change_report``) only writes its ``report_events`` row (the outbox); this job
  turns every ``status`` event of a subscribed report into one ``report_notifications`` row
  (keyed by the event id: queued once) and sends the pending ones through ``PANTAU_SMTP_URL``.
  A failed send (server away, refused) stays pending with backoff (1 min, doubling, at most 1 h;
  ``failed`` after ``MAX_ATTEMPTS``); a change is never blocked nor lost by the mail. Sending is
  at-least-once across a crash between the server's 250 and the row's update (a rare duplicate),
  exactly once otherwise.
* ``PANTAU_SMTP_URL`` unset: no e-mail leaves; changes are recorded ``skipped`` (not pending), so
  setting a server later never floods reporters with old news.
* The message carries the ticket, the state in words, the public tracking link (never the
  reporter's secret) and no citizen text; ``List-Unsubscribe`` + ``List-Unsubscribe-Post``
  (RFC 8058) point at ``/lapor/unsubscribe/<token>`` (``app.web_lapor``); unsubscribing is audited.

Plain Python and SQLAlchemy: no Flask, Dash or Redis.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import smtplib
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError

from app import audit, smtp
from app.i18n import t
from app.reports import ticket_for
from app.store import db
from app.store.tables import report_notifications as notes
from app.store.tables import report_subscriptions as subs

log = logging.getLogger(__name__)

LANGUAGES = ("id", "en")
TOKEN_MAX = 120                 # longer input is refused before hashing
MAX_ATTEMPTS = 20
BATCH = 200
SMTP_TIMEOUT_S = 10.0      # the jobs process waits at most this long for the server


def token_for(secret_key: str, report_id: str) -> str:
    """The unsubscribe token of a report's subscription (the same for a retried filing)."""
    mac = hmac.new(secret_key.encode(), f"unsubscribe:{report_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def subscribe(engine, secret_key: str, report_id: str, city: str, email: str | None, lang: str,
              now: datetime | None = None) -> bool:
    """Record the reporter's opt-in (``email`` already validated by the report's rules); True when
    a subscription exists afterwards. Never raises for a repeat."""
    if not email:
        return False
    values = dict(report_id=report_id, city=city, email=email.strip()[:254],
                  lang=lang if lang in LANGUAGES else "id", token_hash=_hash(token_for(secret_key, report_id)),
                  created_at=now or datetime.now(timezone.utc), unsubscribed_at=None)
    try:
        with engine.begin() as conn:
            conn.execute(subs.insert().values(**values))
    except IntegrityError:
        pass            # the same filing sent again: already subscribed
    return True


def find(engine, token) -> dict | None:
    """The subscription a token belongs to, or None (a malformed or unknown token)."""
    if not isinstance(token, str) or not token or len(token) > TOKEN_MAX:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(subs).where(subs.c.token_hash == _hash(token))).mappings().first()
    return dict(row) if row else None


def unsubscribe(engine, token, address: str | None = None, now: datetime | None = None) -> dict | None:
    """End the subscription of ``token``; the subscription, or None for a bad token. Audited."""
    row = find(engine, token)
    if row is None:
        return None
    if row["unsubscribed_at"] is None:
        now = now or datetime.now(timezone.utc)
        with engine.begin() as conn:
            conn.execute(update(subs).where(subs.c.report_id == row["report_id"], subs.c.unsubscribed_at.is_(None))
                         .values(unsubscribed_at=now))
            audit.record(engine, "anonymous", "updates_unsubscribe", row["report_id"], origin="web",
                         address=address, detail={"city": row["city"]}, now=now, conn=conn)
        row["unsubscribed_at"] = now
    return row


# --- the job ------------------------------------------------------------------------------------
def enqueue(engine, city: str, mailing: bool, now: datetime | None = None) -> int:
    """One notification row per status event of a subscribed report not queued yet."""
    now = now or datetime.now(timezone.utc)
    e = db.report_events
    with engine.begin() as conn:
        rows = conn.execute(
            select(e.c.event_id, e.c.report_id)
            .select_from(e.join(subs, subs.c.report_id == e.c.report_id)
                         .outerjoin(notes, notes.c.event_id == e.c.event_id))
            .where(subs.c.city == city, subs.c.unsubscribed_at.is_(None), e.c.kind == "status",
                   e.c.occurred_at >= subs.c.created_at, notes.c.event_id.is_(None))
            .order_by(e.c.occurred_at).limit(BATCH * 5)).all()
        db.bulk_insert_ignore(conn, notes, [
            dict(event_id=r.event_id, report_id=r.report_id, city=city, state="pending" if mailing else "skipped",
                 attempts=0, next_try_at=now, sent_at=None, last_error=None) for r in rows])
    return len(rows)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


def message(settings, preset, row, token: str) -> EmailMessage:
    """The e-mail of one state change: the ticket, the state in words, the links; no citizen text."""
    lang = row.lang if row.lang in LANGUAGES else "id"
    ticket = ticket_for(preset, row.report_id)
    state = t(f"lacak.status.{row.to_status}", lang)
    base = settings.resolved_public_url().rstrip("/")
    track = f"{base}/lacak/{ticket}?lang={lang}"
    leave = f"{base}/lapor/unsubscribe/{token}?lang={lang}"
    mail = EmailMessage()
    mail["Subject"] = t("mail.update.subject", lang, ticket=ticket, state=state)
    mail["From"] = settings.mail_from
    mail["To"] = row.email
    mail["Message-ID"] = make_msgid(domain="pantau")
    mail["List-Unsubscribe"] = f"<{leave}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(t("mail.update.body", lang, ticket=ticket, state=state, city=preset.name,
                       track=track, unsubscribe=leave))
    return mail


def send_due(services, now: datetime | None = None) -> dict:
    """Send the pending notifications whose time has come; ``{"sent": n, "waiting": n}``."""
    settings, engine, preset = services.settings, services.engine, services.preset
    now = now or datetime.now(timezone.utc)
    e = db.report_events
    with engine.connect() as conn:
        due = conn.execute(
            select(notes.c.event_id, notes.c.report_id, notes.c.attempts, e.c.to_status, subs.c.email,
                   subs.c.lang, subs.c.unsubscribed_at)
            .select_from(notes.join(e, e.c.event_id == notes.c.event_id)
                         .join(subs, subs.c.report_id == notes.c.report_id))
            .where(notes.c.city == preset.slug, notes.c.state == "pending", notes.c.next_try_at <= now)
            .order_by(notes.c.next_try_at).limit(BATCH)).all()
    if not due:
        return {"sent": 0, "waiting": 0}
    gone = [r.event_id for r in due if r.unsubscribed_at is not None]
    live = [r for r in due if r.unsubscribed_at is None]
    if gone:
        _mark(engine, gone, state="skipped")
    sent, client = 0, None
    try:
        client = smtp.connect(settings.smtp_url, timeout=SMTP_TIMEOUT_S)
        for row in live:
            try:
                client.send_message(message(settings, preset, row, token_for(settings.resolved_secret_key(),
                                                                              row.report_id)))
            except smtplib.SMTPRecipientsRefused as err:
                _retry(engine, row, now, err)
                continue
            _mark(engine, [row.event_id], state="sent", sent_at=datetime.now(timezone.utc),
                  attempts=row.attempts + 1)
            sent += 1
    except (OSError, smtplib.SMTPException) as err:     # the server away or gone mid-batch: later
        log.warning("updates by e-mail wait: %s", err)
        with engine.connect() as conn:
            done = {r.event_id for r in conn.execute(select(notes.c.event_id).where(
                notes.c.event_id.in_([r.event_id for r in live]), notes.c.state != "pending"))}
        for row in live:
            if row.event_id not in done:
                _retry(engine, row, now, err)
    finally:
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return {"sent": sent, "waiting": len(live) - sent}


def _retry(engine, row, now: datetime, err: Exception) -> None:
    attempts = row.attempts + 1
    _mark(engine, [row.event_id], state="failed" if attempts >= MAX_ATTEMPTS else "pending",
          attempts=attempts, next_try_at=now + _backoff(attempts), last_error=str(err)[:200])


def _mark(engine, event_ids: list[str], **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(notes).where(and_(notes.c.event_id.in_(event_ids), notes.c.state == "pending"))
                     .values(**values))


def notify(services, now: datetime | None = None) -> dict:
    """The jobs' ``notify``: queue the new changes of subscribed reports, send what is due."""
    mailing = bool(services.settings.smtp_url)
    queued = enqueue(services.engine, services.preset.slug, mailing, now)
    result = send_due(services, now) if mailing else {"sent": 0, "waiting": 0}
    return {"queued": queued, **result}
