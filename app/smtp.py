"""The SMTP connection the mails share (the weekly report, a reporter's updates):
``PANTAU_SMTP_URL`` as ``smtp://user:pass@host:port`` or ``smtps://`` (TLS from the start)."""
from __future__ import annotations

import smtplib
from urllib.parse import unquote, urlparse


def connect(url: str, timeout: float = 30.0) -> smtplib.SMTP:
    parsed = urlparse(url)
    if parsed.scheme == "smtps":
        client = smtplib.SMTP_SSL(parsed.hostname, parsed.port or 465, timeout=timeout)
    else:
        client = smtplib.SMTP(parsed.hostname, parsed.port or 25, timeout=timeout)
    if parsed.username:
        client.login(unquote(parsed.username), unquote(parsed.password or ""))
    return client
