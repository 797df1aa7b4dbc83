"""The key command an operator runs: create prints the key once, list never shows it, revoke ends it."""
import subprocess
import sys

from app.open311 import api_keys
from app.store import db
from tests.conftest import ROOT


def _run(env, *args):
    return subprocess.run([sys.executable, "-m", "app.open311", "keys", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_create_list_revoke(tmp_path, database_url):
    import os

    env = {**os.environ, "PANTAU_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url}
    created = _run(env, "create", "--name", "Aplikasi Kota", "--rate", "30")
    assert created.returncode == 0, created.stderr
    key_id = created.stdout.split()[1]
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("p311_")
    engine = db.make_engine(database_url)
    assert api_keys.check_key(engine, secret).rate_per_minute == 30
    listed = _run(env, "list")
    assert key_id in listed.stdout and "live" in listed.stdout and secret not in listed.stdout
    assert _run(env, "revoke", key_id).returncode == 0
    assert api_keys.check_key(engine, secret) is None
    again = _run(env, "revoke", key_id)
    assert again.returncode == 1 and "no live key" in again.stderr
    assert _run(env, "create", "--name", " ").returncode == 2
    from app import audit

    entries = [(e["action"], e["subject"], e["detail"]) for e in reversed(audit.recent(engine))]
    assert entries == [("key.create", key_id, {"name": "Aplikasi Kota", "rate_per_minute": 30}),
                       ("key.revoke", key_id, {})]
    assert secret not in str(audit.recent(engine))
    engine.dispose()
