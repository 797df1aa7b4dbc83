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
