"""``python -m app.auth users create``: accounts made from the command line can sign in."""
from app.auth.__main__ import main
from app.auth.users import authenticate, load_user


def test_create_users_from_the_command_line(services, monkeypatch, capsys):
    for name, value in (("PANTAU_DATA_DIR", str(services.settings.data_dir)), ("REDIS_URL", services.redis_url),
                        ("DATABASE_URL", services.settings.database_url), ("PANTAU_CITY", "jakarta"),
                        ("SECRET_KEY", "test-secret"), ("PANTAU_NEW_USER_PASSWORD", "a long enough secret")):
        monkeypatch.setenv(name, value)
    assert main(["users", "create", "--username", "Siti", "--role", "agency_officer", "--agency", "DLH"]) == 0
    assert "created siti (agency_officer, DLH)" in capsys.readouterr().out
    assert main(["users", "create", "--username", "andi", "--role", "agency_officer", "--agency", "NOPE"]) == 2
    assert "agency" in capsys.readouterr().err
    assert main(["users", "create", "--username", "siti", "--role", "supervisor"]) == 2
    monkeypatch.setenv("PANTAU_NEW_USER_PASSWORD", "short")
    assert main(["users", "create", "--username", "budi", "--role", "operator"]) == 2
    user = load_user(services.engine, "siti")
    assert (user.role, user.agency) == ("agency_officer", "DLH")
    assert authenticate(services.engine, "siti", "a long enough secret") == user
    assert authenticate(services.engine, "siti", "wrong") is None


def _env(monkeypatch, services, password="a long enough secret"):
    for name, value in (("PANTAU_DATA_DIR", str(services.settings.data_dir)), ("REDIS_URL", services.redis_url),
                        ("DATABASE_URL", services.settings.database_url), ("PANTAU_CITY", "jakarta"),
                        ("SECRET_KEY", "test-secret"), ("PANTAU_NEW_USER_PASSWORD", password)):
        monkeypatch.setenv(name, value)


def test_disable_enable_and_reset_an_account_all_audited(services, monkeypatch, capsys, as_user, staff_app):
    """Someone leaves: disabled, they cannot sign in and their open session ends; back again with a
    new password. Every step, and every sign-in attempt, is in the audit log."""
    from app import audit
    from tests.app.staff.conftest import PASSWORD, login

    _env(monkeypatch, services)
    officer = as_user("dlh1")                                  # signed in before being disabled
    assert officer.get("/staff/api/queue").status_code == 200
    assert main(["users", "disable", "DLH1"]) == 0
    assert "disabled dlh1" in capsys.readouterr().out
    assert main(["users", "disable", "dlh1"]) == 1             # already: says so, changes nothing
    assert "disabled already" in capsys.readouterr().err
    assert officer.get("/staff/api/queue").status_code == 401  # the open session is over
    assert login(staff_app.test_client(), "dlh1") is None
    assert main(["users", "list"]) == 0
    listed = capsys.readouterr().out
    assert "dlh1\tagency_officer\tDLH\tdisabled" in listed and "super1\tsupervisor\t-\tactive" in listed
    assert main(["users", "disable", "nobody"]) == 2
    assert "no account 'nobody'" in capsys.readouterr().err

    monkeypatch.setenv("PANTAU_NEW_USER_PASSWORD", "a brand new passphrase")
    assert main(["users", "set-password", "dlh1"]) == 0
    assert main(["users", "enable", "dlh1"]) == 0
    assert login(staff_app.test_client(), "dlh1") is None           # the old password is gone
    assert login(staff_app.test_client(), "dlh1", "a brand new passphrase")
    assert PASSWORD != "a brand new passphrase"

    entries = list(reversed(audit.recent(services.engine, 50)))
    mine = [(e["action"], e["subject"], e["origin"]) for e in entries if e["subject"] == "dlh1"]
    assert mine == [("login", "dlh1", "web"), ("user.disable", "dlh1", "cli"), ("login.disabled", "dlh1", "web"),
                    ("user.set-password", "dlh1", "cli"), ("user.enable", "dlh1", "cli"),
                    ("login.failed", "dlh1", "web"), ("login", "dlh1", "web")]
    cli = [e for e in entries if e["origin"] == "cli"]
    assert all(e["actor"].startswith("cli:") for e in cli)
    web = [e for e in entries if e["origin"] == "web"]
    assert all(e["address"] for e in web)
    assert not any("passphrase" in str(e) or "secret" in str(e["detail"]) for e in entries)   # never a password
    capsys.readouterr()
    assert main(["audit", "--subject", "dlh1", "--limit", "3"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[2] for line in printed] == ["user.enable", "login.failed", "login"]


def test_an_account_for_another_city_and_a_second_city_from_the_command_line(services, monkeypatch, capsys):
    from app import audit
    from app.auth.users import cities_of

    _env(monkeypatch, services)
    assert main(["users", "create", "--username", "yanti", "--city", "kupang", "--role", "supervisor"]) == 0
    assert "created yanti (supervisor) in kupang" in capsys.readouterr().out
    assert load_user(services.engine, "yanti", "kupang").role == "supervisor"
    assert load_user(services.engine, "yanti", "jakarta") is None
    assert main(["users", "add-city", "yanti", "--city", "tarakan", "--role", "agency_officer"]) == 2
    assert "agency" in capsys.readouterr().err
    assert main(["users", "add-city", "yanti", "--city", "tarakan", "--role", "operator"]) == 0
    assert cities_of(services.engine, "yanti") == {"kupang": "supervisor", "tarakan": "operator"}
    assert main(["users", "list"]) == 0
    assert "kupang:supervisor,tarakan:operator" in capsys.readouterr().out
    assert main(["users", "remove-city", "yanti", "--city", "tarakan"]) == 0
    assert main(["users", "remove-city", "yanti", "--city", "tarakan"]) == 1
    assert main(["users", "add-city", "nobody", "--city", "tarakan", "--role", "operator"]) == 2
    actions = [e["action"] for e in audit.recent(services.engine, 10) if e["subject"] == "yanti"]
    assert {"user.create", "user.add_city", "user.remove_city"} <= set(actions)


def test_an_overview_display_token_from_the_command_line(services, monkeypatch, capsys):
    from app import overview
    from app.auth import displays

    _env(monkeypatch, services)
    monkeypatch.setenv("PANTAU_CITIES", "jakarta,kupang")
    assert main(["displays", "create", "--overview", "--name", "Ruang gubernur"]) == 0
    url = capsys.readouterr().out.strip().splitlines()[-1]
    assert "/overview?display=pwd_" in url
    token = url.split("display=", 1)[1]
    assert displays.display_for(services.engine, overview.OVERVIEW, token)
    assert displays.display_for(services.engine, "jakarta", token) is None
    assert main(["displays", "list", "--overview"]) == 0
    display_id = capsys.readouterr().out.split("\t", 1)[0]
    assert main(["displays", "revoke", "--overview", display_id]) == 0
    assert displays.display_for(services.engine, overview.OVERVIEW, token) is None
    assert main(["displays", "create", "--name", "Ruang kontrol"]) == 0
    assert "/jakarta/wall?display=pwd_" in capsys.readouterr().out
