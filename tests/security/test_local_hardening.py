"""Another account on the same machine tries to read what Pantau keeps: the embedded Redis (the
stream holds contacts), the data folder (SQLite with contacts and password hashes, the AOF,
exports, photos), and ``CONFIG SET dir`` to make Redis write files elsewhere."""
import io
import os
import stat

import pytest
import redis
from PIL import Image

from app.store.redis_conn import EmbeddedRedis
from tests.conftest import make_settings


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def own_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "var" / "redis").start()
    yield server
    server.stop()


def test_the_embedded_redis_refuses_a_client_without_the_password(own_redis):
    stranger = redis.Redis(host="127.0.0.1", port=own_redis.port, socket_connect_timeout=2)
    with pytest.raises(redis.AuthenticationError):
        stranger.xrange("pantau:{jakarta}:events:0")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=own_redis.port, password="guess").ping()
    owner = redis.Redis.from_url(own_redis.url)
    assert owner.ping()
    with pytest.raises(redis.ResponseError, match="unknown command"):
        owner.execute_command("CONFIG", "SET", "dir", "/tmp")      # not even with the password
    owner.close()


def test_the_redis_folder_password_config_and_aof_are_private(own_redis):
    folder = own_redis.folder
    owner = redis.Redis.from_url(own_redis.url)
    owner.xadd("pantau:{jakarta}:events:0", {"reporter_phone": "+62 812 1111 2222"})
    owner.close()
    assert _mode(folder) == 0o700
    for name in ("redis.password", "redis.conf"):
        assert _mode(folder / name) == 0o600, name
    aof = [p for p in folder.iterdir() if p.name.startswith("appendonly")]
    assert aof and all(_mode(p) & 0o077 == 0 for p in aof), [(p.name, oct(_mode(p))) for p in aof]
    assert own_redis.password not in (folder / "redis.log").read_text()


def test_the_same_folder_gets_the_same_password_and_an_attached_process_finds_it(own_redis):
    again = EmbeddedRedis(own_redis.folder).start()      # a CLI next to a running stack
    assert again.port == own_redis.port and again.password == own_redis.password
    assert redis.Redis.from_url(again.url).ping()


def test_the_data_folder_sqlite_secret_photos_and_exports_are_private(tmp_path, redis_url):
    from app.photos import photo_path, store_photo
    from app.services import Services

    old = os.umask(0o022)           # the shell of a typical server account
    try:
        settings = make_settings(tmp_path, redis_url, None).with_(secret_key=None)
        settings.data_dir.mkdir(parents=True, mode=0o755)
        os.chmod(settings.data_dir, 0o755)                 # as an older version left it
        services = Services.open(settings)
        try:
            settings.resolved_secret_key()
            buffer = io.BytesIO()
            Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, "PNG")
            photo = store_photo(settings, buffer.getvalue(), "a.png")
            export = settings.data_dir / "exports"
            export.mkdir(exist_ok=True)
            (export / "x.csv").write_bytes(b"ticket\n")
        finally:
            services.close()
    finally:
        os.umask(old)
    data = settings.data_dir
    assert _mode(data) == 0o700
    assert _mode(settings.sqlite_path) & 0o077 == 0, oct(_mode(settings.sqlite_path))
    assert _mode(data / "secret_key") == 0o600
    path = photo_path(settings, photo.ref)
    assert _mode(path) & 0o077 == 0 and _mode(path.parent) & 0o077 == 0
    assert _mode(export) & 0o077 == 0 and _mode(export / "x.csv") & 0o077 == 0
