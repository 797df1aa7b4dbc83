"""The feature tables of the system of record, on ``app.store.db.metadata`` beside the reports.

Storage sits below the features: a feature module imports its table from here and holds the logic;
``app.store.db`` keeps the reports, their events and what the persister writes with them, and
``app.store.rollups`` the kinerja rollups. A new table is defined here (or there), never in a feature.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from app.store.db import UTCDateTime, metadata

PHASH_BANDS = 4     # a photo's 64-bit perceptual hash in 16-bit bands, one index each (``app.proof``)

audit_log = Table(
    "audit_log", metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor", String(120), nullable=False),      # "cli:<os user>", "<role>:<username>", "anonymous"
    Column("action", String(40), nullable=False),      # user.create, key.revoke, login.failed...
    Column("subject", String(120), nullable=False),    # the account or key id acted on
    Column("origin", String(10), nullable=False),      # cli or web
    Column("address", String(64)),                     # the client address of a web action
    Column("detail", Text, nullable=False, default="{}"),
    Index("ix_audit_log_time", "occurred_at"),
)


staff_users = Table(
    "staff_users", metadata,
    Column("username", String(40), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency", String(40)),
    Column("city", String(20), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),   # unused since 0002 (Redis counts)
    Column("locked_until", UTCDateTime),                            # unused since 0002 (no lock-out)
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
    # Sessions carry the epoch they were opened in; bumping it ends them all (revision 0002).
    Column("session_epoch", Integer, nullable=False, default=0, server_default="0"),
)


# A disabled account (someone who left, a lost laptop) keeps its row and its history; it cannot
# sign in, and a session it already had ends at its next request. Re-enabled by an admin.
staff_disabled = Table(
    "staff_disabled", metadata,
    Column("username", String(40), primary_key=True),
    Column("disabled_at", UTCDateTime, nullable=False),
    Column("disabled_by", String(120), nullable=False),
)


# The cities an account works in, with its role in each (revision 0005): roles stay data here.
staff_memberships = Table(
    "staff_memberships", metadata,
    Column("username", String(40), primary_key=True),
    Column("city", String(20), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("agency", String(40)),
    Column("added_at", UTCDateTime, nullable=False),
)


display_tokens = Table(
    "display_tokens", metadata,
    Column("display_id", String(16), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("city", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)


api_keys = Table(
    "api_keys", metadata,
    Column("key_id", String(16), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("rate_per_minute", Integer),          # None: the PANTAU_OPEN311_KEY_RATE default
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)


report_actions = Table(
    "report_actions", metadata,
    Column("action_id", String(80), primary_key=True),
    Column("report_id", String(36), nullable=False),
    Column("event_id", String(80)),          # the report_events row of a status change, if any
    Column("action", String(20), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("version", Integer, nullable=False),  # the report's version after the action
    Column("detail", Text, nullable=False, default="{}"),
    Column("occurred_at", UTCDateTime, nullable=False),
    Index("ix_actions_report", "report_id", "occurred_at"),
)


report_feedback = Table(
    "report_feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_id", String(36), nullable=False),
    Column("ticket", String(24), nullable=False),
    Column("kind", String(10), nullable=False),      # rating / dispute
    Column("rating", Integer),
    Column("comment", Text),
    Column("version", Integer, nullable=False),      # the report version the feedback applied to
    Column("occurred_at", UTCDateTime, nullable=False),
    Index("ix_feedback_report", "report_id"),
)


public_approved = Table(
    "public_approved", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("approved_by", String(120), nullable=False),
    Column("approved_at", UTCDateTime, nullable=False),
    Column("public_text", Text),          # the only free text the public sees, as staff approved it
)


kinerja_subscribers = Table(
    "kinerja_subscribers", metadata,
    Column("email", String(254), primary_key=True),
    Column("scope", String(40), primary_key=True),     # 'city' or an agency code
    Column("city", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


photo_hashes = Table(
    "photo_hashes", metadata,
    Column("ref", String(64), primary_key=True),
    Column("city", String(20), nullable=False),
    Column("report_id", String(36), nullable=False),
    Column("kind", String(10), nullable=False),        # before / after
    Column("phash", BigInteger, nullable=False),       # the 64 bits, as a signed 64-bit integer
    *[Column(f"band{i}", Integer, nullable=False) for i in range(PHASH_BANDS)],
    Column("taken_at", UTCDateTime),                   # EXIF capture time, when the photo had one
    Column("created_at", UTCDateTime, nullable=False),
    # Covering (city, band, phash): a lookup reads only the index, never the table's rows.
    *[Index(f"ix_photo_hashes_band{i}", "city", f"band{i}", "phash") for i in range(PHASH_BANDS)],
    Index("ix_photo_hashes_report", "report_id"),
)


proof_flags = Table(
    "proof_flags", metadata,
    Column("flag_id", String(80), primary_key=True),
    Column("report_id", String(36), nullable=False),
    Column("city", String(20), nullable=False),
    Column("action", String(20), nullable=False),      # start / resolve
    Column("kind", String(30), nullable=False),        # one of FLAG_KINDS
    Column("actor", String(120), nullable=False),
    Column("detail", Text, nullable=False, default="{}"),
    Column("occurred_at", UTCDateTime, nullable=False),
    Index("ix_proof_flags_report", "report_id", "occurred_at"),
    Index("ix_proof_flags_city", "city", "occurred_at"),
)


# Citizens supporting a report ("me too"), one row per signed visit (``app.duplicates``).
report_supporters = Table(
    "report_supporters", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("supporter", String(64), primary_key=True),    # a hash: never who they are
    Column("created_at", UTCDateTime, nullable=False),
)


# E-mail updates a reporter asked for on /lapor (``app.citizen_mail``): one subscription per
# report, with the address they gave and their language. The unsubscribe link's token is an HMAC
# of the report's id; only its SHA-256 is kept (checked by hash, like the reporter's secret).
report_subscriptions = Table(
    "report_subscriptions", metadata,
    Column("report_id", String(36), primary_key=True),
    Column("city", String(20), nullable=False),
    Column("email", String(254), nullable=False),
    Column("lang", String(5), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("unsubscribed_at", UTCDateTime),
    Index("ix_report_subscriptions_city", "city", "unsubscribed_at"),
)

# One row per status event (``report_events``) of a subscribed report: sent once, retried with
# backoff while the SMTP server is away (state pending -> sent, or skipped / failed).
report_notifications = Table(
    "report_notifications", metadata,
    Column("event_id", String(80), primary_key=True),
    Column("report_id", String(36), nullable=False),
    Column("city", String(20), nullable=False),
    Column("state", String(10), nullable=False),        # pending, sent, skipped, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("last_error", String(200)),
    Index("ix_report_notifications_due", "city", "state", "next_try_at"),
)
