"""The head of an agency (kepala OPD, role ``head``) reads /kinerja for their own agency only: the
page, the callback's answer (also to a crafted body naming another agency or none), the weekly
files; nothing else of the staff screens. Accounts come from ``python -m app.auth users create``."""
import json
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.auth.users import UserInvalid, create_user, load_user
from app.kinerja import weekly
from app.store import db
from layouts import kinerja as ids
from tests.conftest import ROOT
from tests.kinerja_history import make_history
from tests.security.dash_calls import body_for, find_callback


def _show(staff, server, agency="all", period="30d", lang="en"):
    output = find_callback(server, f"{ids.graph_id('daily')}.figure")
    body = body_for(server, output, {f"{ids.PERIOD}.value": period, f"{ids.AGENCY}.value": agency,
                                     f"{ids.CATEGORY}.value": "all", f"{ids.KECAMATAN}.value": "all",
                                     f"{ids.LANG}.data": lang}, changed=[f"{ids.AGENCY}.value"])
    return staff.client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


def _daily_total(answer) -> int:
    figure = answer["response"][ids.graph_id("daily")]["figure"]
    return int(sum(sum(v or 0 for v in trace["y"]) for trace in figure["data"]))


def _received(engine, zone, agency=None) -> int:
    r = db.reports.c
    first = datetime.combine(datetime.now(zone).date() - timedelta(days=29), datetime.min.time(), zone)
    terms = [r.created_at >= first] + ([r.agency == agency] if agency else [])
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.reports).where(*terms)).scalar_one()


def test_head_sees_only_their_agency_even_with_crafted_bodies(services, staff_app, as_user):
    make_history(services, count=90, days=14)
    engine, zone = services.engine, ZoneInfo(services.preset.timezone)
    head, supervisor = as_user("kepala_dlh"), as_user("super1")

    assert head.get("/kinerja").status_code == 200
    for path in ("/dispatch", "/tugas", "/staff/api/queue"):
        assert head.get(path).status_code == 403, path

    city = json.loads(_show(supervisor, staff_app).get_data(as_text=True))
    assert _daily_total(city) == _received(engine, zone) > _received(engine, zone, "DLH") > 0
    # whatever agency the body names (another one, all, none at all, a made-up one), DLH's figures only
    for agency in ("DSDA", "all", None, "XYZ"):
        response = _show(head, staff_app, agency=agency)
        assert response.status_code == 200, (agency, response.get_data(as_text=True)[:300])
        answer = json.loads(response.get_data(as_text=True))
        assert _daily_total(answer) == _received(engine, zone, "DLH"), agency
        text = json.dumps(answer["response"][ids.AGENCY_TABLE]) + json.dumps(answer["response"][ids.HONESTY_TABLE])
        assert '"data-agency": "DLH"' in text
        assert '"data-agency": "DSDA"' not in text and "DSDA" not in json.dumps(
            answer["response"][ids.graph_id("sla")]["figure"]["data"])
    # the drill-downs are not offered: a head may not open /dispatch
    page = head.get("/kinerja?lang=en")
    assert page.status_code == 200


def test_head_downloads_only_their_agency_weekly_files(services, staff_app, as_user):
    make_history(services, count=40, days=10)
    monday = datetime.now(ZoneInfo(services.preset.timezone)).date()
    monday -= timedelta(days=monday.weekday() + 7)
    assert weekly.build(services, monday)
    week, files = weekly.list_reports(services.settings)[0]
    assert {scope for scope, _, _ in files} >= {"city", "DLH", "DSDA"}
    head = as_user("kepala_dlh")
    for scope, ext, name in files:
        status = head.get(f"/kinerja/weekly/{week}/{name}").status_code
        assert status == (200 if scope == "DLH" else 403), (scope, name, status)


def test_head_accounts_need_their_agency(services, tmp_path):
    with pytest.raises(UserInvalid):
        create_user(services.engine, services.preset, "kepala1", "correct horse battery", "head", None)
    with pytest.raises(UserInvalid):
        create_user(services.engine, services.preset, "kepala1", "correct horse battery", "head", "NOPE")
    env = {"REDIS_URL": services.redis_url, "DATABASE_URL": services.settings.resolved_database_url(),
           "PANTAU_DATA_DIR": str(services.settings.data_dir), "SECRET_KEY": "test-secret",
           "PANTAU_NEW_USER_PASSWORD": "correct horse battery", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "app.auth", "users", "create", "--username", "kepala_dsda",
                          "--role", "head", "--agency", "DSDA"], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-1500:]
    user = load_user(services.engine, "kepala_dsda")
    assert (user.role, user.agency) == ("head", "DSDA")
