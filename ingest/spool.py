"""A local write-ahead spool: batches Kafka could not take in time, fsync'd to disk, replayed in order.

One file per batch, named by a monotonic sequence, written to a temp name, fsync'd and renamed,
so a crash leaves either a whole batch or none. A batch partly delivered is rewritten the same way,
keeping its name and so its place in the order.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import msgspec

Record = tuple[str, bytes, bytes]  # topic, key, value


# Typed decoding checks a file's shape as it reads it: a damaged file fails here, not inside a send.
_records = msgspec.msgpack.Decoder(list[tuple[str, bytes, bytes]])


class SpoolRefused(Exception):
    """The spool cannot take a batch: its requests answer 503 with this reason and their clients retry."""

    reason = "spool_unavailable"


class SpoolFull(SpoolRefused):
    reason = "spool_full"


class SpoolUnavailable(SpoolRefused):
    """The disk failed the write (ENOSPC, EIO...)."""


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
        # New names sort after the spooled ones even if the wall clock stepped back since they were written.
        self._last_seq = max((int(p.stem) for p in existing if p.stem.isdigit()), default=0)

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
        try:
            self._write_durably(final, data)
        except OSError:
            # Refused means not kept: nothing of the batch may be replayed behind its clients' retries.
            for leftover in (final.with_suffix(".tmp"), final):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise
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
        """A spooled batch; msgspec.DecodeError when the file is damaged."""
        return _records.decode(path.read_bytes())

    def set_aside(self, path: Path) -> Path:
        """Take a damaged batch out of the queue, kept as .bad for a person to look at."""
        size = path.stat().st_size
        bad = path.with_suffix(".bad")
        os.rename(path, bad)
        self._bytes -= size
        self._count -= 1
        return bad

    def remove(self, path: Path) -> None:
        size = path.stat().st_size
        path.unlink()
        self._bytes -= size
        self._count -= 1
