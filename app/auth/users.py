"""Staff accounts: the users table, password hashing (Argon2id) and the session epoch.

No Flask here: the web edge (``app.auth.web``) and the command line call these. Failed sign-ins
are throttled in Redis before a password is checked (``app.auth.throttle``); no account locks.

An account belongs to one or more cities with a role (and for an agency officer an agency) in
each (``staff_memberships``): on a several-city install (PANTAU_CITIES) a Kupang supervisor is
nobody at ``/jakarta``. ``staff_users.role/agency/city`` keep the city the account was made in.

Every account has a session epoch, written into its sessions at sign-in and compared on every
request: signing out, a new password, disabling and re-enabling bump it, which ends every session
of the account (a copied cookie included).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.auth.permissions import AGENCY_SCOPED, ROLES
from app.store.tables import staff_disabled as disabled_users, staff_memberships as memberships, staff_users as users

MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
_hasher = PasswordHasher()            # Argon2id with the library's current recommended parameters
# Verified against when the user does not exist, so timing does not reveal valid usernames.
_DUMMY_HASH = _hasher.hash("pantau-no-such-user")


class UserInvalid(ValueError):
    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name


class AccountDisabled(PermissionError):
    def __init__(self):
        super().__init__("account disabled; ask an administrator")


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: str
    agency: str | None
    city: str
    epoch: int = 0                    # the account's session epoch when loaded

    # Flask-Login's user protocol
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.username

    @property
    def actor(self) -> str:
        """How the audit trails (``audit_log``, ``report_events``, ``report_actions``) name this account."""
        return f"{self.role}:{self.username}"


def create_user(engine, preset, username: str, password: str, role: str, agency: str | None = None,
                now: datetime | None = None) -> StaffUser:
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise UserInvalid("username", "2-40 characters: lower-case letters, digits, . _ -")
    _check_password(password)
    _check_role(preset, role, agency)
    now = now or datetime.now(timezone.utc)
    try:
        with engine.begin() as conn:
            conn.execute(users.insert().values(
                username=username, password_hash=_hasher.hash(password), role=role, agency=agency,
                city=preset.slug, failed_logins=0, created_at=now))
            conn.execute(memberships.insert().values(username=username, city=preset.slug, role=role,
                                                     agency=agency, added_at=now))
    except IntegrityError:
        raise UserInvalid("username", f"{username!r} exists already") from None
    return StaffUser(username, role, agency, preset.slug)


def _check_role(preset, role: str, agency: str | None) -> None:
    if role not in ROLES:
        raise UserInvalid("role", f"must be one of {', '.join(ROLES)}")
    codes = {a.code for a in preset.agencies}
    if role in AGENCY_SCOPED:
        if agency not in codes:
            raise UserInvalid("agency", f"an agency officer or head needs one of {', '.join(sorted(codes))}")
    elif agency is not None:
        raise UserInvalid("agency", "only an agency officer or head is bound to an agency")


def add_city(engine, preset, username: str, role: str, agency: str | None = None,
             now: datetime | None = None, conn=None) -> StaffUser:
    """Give an account a role in another city (or a new role in one it has): its sessions end, so
    the next request is made with the new rights."""
    username = (username or "").strip().lower()
    _check_role(preset, role, agency)
    if conn is None:
        with engine.begin() as conn:
            return add_city(engine, preset, username, role, agency, now, conn)
    _existing(conn, username)
    conn.execute(memberships.delete().where(memberships.c.username == username,
                                            memberships.c.city == preset.slug))
    conn.execute(memberships.insert().values(username=username, city=preset.slug, role=role, agency=agency,
                                             added_at=now or datetime.now(timezone.utc)))
    _bump_epoch(conn, username)
    return StaffUser(username, role, agency, preset.slug)


def remove_city(engine, username: str, city: str, conn=None) -> bool:
    """Take a city from an account (False when it had none there); its sessions end."""
    username = (username or "").strip().lower()
    if conn is None:
        with engine.begin() as conn:
            return remove_city(engine, username, city, conn)
    _existing(conn, username)
    if conn.execute(memberships.delete().where(memberships.c.username == username,
                                               memberships.c.city == city)).rowcount != 1:
        return False
    _bump_epoch(conn, username)
    return True


def cities_of(engine, username: str) -> dict[str, str]:
    """city -> role of every city the account works in."""
    with engine.connect() as conn:
        rows = conn.execute(select(memberships.c.city, memberships.c.role)
                            .where(memberships.c.username == username)).all()
    return {r.city: r.role for r in rows}


def load_user(engine, username: str, city: str | None = None) -> StaffUser | None:
    """The live account (None when unknown or disabled): Flask-Login asks on every request.
    With ``city``: the account as it is in that city (its role there), None when it has none."""
    live = (users.c.username == username, users.c.username.notin_(select(disabled_users.c.username)))
    with engine.connect() as conn:
        if city is None:
            row = conn.execute(select(users.c.username, users.c.role, users.c.agency, users.c.city,
                                      users.c.session_epoch).where(*live)).first()
        else:
            row = conn.execute(select(users.c.username, memberships.c.role, memberships.c.agency,
                                      memberships.c.city, users.c.session_epoch)
                               .join(memberships, memberships.c.username == users.c.username)
                               .where(*live, memberships.c.city == city)).first()
            if row is None:   # an account written without memberships (before 0005): its own city only
                row = conn.execute(select(users.c.username, users.c.role, users.c.agency, users.c.city,
                                          users.c.session_epoch)
                                   .where(*live, users.c.city == city,
                                          users.c.username.notin_(select(memberships.c.username)))).first()
    return StaffUser(row.username, row.role, row.agency, row.city, row.session_epoch) if row else None


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise UserInvalid("password", f"at least {MIN_PASSWORD} characters")


def _existing(conn, username: str):
    row = conn.execute(select(users.c.username).where(users.c.username == username)).first()
    if row is None:
        raise UserInvalid("username", f"no account {username!r}")
    return row


def _bump_epoch(conn, username: str) -> int:
    """End every session of the account; answers the new epoch."""
    conn.execute(update(users).where(users.c.username == username)
                 .values(session_epoch=users.c.session_epoch + 1))
    return conn.execute(select(users.c.session_epoch).where(users.c.username == username)).scalar_one()


def end_sessions(engine, username: str, conn=None) -> int:
    """Sign the account out everywhere (sign-out does it): answers the new session epoch."""
    username = (username or "").strip().lower()
    if conn is None:
        with engine.begin() as conn:
            return end_sessions(engine, username, conn)
    _existing(conn, username)
    return _bump_epoch(conn, username)


def set_password(engine, username: str, password: str, conn=None) -> None:
    """A new password, and every open session ended: for a forgotten password or a suspected leak."""
    _check_password(password)
    username = (username or "").strip().lower()
    if conn is None:
        with engine.begin() as conn:
            return set_password(engine, username, password, conn)
    _existing(conn, username)
    conn.execute(update(users).where(users.c.username == username).values(password_hash=_hasher.hash(password)))
    _bump_epoch(conn, username)
    return None


def disable_user(engine, username: str, by: str, now: datetime | None = None, conn=None) -> bool:
    """Disable an account; False when it was disabled already."""
    username = (username or "").strip().lower()
    if conn is None:
        with engine.begin() as conn:
            return disable_user(engine, username, by, now, conn)
    _existing(conn, username)
    if conn.execute(select(disabled_users.c.username).where(disabled_users.c.username == username)).first():
        return False
    conn.execute(disabled_users.insert().values(username=username, disabled_by=by[:120],
                                                disabled_at=now or datetime.now(timezone.utc)))
    _bump_epoch(conn, username)
    return True


def enable_user(engine, username: str, conn=None) -> bool:
    """Re-enable a disabled account; False when it was not disabled."""
    username = (username or "").strip().lower()
    if conn is None:
        with engine.begin() as conn:
            return enable_user(engine, username, conn)
    _existing(conn, username)
    if conn.execute(disabled_users.delete().where(disabled_users.c.username == username)).rowcount != 1:
        return False
    _bump_epoch(conn, username)   # a session copied before the account was disabled stays dead
    return True


def list_users(engine) -> list[dict]:
    with engine.connect() as conn:
        disabled = {r.username: r for r in conn.execute(select(disabled_users))}
        rows = conn.execute(select(users.c.username, users.c.role, users.c.agency, users.c.city,
                                   users.c.created_at, users.c.last_login_at)
                            .order_by(users.c.username)).all()
    return [{"username": r.username, "role": r.role, "agency": r.agency, "city": r.city,
             "created_at": r.created_at, "last_login_at": r.last_login_at,
             "disabled_at": disabled[r.username].disabled_at if r.username in disabled else None}
            for r in rows]


def authenticate(engine, username: str, password: str, now: datetime | None = None) -> StaffUser | None:
    """The user when the password is right; None when wrong or unknown (the same work either way:
    an unknown name is checked against a fixed hash); AccountDisabled for a disabled account (only
    told to someone who knows its password). Counting and throttling: ``app.auth.throttle``."""
    now = now or datetime.now(timezone.utc)
    username = (username or "").strip().lower()
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    try:
        _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    with engine.connect() as conn:
        if conn.execute(select(disabled_users.c.username).where(disabled_users.c.username == username)).first():
            raise AccountDisabled()
    values = {"last_login_at": now}
    if _hasher.check_needs_rehash(row.password_hash):
        values["password_hash"] = _hasher.hash(password)
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == username).values(**values))
    return StaffUser(row.username, row.role, row.agency, row.city, row.session_epoch)
