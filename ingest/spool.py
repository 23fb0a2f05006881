"""A local write-ahead spool: batches Kafka could not take in time, fsync'd to disk, replayed in order.

One file per batch, named by a monotonic sequence, written to a temp name, fsync'd and renamed,
so a crash leaves either a whole batch or none. A batch partly delivered is rewritten the same way,
keeping its name and so its place in the order.
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

    def append(self, records: list[Record]) -> Path:
        data = msgspec.msgpack.encode(records)
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull
        seq = max(time.time_ns(), self._last_seq + 1)
        self._last_seq = seq
        final = self.folder / f"{seq:020d}.batch"
        self._write_durably(final, data)
        self._bytes += len(data)
        self._count += 1
        return final

    def rewrite(self, path: Path, records: list[Record]) -> None:
        """Keep only `records` of a spooled batch, under the same name so its place in the order holds."""
        if not records:
            self.remove(path)
            return
        data = msgspec.msgpack.encode(records)
        old_size = path.stat().st_size
        if len(data) == old_size and path.read_bytes() == data:
            return
        self._write_durably(path, data)
        self._bytes += len(data) - old_size

    def _write_durably(self, final: Path, data: bytes) -> None:
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

    @staticmethod
    def read(path: Path) -> list[Record]:
        return [tuple(r) for r in msgspec.msgpack.decode(path.read_bytes())]  # type: ignore[misc]

    def remove(self, path: Path) -> None:
        size = path.stat().st_size
        path.unlink()
        self._bytes -= size
        self._count -= 1
