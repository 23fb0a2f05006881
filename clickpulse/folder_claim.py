"""One process per state folder (a stack's data dir, an ingest's spool): an flock on the folder itself, held until
released or the process ends, so a crashed holder leaves nothing to clean up and the folder holds only its state."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class FolderInUse(Exception):
    """Another running process holds the folder; the message says what to do."""


def claim_folder(folder: Path, in_use: str) -> int:
    """The lock's descriptor; raises FolderInUse(in_use) while another process holds the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise FolderInUse(in_use) from None
    return descriptor


def release_folder(descriptor: int) -> None:
    os.close(descriptor)
