"""The reporter's secret: what proves "I filed this report" on the public surfaces.

Filing (the /lapor form, an Open311 POST) answers a secret once, in the tracking link
``/lacak/<ticket>#k=<secret>`` (a fragment: browsers never send it in a request line, so it is in
no access log) and in the Open311 answer's ``reporter_secret``. Rating, disputing, and seeing one's
own description on /lacak need it.

The secret is derived from the app's secret key and the report's id (an HMAC), so a retried
filing (the form's token per visit, an Open311 ``Idempotency-Key``) answers the same secret as the
first attempt. Only its SHA-256 is stored, in ``reporter_secrets`` beside the report; checking
compares hashes, so rotating ``SECRET_KEY`` does not invalidate the secrets already handed out.
Reports filed before secrets existed (or by replays and the simulator) have none: nobody can rate
or dispute them through the public API; they close by themselves after the working days.

Plain Python and SQLAlchemy: no Flask, Dash or Redis.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy import select

from app.store.db import reporter_secrets  # defined with the reports: the persister writes it

SECRET_LENGTH = 32          # base64url characters: 192 bits
MAX_LENGTH = 100            # longer input is refused before hashing


def secret_for(app_secret: str, report_id: str) -> str:
    """The secret of one report (the same for a retried filing of the same report)."""
    digest = hmac.new(app_secret.encode(), f"reporter-secret:{report_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:SECRET_LENGTH]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(app_secret: str, report) -> tuple[str, object]:
    """(secret, the report carrying its hash) for a report about to be filed."""
    from dataclasses import replace

    secret = secret_for(app_secret, report.id)
    return secret, replace(report, secret_hash=hash_secret(secret))


def _stored_hash(engine, report_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(reporter_secrets.c.secret_hash)
                            .where(reporter_secrets.c.report_id == report_id)).scalar()


def holds(engine, report_id: str, secret) -> bool:
    """Whether ``secret`` is this report's secret (False for no secret, a report without one...)."""
    if not isinstance(secret, str) or not secret or len(secret) > MAX_LENGTH:
        return False
    stored = _stored_hash(engine, report_id)
    return stored is not None and hmac.compare_digest(stored, hash_secret(secret))
