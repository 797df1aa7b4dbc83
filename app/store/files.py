"""Private files: the data folder holds contacts, password hashes, the Redis AOF, exports and
photos, so it and everything Pantau writes under it are readable by its own account only
(folders 0700, files 0600), whatever the umask of the shell that started it."""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_folder(folder: Path) -> Path:
    """Create ``folder`` (and parents) readable by this account only; tighten it if it exists."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)
    return folder


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte (never readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)     # an older file keeps its mode through O_TRUNC


def make_data_private(settings) -> None:
    """For every process at start-up: files it creates are 0600 and folders 0700 (umask), and the
    data and photo folders are closed to other accounts, also those an older version left open
    (a closed folder hides what is inside, so existing files need no walk)."""
    os.umask(PRIVATE_UMASK)
    private_folder(settings.data_dir)
    for folder in (settings.data_dir / "redis", settings.data_dir / "exports",
                   getattr(settings, "photo_dir", None) or settings.data_dir / "photos"):
        if Path(folder).exists():
            private_folder(folder)
    sqlite = settings.sqlite_path
    for path in (sqlite, sqlite.with_name(sqlite.name + "-wal"), sqlite.with_name(sqlite.name + "-shm"),
                 settings.data_dir / "secret_key"):
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
