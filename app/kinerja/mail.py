"""E-mail of the weekly report to the subscribed heads (``kinerja_subscribers``) through
``PANTAU_SMTP_URL``; unset, nothing is sent. Each head gets the city's files, or their agency's."""
from __future__ import annotations

from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import delete, select

from app import audit, smtp
from app.i18n import t
from app.kinerja import formats
from app.store.tables import kinerja_subscribers as subscribers


class SubscriberInvalid(ValueError):
    pass


def subscribe(engine, preset, email: str, scope: str = "city", actor: str = "cli") -> None:
    email = (email or "").strip()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise SubscriberInvalid("email: an e-mail address")
    if scope != "city" and scope not in {a.code for a in preset.agencies}:
        raise SubscriberInvalid("agency: an agency of this city")
    with engine.begin() as conn:
        conn.execute(delete(subscribers).where(subscribers.c.email == email, subscribers.c.scope == scope))
        conn.execute(subscribers.insert().values(email=email, scope=scope, city=preset.slug,
                                                 created_at=datetime.now(timezone.utc)))
        audit.record(engine, actor, "weekly_subscribe", email, detail={"scope": scope}, conn=conn)


def unsubscribe(engine, email: str, actor: str = "cli") -> int:
    with engine.begin() as conn:
        gone = conn.execute(delete(subscribers).where(subscribers.c.email == email)).rowcount
        audit.record(engine, actor, "weekly_unsubscribe", email, conn=conn)
    return gone


def listed(engine, city: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.email, r.scope) for r in conn.execute(
            select(subscribers.c.email, subscribers.c.scope).where(subscribers.c.city == city)
            .order_by(subscribers.c.email))]


def send_week(services, week: str, first, last, files: list[Path], lang: str | None = None) -> int:
    """Mail each subscriber their scope's PDF and XLSX; answers how many messages went out."""
    settings = services.settings
    if not settings.smtp_url:
        return 0
    lang = lang or settings.language
    by_scope: dict[str, list[Path]] = {}
    for path in files:
        scope = path.stem.rsplit("-", 1)[-1]
        by_scope.setdefault(scope, []).append(path)
    people = listed(services.engine, services.preset.slug)
    if not people:
        return 0
    sent = 0
    client = smtp.connect(settings.smtp_url)
    try:
        for email, scope in people:
            attachments = by_scope.get(scope, [])
            if not attachments:
                continue
            label = t("kinerja.weekly.city", lang) if scope == "city" else scope
            message = EmailMessage()
            message["Subject"] = t("weekly.mail_subject", lang, week=week, scope=label)
            message["From"] = settings.mail_from
            message["To"] = email
            message.set_content(t("weekly.mail_body", lang, week=week, first=formats.long_day(first, lang),
                                  last=formats.long_day(last, lang)))
            for path in attachments:
                subtype = "pdf" if path.suffix == ".pdf" else "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                message.add_attachment(path.read_bytes(), maintype="application", subtype=subtype, filename=path.name)
            client.send_message(message)
            sent += 1
    finally:
        client.quit()
    return sent
