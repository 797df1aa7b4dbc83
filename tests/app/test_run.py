"""The main job, as `make run` starts it: `python -m app run` on embedded defaults.

Nothing but a data folder: it starts its own Redis, SQLite, consumers, simulator, refresher and
the gunicorn web server; a report POSTed through Open311 reaches SQL; the simulated city shows
up on the wall's API; Ctrl-C (SIGINT) stops every process it started, Redis included.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlencode

import psutil

from app.store.redis_conn import _free_port
from tests.conftest import ROOT, SHARED_DATA


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def test_run_starts_the_whole_stack_and_ctrl_c_stops_it(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"PANTAU_DATA_DIR": str(tmp_path / "var"), "PANTAU_PORT": str(port), "PANTAU_SIM_RATE": "5",
                "PANTAU_WEB_WORKERS": "2", "PANTAU_LOG_LEVEL": "WARNING"})
    if SHARED_DATA.exists():
        env["PANTAU_BOUNDARIES"] = str(SHARED_DATA)
    stack = subprocess.Popen([sys.executable, "-m", "app", "run"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        banner = stack.stdout.readline()
        while "is running" not in banner:
            assert banner, "app run exited before printing its URL"
            banner = stack.stdout.readline()
        assert base + "/" in banner
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(f"{base}/healthz")
                if status == 200 and json.loads(body)["ok"]:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the stack never became healthy"
            time.sleep(0.5)
        descendants = psutil.Process(stack.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in descendants)
        for part in ("redis-server", "ingest aggregate", "ingest persist", "ingest simulate", "app serve",
                     "app.public refresh"):
            assert part in names, f"{part} is not running"

        # A key from the documented command, against the running stack's own data folder.
        created = subprocess.run([sys.executable, "-m", "app.open311", "keys", "create", "--name", "test"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        body = urlencode({"api_key": key, "service_code": "flood", "lat": "-6.1754", "long": "106.8272",
                          "attribute[water_depth_cm]": "40", "description": "Banjir setinggi lutut"}).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{base}/open311/v2/requests.json", data=body),
                                    timeout=10) as response:
            assert response.status == 201
            token = json.loads(response.read())[0]["token"]
        deadline = time.monotonic() + 30
        while True:   # the persister writes it to SQL; the token endpoint answers from SQL
            try:
                if _get(f"{base}/open311/v2/tokens/{token}.json")[0] == 200:
                    break
            except urllib.error.HTTPError as err:
                assert err.code == 404
            assert time.monotonic() < deadline, "the report never reached SQL"
            time.sleep(0.5)
        # The simulated city feeds the wall, opened on a screen with a display token from the documented command.
        created = subprocess.run([sys.executable, "-m", "app.auth", "displays", "create", "--name", "test wall"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        wall_url = created.stdout.strip().splitlines()[-1]
        assert wall_url.startswith(f"{base}/wall?display=")
        screen = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with screen.open(wall_url, timeout=10) as response:
            assert response.status == 200 and response.url == f"{base}/wall"   # the token left the URL
        with screen.open(f"{base}/wall/api/snapshot?metric=reports&window=today&res=8", timeout=10) as response:
            snapshot = json.loads(response.read())
        assert sum(snapshot["cells"].values()) >= 1
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            code = stack.wait(60)
        except subprocess.TimeoutExpired:
            stack.kill()
            raise
    assert code == 0
    time.sleep(0.5)
    left = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"still running after Ctrl-C: {[' '.join(p.cmdline()) for p in left]}"
