"""A local write-ahead spool: batches Kafka could not take in time, fsync'd to disk, replayed in order.

One file per batch, named by a monotonic sequence, written to a temp name, fsync'd and renamed,
so a crash leaves either a whole batch or none.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec

Record = tuple[str, bytes, bytes]  # topic, key, value


class SpoolFull(Exception):
    pass


class Spool:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob("*.tmp"):
            leftover.unlink()
        existing = list(folder.glob("*.batch"))
        self._bytes = sum(p.stat().st_size for p in existing)
        self._count = len(existing)
        self._last_seq = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def has_pending(self) -> bool:
        return self._count > 0

    def pending(self) -> list[Path]:
        return sorted(self.folder.glob("*.batch"))

    def append(self, records: list[Record]) -> None:
        data = msgspec.msgpack.encode(records)
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull
        seq = max(time.time_ns(), self._last_seq + 1)
        self._last_seq = seq
        final = self.folder / f"{seq:020d}.batch"
        tmp = final.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._bytes += len(data)
        self._count += 1

    @staticmethod
    def read(path: Path) -> list[Record]:
        return [tuple(r) for r in msgspec.msgpack.decode(path.read_bytes())]  # type: ignore[misc]

    def remove(self, path: Path) -> None:
        size = path.stat().st_size
        path.unlink()
        self._bytes -= size
        self._count -= 1
