"""Uploads that declare huge images: the web server's memory and CPU for four concurrent /lapor
uploads of the issue's 38 KB PNG declaring 6300×6300, and the answer to a 100000×100000 header.

Starts an embedded Redis and ``python -m app serve`` (gunicorn, one worker) as ``make run`` does,
posts the report form's upload callback four times at once, and reads the worker's peak resident
memory (VmHWM) and CPU time from /proc. The baseline, in the same run: the photo code before
issue #10 (``git show 0ee80c8:app/photos.py``) storing the same file once, in a child process.

    .venv/bin/python bench/uploads.py

Prints progress, and as its last line one JSON object.
"""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BEFORE = "0ee80c8"     # main before issue #10


def flat_png(side: int = 6300) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (side, side)).save(out, "PNG", optimize=True)
    return out.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def upload_body(data: bytes) -> bytes:
    contents = "data:image/png;base64," + base64.b64encode(data).decode()
    return json.dumps({
        "output": "..lapor-photo-ref.data...lapor-photo-status.children..",
        "outputs": [{"id": "lapor-photo-ref", "property": "data"}, {"id": "lapor-photo-status", "property": "children"}],
        "inputs": [{"id": "lapor-photo", "property": "contents", "value": contents}],
        "state": [{"id": "lapor-photo", "property": "filename", "value": "flat.png"},
                  {"id": "lapor-language", "property": "data", "value": "en"}],
        "changedPropIds": ["lapor-photo.contents"]}).encode()


def post(port: int, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_dash-update-component", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()[:400]
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()[:400]


def proc_figures(pid: int) -> tuple[float, float, float]:
    """(resident MB now, peak resident MB, CPU seconds) of one process."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line}
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024,
            (int(stat[11]) + int(stat[12])) / ticks)


def baseline(path: Path, workdir: Path) -> dict:
    """The photo code before the fix, storing the file once in a fresh process."""
    old = workdir / "photos_before.py"
    old.write_text(subprocess.run(["git", "show", f"{BEFORE}:app/photos.py"], cwd=ROOT, capture_output=True,
                                  text=True, check=True).stdout)
    script = f"""
import resource, sys, time
sys.path.insert(0, {str(workdir)!r}); sys.path.insert(1, {str(ROOT)!r})
import photos_before as photos
from config.settings import Settings
from pathlib import Path
data = Path({str(path)!r}).read_bytes()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; cpu = time.process_time()
photos.store_photo(Settings(data_dir=Path({str(workdir / 'old')!r})), data, 'flat.png')
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, time.process_time() - cpu)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    grown, cpu = out.stdout.split()
    return {"peak_growth_mb_one_upload": round(float(grown)), "cpu_s_one_upload": round(float(cpu), 2)}


def main() -> int:
    import psutil

    from app.store.redis_conn import EmbeddedRedis, _free_port

    workdir = Path(tempfile.mkdtemp(prefix="pantau-bench-uploads-"))
    data = flat_png()
    (workdir / "flat.png").write_bytes(data)
    print(f"flat PNG: {len(data)} bytes declaring 6300x6300", file=sys.stderr)
    before = baseline(workdir / "flat.png", workdir)
    print(f"before the fix, one upload: {before}", file=sys.stderr)

    redis_server = EmbeddedRedis(workdir / "redis").start()
    port = _free_port()
    env = {**os.environ, "PANTAU_DATA_DIR": str(workdir / "var"), "REDIS_URL": redis_server.url,
           "PANTAU_PORT": str(port), "PANTAU_WEB_WORKERS": "1", "PANTAU_SIM_RATE": "0", "SECRET_KEY": "bench"}
    server = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        # One small request first so the worker has loaded everything it keeps.
        post(port, upload_body(flat_png(64)))
        worker = [p for p in psutil.Process(server.pid).children()
                  if "app.web_assets" not in " ".join(p.cmdline())][0].pid   # a worker, not the static copies' maker
        rss0, _, cpu0 = proc_figures(worker)
        answers = []
        body = upload_body(data)
        threads = [threading.Thread(target=lambda: answers.append(post(port, body))) for _ in range(4)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        rss1, peak, cpu1 = proc_figures(worker)
        stored = sum(1 for status, text in answers if status == 200 and '"data":"' in text)
        bomb = post(port, upload_body(bomb_png(100_000, 100_000)))
        print(f"bomb header: {bomb[0]} {bomb[1][:160]}", file=sys.stderr)
        result = {"benchmark": "uploads", "uploads": 4, "file_bytes": len(data), "declared": "6300x6300",
                  "stored": stored, "wall_s": round(wall, 2),
                  "worker_rss_mb_before": round(rss0), "worker_peak_rss_mb": round(peak),
                  "worker_peak_growth_mb": round(peak - rss0), "worker_cpu_s_per_upload": round((cpu1 - cpu0) / 4, 2),
                  "bomb_100000x100000_status": bomb[0],
                  "bomb_answer_names_rule": "megapixels" in bomb[1],
                  "before_fix": before,
                  "issue_figures_before": {"worker_rss_mb": "492 -> 2300", "cpu_s_per_upload": 9}}
        print(json.dumps(result))
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
