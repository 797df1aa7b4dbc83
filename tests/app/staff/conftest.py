"""Staff fixtures: the app with real Redis and database, one account per role, logged-in clients."""
import re

import pytest

from tests.helpers import drain, raw_reports

PASSWORD = "correct horse battery"
# username -> (role, agency). Garbage reports go to DLH, floods to DSDA in Jakarta.
ACCOUNTS = {"admin1": ("admin", None), "super1": ("supervisor", None), "oper1": ("operator", None),
            "dlh1": ("agency_officer", "DLH"), "dsda1": ("agency_officer", "DSDA"),
            "kepala_dlh": ("head", "DLH")}
ROLE_USER = {"admin": "admin1", "supervisor": "super1", "operator": "oper1", "agency_officer": "dlh1",
             "head": "kepala_dlh"}


@pytest.fixture
def staff_app(services):
    from app.auth.users import create_user
    from app.factory import create_app

    for username, (role, agency) in ACCOUNTS.items():
        create_user(services.engine, services.preset, username, PASSWORD, role, agency)
    server = create_app(services.settings, services)
    server.config["TESTING"] = True
    return server


def login(client, username, password=PASSWORD):
    """Sign in through the login form like a browser; answers the CSRF token for API calls."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": password})
    if response.status_code != 302:
        return None
    return client.get("/staff/api/session").get_json()["csrf_token"]


class Staff:
    """A logged-in client that sends the CSRF header with every change."""

    def __init__(self, app, username):
        self.client = app.test_client()
        self.username = username
        self.csrf = login(self.client, username)
        assert self.csrf, f"{username} could not log in"

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, **kw):
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)


@pytest.fixture
def as_user(staff_app):
    cache = {}

    def make(username):
        if username not in cache:
            cache[username] = Staff(staff_app, username)
        return cache[username]
    return make


def seed(services, count=12, seed_no=7, categories=None):
    """Submit realistic reports through the producer and drain them into SQL; answers the rows."""
    from sqlalchemy import select

    from app.store import db

    raws = raw_reports(count, seed=seed_no)
    if categories:
        for i, raw in enumerate(raws):
            raw.category = categories[i % len(categories)]
    services.producer.submit_many(raws)
    drain(services)
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports).order_by(db.reports.c.created_at)).all()
