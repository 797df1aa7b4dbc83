"""Every module that defines tables on ``app.store.db.metadata``, imported before ``create_all``.

Tables are defined in storage (``app.store.db``, ``app.store.tables``, ``app.store.rollups``); a
feature imports its table from there.
"""
from app.store import db  # noqa: F401  reports, report_events, report_links, reporter_secrets
from app.store import search as _search  # noqa: F401  reports_fts (SQLite), the search indexes
from app.store import tables as _tables  # noqa: F401  the feature tables
from app.store import rollups as _rollups  # noqa: F401  kinerja_daily, kinerja_hourly, kinerja_durations, kinerja_officers, kinerja_dirty
