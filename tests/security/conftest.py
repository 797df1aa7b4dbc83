"""A stranger against the public surfaces: the real app (real Redis, real SQLite), an Open311 key."""
import pytest

from app.followup import change_status
from app.open311 import keys


@pytest.fixture
def public_app(sqlite_services):
    """(test client, services, Open311 key) with the app built from the test's settings."""
    from app.factory import create_app

    server = create_app(sqlite_services.settings, sqlite_services)
    server.config["TESTING"] = True
    _, secret = keys.create_key(sqlite_services.engine, "stranger test")
    return server.test_client(), sqlite_services, secret


def resolve(services, report_id, note="Sudah ditangani"):
    """Move a report to resolved as staff would (the after photo aside)."""
    from sqlalchemy import select

    from app.store import db

    with services.engine.connect() as conn:
        version = conn.execute(select(db.reports.c.version).where(db.reports.c.id == report_id)).scalar_one()
    for status, actor, fields, text in (("verified", "operator:oper1", {}, None),
                                        ("dispatched", "supervisor:super1", {"agency": "DLH"}, None),
                                        ("resolved", "agency_officer:dlh1", {}, note)):
        version = change_status(services.engine, services.producer, report_id, status, actor, note=text,
                                expected_version=version, **fields)["version"]


def page_text(component) -> str:
    """Every string in a Dash layout tree (children and props), for "does X appear" checks."""
    import json

    from plotly.utils import PlotlyJSONEncoder

    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)
