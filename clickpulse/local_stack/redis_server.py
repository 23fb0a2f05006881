"""Debian's redis-server, run in the foreground with append-only persistence under data_dir."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

from clickpulse.settings import Settings


def redis_command(settings: Settings) -> list[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing: run `make setup` (installs Debian's redis-server)")
    url = urlsplit(settings.redis_url)
    folder = settings.data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    return [
        binary,
        "--bind", url.hostname or "127.0.0.1",
        "--port", str(url.port or 6379),
        "--dir", str(folder),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", "",
    ]  # fmt: skip
