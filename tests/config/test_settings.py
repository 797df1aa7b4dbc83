"""Settings: embedded defaults, typed values, and one clear line for a bad one."""
import subprocess
import sys

import pytest

from config.settings import Settings, SettingsError
from tests.conftest import ROOT


def test_defaults_are_embedded():
    settings = Settings.from_env({})
    assert settings.redis_url is None and settings.database_url is None
    assert settings.resolved_database_url().startswith("sqlite:///")
    assert settings.city == "jakarta"


def test_postgresql_url_selects_the_psycopg_driver():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("env, variable, words", [
    ({"REDIS_URL": "http://x"}, "REDIS_URL", "must start with redis://"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", "sqlite:/// or postgresql://"),
    ({"PANTAU_CITY": "bandung"}, "PANTAU_CITY", "unknown city preset 'bandung'"),
    ({"PANTAU_PORT": "-1"}, "PANTAU_PORT", "positive whole number"),
    ({"PANTAU_SIM_RATE": "fast"}, "PANTAU_SIM_RATE", "must be zero or a positive number"),
    ({"PANTAU_BATCH_SIZE": "many"}, "PANTAU_BATCH_SIZE", "must be a positive whole number"),
    ({"PANTAU_BOUNDARIES": "/nonexistent/x"}, "PANTAU_BOUNDARIES", "does not exist"),
    ({"PANTAU_LANGUAGE": "fr"}, "PANTAU_LANGUAGE", "'id' or 'en'"),
])
def test_a_bad_setting_names_the_variable_and_rule(env, variable, words):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert str(err.value).startswith(f"{variable}: ") and words in str(err.value)


def test_secret_never_printed():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"SECRET_KEY": "hunter2", "PANTAU_PORT": "x"})
    assert "hunter2" not in str(err.value)
    assert "hunter2" not in " ".join(Settings.from_env({"SECRET_KEY": "hunter2"}).describe())


def test_generated_secret_is_kept(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_secret_key() == settings.resolved_secret_key()
    assert len(settings.resolved_secret_key()) >= 48


def test_start_up_with_a_bad_setting_stops_with_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "app", "run"], cwd=ROOT, capture_output=True, text=True,
                         env={"PANTAU_CITY": "atlantis", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                              "PANTAU_DATA_DIR": str(tmp_path)}, timeout=60)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines()[-1].startswith("pantau: bad setting PANTAU_CITY: unknown city preset")


def test_unreachable_redis_is_retried_then_reported(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ingest", "aggregate", "--burst"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60,
                         env={"REDIS_URL": "redis://127.0.0.1:1/0", "PANTAU_REDIS_CONNECT_TIMEOUT_S": "1.5",
                              "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PANTAU_DATA_DIR": str(tmp_path)})
    assert run.returncode != 0
    assert "retrying in" in run.stderr                      # backoff, logged
    assert run.stderr.strip().splitlines()[-1].startswith("pantau: Redis at redis://127.0.0.1:1/0 is unreachable")
