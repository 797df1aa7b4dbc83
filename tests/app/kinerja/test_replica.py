"""/kinerja's heavy reads go to the read replica (DATABASE_REPLICA_URL) when one is set: a second,
real database (its own SQLite file) holds rollups the primary has not, and the charts show the
replica's; signing in and every write stay on the primary."""
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select
from zoneinfo import ZoneInfo

from app import kinerja
from app.auth.users import create_user
from app.factory import create_app
from app.services import Services
from app.store import db, migrate, rollups
from app.store.tables import staff_users
from layouts import kinerja as ids
from tests.app.staff.conftest import PASSWORD, Staff
from tests.conftest import make_settings
from tests.security.dash_calls import body_for, find_callback


@pytest.fixture
def replicated(tmp_path, redis_url):
    replica_url = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    replica = db.make_engine(replica_url)
    migrate.create_schema(replica)      # a standby has the primary's schema
    settings = make_settings(tmp_path, redis_url, f"sqlite:///{tmp_path / 'primary.sqlite3'}",
                             database_replica_url=replica_url)
    services = Services.open(settings)
    yield services, replica
    services.close()
    replica.dispose()


def _daily_total(answer) -> int:
    figure = answer["response"][ids.graph_id("daily")]["figure"]
    return int(sum(sum(v or 0 for v in trace["y"]) for trace in figure["data"]))


def _rows(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_kinerja_reads_the_replica_and_writes_the_primary(replicated):
    services, replica = replicated
    assert services.read_engine is not services.engine
    today = datetime.now(ZoneInfo(services.preset.timezone)).date().isoformat()
    # Rollup rows only the replica has (as if the primary's rows had been copied there).
    row = {"city": services.preset.slug, "day": today, "category": "garbage", "agency": "DLH",
           **{name: 0 for name in kinerja.DAILY_COUNTS}, "rating_sum": 0.0}
    with replica.begin() as conn:
        conn.execute(rollups.daily_city.insert(), [{**row, "received": 7}])
        conn.execute(rollups.daily.insert(), [{**row, "kecamatan_code": "", "received": 7}])
    create_user(services.engine, services.preset, "super1", PASSWORD, "supervisor", None)
    server = create_app(services.settings, services)
    server.config["TESTING"] = True
    supervisor = Staff(server, "super1")          # signing in reads and writes the primary

    output = find_callback(server, f"{ids.graph_id('daily')}.figure")
    body = body_for(server, output, {f"{ids.PERIOD}.value": "7d", f"{ids.AGENCY}.value": "all",
                                     f"{ids.CATEGORY}.value": "all", f"{ids.KECAMATAN}.value": "all",
                                     f"{ids.LANG}.data": "en"}, changed=[f"{ids.PERIOD}.value"])
    response = supervisor.client.post("/_dash-update-component", data=json.dumps(body),
                                      content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    answer = json.loads(response.get_data(as_text=True))
    assert _daily_total(answer) == 7                  # the replica's rows, not the primary's (none)
    assert "DLH" in json.dumps(answer["response"][ids.AGENCY_TABLE])
    assert _rows(services.engine, rollups.daily_city) == 0
    # writes never go to the replica: the account and its session are on the primary alone
    assert _rows(services.engine, staff_users) == 1
    assert _rows(replica, staff_users) == 0


def test_another_city_of_the_install_reads_the_same_replica(replicated):
    """A several-city install (Services.for_city): each city's /kinerja reads the replica too, and
    its writes go to the one primary."""
    services, replica = replicated
    kupang = services.for_city("kupang")
    assert kupang.read_engine is services.read_engine and kupang.read_engine is not kupang.engine
    with kupang.read_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rollups.daily_city)).scalar_one() == 0
    with replica.begin() as conn:
        conn.execute(rollups.daily_city.insert(), [{"city": "kupang", "day": "2026-12-01", "category": "garbage",
                                                   "agency": "DLH", **{n: 0 for n in kinerja.DAILY_COUNTS},
                                                   "rating_sum": 0.0, "received": 3}])
    with kupang.read_engine.connect() as conn:
        assert conn.execute(select(func.sum(rollups.daily_city.c.received))
                            .where(rollups.daily_city.c.city == "kupang")).scalar_one() == 3
    assert _rows(kupang.engine, rollups.daily_city) == 0
