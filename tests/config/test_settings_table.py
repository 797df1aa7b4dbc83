"""Settings enter once: one table of defaults, the README's table generated from it, and no other
module reading the environment."""
import dataclasses
import inspect
import re
import subprocess
import sys
from pathlib import Path

from config import settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_settings_table_is_the_generated_one():
    generated = subprocess.run([sys.executable, "-m", "config.settings", "--markdown"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout
    assert generated == settings.markdown_table()
    readme = (ROOT / "README.md").read_text()
    start = readme.index("| variable | default | meaning |\n")
    shown = readme[start:readme.index("\n\n", start) + 1]
    assert shown == generated, "README's settings table is stale: run python -m config.settings --markdown"
    assert len(shown.splitlines()) == len(settings.SETTINGS) + 2


def test_defaults_are_written_once():
    """Every field of ``Settings`` takes its default from its SETTINGS row, and every row is a field."""
    source = inspect.getsource(settings.Settings)
    names = [f.name for f in dataclasses.fields(settings.Settings)]
    assert sorted(names) == sorted(s.attr for s in settings.SETTINGS)
    for name in names:
        assert re.search(rf"^    {name}: .*DEFAULTS\[\"{name}\"\]", source, re.M), name
    assert settings.Settings() == settings.Settings.from_env({})


def test_nothing_but_the_settings_module_reads_the_environment():
    pattern = re.compile(r"\bos\.(environ|getenv)\b|\bgetenv\(")
    readers = [str(path.relative_to(ROOT)) for folder in ("app", "callbacks", "config", "ingest", "layouts")
               for path in sorted((ROOT / folder).rglob("*.py"))
               if pattern.search(path.read_text()) and path != ROOT / "config" / "settings.py"]
    readers += ["wsgi.py"] if pattern.search((ROOT / "wsgi.py").read_text()) else []
    assert readers == []


def test_log_level_is_a_setting():
    assert settings.Settings.from_env({"PANTAU_LOG_LEVEL": "warning"}).log_level == "WARNING"
    try:
        settings.Settings.from_env({"PANTAU_LOG_LEVEL": "loud"})
    except settings.SettingsError as err:
        assert "PANTAU_LOG_LEVEL" in str(err) and "DEBUG, INFO" in str(err)
    else:
        raise AssertionError("a bad log level was accepted")
