"""The worker's local table store is kept across a restart only if the worker stopped cleanly.

A batch writes its rows to the local store before their changelog records go, which is only once Kafka has the
batch's outputs (stream_jobs.app's outputs_then_rows). A kill -9 in between leaves the store with rows the
changelog never got: a worker restarting on it would take the batch's events, read again from Kafka, for applied
already, and their signals and identity links would never be sent. As Kafka Streams does when its checkpoint file
is missing, a store that no clean stop vouches for is deleted before the worker starts, and Faust rebuilds it from
the changelog.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT = "stopped-cleanly"


class StoreCheckpoint:
    def __init__(self, tabledir: Path) -> None:
        self.tabledir = tabledir

    def open(self) -> bool:
        """Before the worker starts: delete a store left by a crash (True if it did), and take the checkpoint
        away, so that a crash of this run is known at the next start."""
        checkpoint = self.tabledir / CHECKPOINT
        if checkpoint.exists():
            checkpoint.unlink()
            return False
        if not self.tabledir.exists() or not any(self.tabledir.iterdir()):
            return False
        log.warning("the table store at %s was left by a crash: deleted, to be rebuilt from the changelog",
                    self.tabledir)  # fmt: skip
        shutil.rmtree(self.tabledir)
        return True

    def stopped_cleanly(self) -> None:
        """After a stop that waited for the batches in flight and flushed the producer."""
        self.tabledir.mkdir(parents=True, exist_ok=True)
        (self.tabledir / CHECKPOINT).touch()
