"""Staff accounts: the users table, password hashing (Argon2id) and the login lock-out.

No Flask here: the web edge (``app.auth.web``) and the command line call these.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Integer, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from app.auth.permissions import ROLES
from app.store.db import UTCDateTime, metadata

MAX_FAILURES = 5                      # failed logins in a row before the account locks
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
_hasher = PasswordHasher()            # Argon2id with the library's current recommended parameters
# Verified against when the user does not exist, so timing does not reveal valid usernames.
_DUMMY_HASH = _hasher.hash("pantau-no-such-user")

users = Table(
    "staff_users", metadata,
    Column("username", String(40), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency", String(40)),
    Column("city", String(20), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
)


class UserInvalid(ValueError):
    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name


class AccountLocked(PermissionError):
    def __init__(self, until: datetime):
        super().__init__(f"account locked until {until.isoformat()} after repeated failed logins")
        self.until = until


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: str
    agency: str | None
    city: str

    # Flask-Login's user protocol
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.username


def create_user(engine, preset, username: str, password: str, role: str, agency: str | None = None,
                now: datetime | None = None) -> StaffUser:
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise UserInvalid("username", "2-40 characters: lower-case letters, digits, . _ -")
    if role not in ROLES:
        raise UserInvalid("role", f"must be one of {', '.join(ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        raise UserInvalid("password", f"at least {MIN_PASSWORD} characters")
    codes = {a.code for a in preset.agencies}
    if role == "agency_officer":
        if agency not in codes:
            raise UserInvalid("agency", f"an agency officer needs one of {', '.join(sorted(codes))}")
    elif agency is not None:
        raise UserInvalid("agency", "only an agency officer is bound to an agency")
    try:
        with engine.begin() as conn:
            conn.execute(users.insert().values(
                username=username, password_hash=_hasher.hash(password), role=role, agency=agency,
                city=preset.slug, failed_logins=0, created_at=now or datetime.now(timezone.utc)))
    except IntegrityError:
        raise UserInvalid("username", f"{username!r} exists already") from None
    return StaffUser(username, role, agency, preset.slug)


def load_user(engine, username: str) -> StaffUser | None:
    with engine.connect() as conn:
        row = conn.execute(select(users.c.username, users.c.role, users.c.agency, users.c.city)
                           .where(users.c.username == username)).first()
    return StaffUser(row.username, row.role, row.agency, row.city) if row else None


def authenticate(engine, username: str, password: str, now: datetime | None = None) -> StaffUser | None:
    """The user when the password is right; None when wrong; AccountLocked while locked."""
    now = now or datetime.now(timezone.utc)
    username = (username or "").strip().lower()
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        try:
            _hasher.verify(_DUMMY_HASH, password or "x")
        except VerificationError:
            pass
        return None
    if row.locked_until is not None and row.locked_until > now:
        raise AccountLocked(row.locked_until)
    try:
        _hasher.verify(row.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        failures = (row.failed_logins or 0) + 1
        values = {"failed_logins": failures}
        if failures >= MAX_FAILURES:
            values = {"failed_logins": 0, "locked_until": now + LOCKOUT}
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.username == username).values(**values))
        if "locked_until" in values:
            raise AccountLocked(values["locked_until"])
        return None
    values = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if _hasher.check_needs_rehash(row.password_hash):
        values["password_hash"] = _hasher.hash(password)
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == username).values(**values))
    return StaffUser(row.username, row.role, row.agency, row.city)
