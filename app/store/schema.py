"""Every module that defines tables on ``app.store.db.metadata``, imported before ``create_all``.

A feature that adds tables defines them in its own module and adds one import here.
"""
from app.store import db  # noqa: F401  reports, report_events
from app.store import search as _search  # noqa: F401,E402  reports_fts (SQLite), the search indexes
from app.open311 import keys as _open311_keys  # noqa: F401,E402  api_keys
from app import duplicates as _duplicates  # noqa: F401,E402  report_links, report_supporters
from app.auth import users as _staff_users  # noqa: F401,E402  staff_users
from app.staff import actions as _staff_actions  # noqa: F401,E402  report_actions
from app import feedback as _feedback  # noqa: F401,E402  report_feedback
from app import public as _public  # noqa: F401,E402  public_approved
from app import audit as _audit  # noqa: F401,E402  audit_log
from app.auth import displays as _displays  # noqa: F401,E402  display_tokens
from app import reporter_secret as _reporter_secret  # noqa: F401,E402  reporter_secrets
from app.store import rollups as _rollups  # noqa: F401,E402  kinerja_daily, kinerja_hourly, kinerja_durations, kinerja_officers, kinerja_dirty
from app.kinerja import mail as _kinerja_mail  # noqa: F401,E402  kinerja_subscribers
from app import proof as _proof  # noqa: F401,E402  photo_hashes, proof_flags
