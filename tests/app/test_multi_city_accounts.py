"""Accounts and hosts on a two-city install (PANTAU_CITIES=jakarta,kupang), against the real
database and, for the hosts, a real HTTP server:

* the self-service flag reads both agencies in the report's city (an account works in several
  cities with an agency in each), never the city the account was first made in;
* a host per city (PANTAU_CITY_HOSTS): on kupang.pantau.example a path without a city is Kupang's,
  any other host gets the list of cities;
* sign-out is one for the install: one sign-in holds in every city the account works in, so
  signing out in one city ends it in the others too (and on every other device)."""
import http.client
import re
import threading
from types import SimpleNamespace

import pytest

from app import proof
from app.auth.users import add_city, create_user, load_user
from config.cities import parse_city_hosts
from config.settings import Settings, SettingsError
from tests.conftest import make_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def install(tmp_path, redis_url, sqlite_url):
    from app.factory import create_app
    from app.services import Services

    settings = make_settings(tmp_path, redis_url, sqlite_url, cities=("jakarta", "kupang"),
                             city_hosts=(("kupang.pantau.example", "kupang"), ("jakarta.pantau.example", "jakarta")))
    services = Services.open(settings)
    root = create_app(settings, services)
    root.config["TESTING"] = True
    yield root, root.extensions["pantau_city_services"]
    services.close()


# -- self-service across cities ---------------------------------------------------------------------
def _report(city, filed_by):
    """A report row as the resolve action reads it (no created event: filed_by names the filer)."""
    return SimpleNamespace(id=f"proof-{city}-{filed_by}", city=city, attributes=f'{{"filed_by": "{filed_by}"}}')


def test_self_service_compares_agencies_in_the_reports_city(install):
    _, cities = install
    jakarta, kupang = cities["jakarta"], cities["kupang"]
    engine = jakarta.engine
    # "rina" was made in Jakarta (Dinas Sosial) and also works in Kupang for Dinas Kesehatan.
    create_user(engine, jakarta.preset, "rina", PASSWORD, "agency_officer", "DINSOS")
    add_city(engine, kupang.preset, "rina", "agency_officer", "DINKES")
    create_user(engine, kupang.preset, "kpg_dinkes", PASSWORD, "agency_officer", "DINKES")
    create_user(engine, kupang.preset, "kpg_dinsos", PASSWORD, "agency_officer", "DINSOS")
    create_user(engine, jakarta.preset, "jkt_dinsos", PASSWORD, "agency_officer", "DINSOS")
    create_user(engine, jakarta.preset, "jkt_dinkes", PASSWORD, "agency_officer", "DINKES")
    # ... and "budi" the other way round: made in Kupang (DINKES), in Jakarta for DINSOS.
    create_user(engine, kupang.preset, "budi", PASSWORD, "agency_officer", "DINKES")
    add_city(engine, jakarta.preset, "budi", "agency_officer", "DINSOS")

    def flagged(report, resolver):
        user = load_user(engine, resolver, report.city)   # as the city's app loads the resolver
        return proof.self_service(engine, report, user)

    in_kupang = _report("kupang", "rina")
    assert flagged(in_kupang, "kpg_dinkes") == {"filed_by": "rina", "same": "agency"}   # her Kupang agency
    assert flagged(in_kupang, "kpg_dinsos") is None                                     # not her Jakarta one
    assert flagged(in_kupang, "rina") == {"filed_by": "rina", "same": "person"}
    in_jakarta = _report("jakarta", "rina")
    assert flagged(in_jakarta, "jkt_dinsos") == {"filed_by": "rina", "same": "agency"}
    assert flagged(in_jakarta, "jkt_dinkes") is None
    by_budi = _report("jakarta", "budi")
    assert flagged(by_budi, "jkt_dinsos") == {"filed_by": "budi", "same": "agency"}
    assert flagged(by_budi, "jkt_dinkes") is None
    # A Kupang officer's account loaded as it is in Kupang never matches a Jakarta report's agency
    assert proof.self_service(engine, by_budi, load_user(engine, "kpg_dinsos", "kupang")) is None


# -- sign-out -------------------------------------------------------------------------------------------
def _login(client, city, username, host=None):
    headers = {"Host": host} if host else {}
    page = client.get(f"/{city}/login", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(f"/{city}/login", headers=headers,
                       data={"csrf_token": token, "username": username, "password": PASSWORD})


def _logout(client, city):
    token = client.get(f"/{city}/staff/api/session").get_json()["csrf_token"]
    return client.post(f"/{city}/logout", data={"csrf_token": token})


@pytest.mark.parametrize("out_of", ["jakarta", "kupang"])
def test_signing_out_in_one_city_signs_out_of_every_city(install, out_of):
    root, cities = install
    jakarta, kupang = cities["jakarta"], cities["kupang"]
    create_user(jakarta.engine, kupang.preset, "yanti", PASSWORD, "supervisor")
    add_city(jakarta.engine, jakarta.preset, "yanti", "operator")
    create_user(jakarta.engine, kupang.preset, "other_kpg", PASSWORD, "supervisor")
    browser, phone, colleague = root.test_client(), root.test_client(), root.test_client()
    assert _login(browser, "kupang", "yanti").status_code == 302
    assert _login(phone, "jakarta", "yanti").status_code == 302
    assert _login(colleague, "kupang", "other_kpg").status_code == 302
    for city, role in (("kupang", "supervisor"), ("jakarta", "operator")):   # one sign-in, both cities
        assert browser.get(f"/{city}/staff/api/session").get_json()["role"] == role
    assert _logout(browser, out_of).status_code == 302
    for client in (browser, phone):          # every city, every device of the account
        for city in ("kupang", "jakarta"):
            assert client.get(f"/{city}/staff/api/queue").status_code == 401, (city, out_of)
            screen = client.get(f"/{city}/dispatch")
            assert screen.status_code == 302 and f"/{city}/login" in screen.headers["Location"]
    assert colleague.get("/kupang/staff/api/queue").status_code == 200   # nobody else's session
    assert _login(browser, "jakarta", "yanti").status_code == 302        # and a new sign-in works
    assert browser.get("/kupang/staff/api/session").get_json()["role"] == "supervisor"


# -- a host per city, over real HTTP ----------------------------------------------------------------
@pytest.fixture
def served(install):
    from werkzeug.serving import make_server

    root, cities = install
    httpd = make_server("127.0.0.1", 0, root, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port, root, cities
    httpd.shutdown()


def _get(port, path, host):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_each_city_host_serves_its_own_city_and_other_hosts_the_list(served):
    port, root, _ = served
    kupang_host, jakarta_host = f"kupang.pantau.example:{port}", f"JAKARTA.pantau.example:{port}"
    status, _, page = _get(port, "/lapor", kupang_host)
    assert status == 200 and 'src="/kupang/_dash-component-suites/' in page   # Kupang's /lapor
    status, _, page = _get(port, "/lapor", jakarta_host)
    assert status == 200 and 'src="/jakarta/_dash-component-suites/' in page
    # Open311 on the city's host: that city's jurisdiction only
    status, _, body = _get(port, "/open311/v2/services.json?jurisdiction_id=kupang", kupang_host)
    assert status == 200, body
    status, _, body = _get(port, "/open311/v2/services.json?jurisdiction_id=jakarta", kupang_host)
    assert status in (400, 404), body
    # The staff screens send to the host's city sign-in
    status, headers, _ = _get(port, "/dispatch", kupang_host)
    assert status == 302 and "/kupang/login" in headers["Location"]
    # A path naming a city or the install is left as it is, on any host
    assert _get(port, "/jakarta/healthz", kupang_host)[0] in (200, 503)
    assert _get(port, "/kupang/healthz", kupang_host)[0] in (200, 503)
    status, headers, _ = _get(port, "/overview", kupang_host)
    assert status == 302 and "/login" in headers["Location"]
    # An unknown host, or the bare address: the install's list of cities, no screen without a city
    for host in (f"127.0.0.1:{port}", f"pantau.example:{port}", f"[::1]:{port}"):
        status, _, page = _get(port, "/", host)
        assert status == 200 and "Kota Kupang" in page and "DKI Jakarta" in page, host
        assert _get(port, "/lapor", host)[0] == 404


def test_city_hosts_setting_is_checked():
    assert parse_city_hosts(" Kupang.Pantau.Example = kupang ,x.example=jakarta,") == (
        ("kupang.pantau.example", "kupang"), ("x.example", "jakarta"))
    for bad in ("kupang.pantau.example", "https://k.example=kupang", "k.example:8050=kupang",
                "k.example=atlantis", "k.example=kupang,k.example=jakarta", "=kupang"):
        with pytest.raises(ValueError):
            parse_city_hosts(bad)
    env = {"PANTAU_CITIES": "jakarta,kupang", "PANTAU_CITY_HOSTS": "k.example=kupang"}
    assert Settings.from_env(env).city_hosts == (("k.example", "kupang"),)
    with pytest.raises(SettingsError):
        Settings.from_env({**env, "PANTAU_CITY_HOSTS": "k.example=nowhere"})


def test_a_host_for_a_city_not_on_the_install_stops_the_start(tmp_path, redis_url, sqlite_url):
    from app.factory import create_app
    from app.services import Services

    settings = make_settings(tmp_path, redis_url, sqlite_url, cities=("jakarta", "kupang"),
                             city_hosts=(("t.example", "tarakan"),))
    services = Services.open(settings)
    try:
        with pytest.raises(SettingsError, match="PANTAU_CITY_HOSTS"):
            create_app(settings, services)
    finally:
        services.close()
