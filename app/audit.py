"""The system audit log: who changed accounts, keys and sessions, when and from where.

Report changes have their own trail (``report_events`` and ``report_actions``, shown in each
report's history). This log holds everything else that changes who may do what: staff accounts
created, disabled, re-enabled or given a new password, Open311 keys created or revoked, and
sign-ins (successful, failed, refused while locked or disabled) and sign-outs. Append-only; read
with ``python -m app.auth audit``.

Never stored here: passwords, API key secrets, the text of a failed password.
"""
from __future__ import annotations

import getpass
import json
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from app.store.tables import audit_log


def cli_actor() -> str:
    """Who runs a command: the operating-system account (the commands need shell access)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def record(engine, actor: str, action: str, subject: str, origin: str = "cli", address: str | None = None,
           detail: dict | None = None, now: datetime | None = None, conn=None) -> None:
    """Append one entry; ``conn`` joins the caller's transaction so the change and its entry go together."""
    values = dict(entry_id=str(uuid.uuid4()), occurred_at=now or datetime.now(timezone.utc), actor=actor[:120],
                  action=action, subject=(subject or "")[:120], origin=origin, address=address,
                  detail=json.dumps(detail or {}, separators=(",", ":"), ensure_ascii=False))
    if conn is not None:
        conn.execute(audit_log.insert().values(**values))
        return
    with engine.begin() as own:
        own.execute(audit_log.insert().values(**values))


def recent(engine, limit: int = 50, subject: str | None = None) -> list[dict]:
    """The newest entries first."""
    query = select(audit_log).order_by(audit_log.c.occurred_at.desc()).limit(limit)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"at": r.occurred_at, "actor": r.actor, "action": r.action, "subject": r.subject,
             "origin": r.origin, "address": r.address, "detail": json.loads(r.detail)} for r in rows]
