"""Every module that defines tables on ``app.store.db.metadata``, imported before ``create_all``.

A feature that adds tables defines them in its own module and adds one import here.
"""
from app.store import db  # noqa: F401  reports, report_events
