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

from app.store.keys import Keys
from app.store.redis_conn import _free_port
from tests.conftest import ROOT, SHARED_DATA


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def test_run_starts_the_whole_stack_and_ctrl_c_stops_it(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"PANTAU_DATA_DIR": str(tmp_path / "var"), "PANTAU_PORT": str(port), "PANTAU_SIM_RATE": "5", "PANTAU_SEED_HISTORY": "off",
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


def _start_stack(tmp_path, sim_rate="0"):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"PANTAU_DATA_DIR": str(tmp_path / "var"), "PANTAU_PORT": str(port), "PANTAU_SIM_RATE": sim_rate, "PANTAU_SEED_HISTORY": "off",
                "PANTAU_WEB_WORKERS": "1", "PANTAU_LOG_LEVEL": "WARNING"})
    stack = subprocess.Popen([sys.executable, "-m", "app", "run"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    banner = stack.stdout.readline()
    while "is running" not in banner:
        assert banner, "app run exited before printing its URL"
        banner = stack.stdout.readline()
    return stack, env, f"http://127.0.0.1:{port}"


def _healthy_within(base, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status, body = _get(f"{base}/healthz", timeout=2)
            if status == 200 and json.loads(body)["ok"]:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def test_run_restarts_its_embedded_redis_after_sigkill_and_keeps_the_data(tmp_path):
    import redis
    import sqlalchemy

    stack, env, base = _start_stack(tmp_path)
    try:
        assert _healthy_within(base, 60), "the stack never became healthy"
        created = subprocess.run([sys.executable, "-m", "app.open311", "keys", "create", "--name", "test"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        body = urlencode({"api_key": key, "service_code": "garbage", "lat": "-6.1754", "long": "106.8272",
                          "description": "Sampah menumpuk"}).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{base}/open311/v2/requests.json", data=body),
                                    timeout=10) as response:
            assert response.status == 201
            ticket = json.loads(response.read())[0]["service_request_id"]
        engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'var' / 'pantau.sqlite3'}")
        deadline, report_id = time.monotonic() + 30, None
        while report_id is None:      # the persister writes it to SQL
            assert time.monotonic() < deadline, "the report never reached SQL"
            time.sleep(0.3)
            with engine.connect() as conn:
                report_id = conn.execute(sqlalchemy.text("select id from reports where ticket = :t"),
                                         {"t": ticket}).scalar()
        engine.dispose()
        folder = tmp_path / "var" / "redis"
        client = redis.Redis(port=int((folder / "redis.port").read_text()),
                             password=(folder / "redis.password").read_text().strip(), decode_responses=True)
        deadline = time.monotonic() + 30
        while not client.hexists(Keys("jakarta").agg_records, report_id):   # the aggregator counted it
            assert time.monotonic() < deadline, "the report was never aggregated"
            time.sleep(0.3)
        client.close()
        server = next(p for p in psutil.Process(stack.pid).children(recursive=True)
                      if "redis-server" in " ".join(p.cmdline()))
        server.send_signal(signal.SIGKILL)                  # Redis dies hard, mid-run
        server.wait(10)
        killed = time.monotonic()
        assert _healthy_within(base, 30), "the stack stayed unhealthy after its Redis was killed"
        print(f"healthy again {time.monotonic() - killed:.1f} s after SIGKILL")
        client = redis.Redis(port=int((folder / "redis.port").read_text()),
                             password=(folder / "redis.password").read_text().strip(), decode_responses=True)
        # The report the aggregator counted before the kill is still counted (the AOF kept it).
        assert client.hexists(Keys("jakarta").agg_records, report_id)
        client.close()
        def command(process):   # the killed one may linger as a zombie until reaped
            try:
                return " ".join(process.cmdline())
            except psutil.Error:
                return ""

        again = next(p for p in psutil.Process(stack.pid).children(recursive=True)
                     if "redis-server" in command(p))
        assert again.pid != server.pid
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(60)
        except subprocess.TimeoutExpired:
            stack.kill()
            raise
