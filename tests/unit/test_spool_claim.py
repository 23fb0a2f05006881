"""One ingest per spool folder: a second one on the same data dir would clear the first one's half-written batches
and replay the batches whose sends the first still has in flight."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clickpulse.folder_claim import FolderInUse
from clickpulse.settings import Settings
from ingest.metrics import Metrics
from ingest.sink import EventSink


def test_a_second_ingest_on_the_same_data_dir_is_refused_until_the_first_has_stopped(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = EventSink(settings, Metrics())
    half_written = tmp_path / "ingest-spool" / "00000000000000000001.tmp"
    half_written.write_bytes(b"the first ingest is writing this batch")
    with pytest.raises(FolderInUse, match="give each ingest its own CLICKPULSE_DATA_DIR"):
        EventSink(settings, Metrics())
    assert half_written.exists()
    asyncio.run(first.stop())
    EventSink(settings, Metrics())  # a restart after a stop takes the folder over, leftovers and all
    assert not half_written.exists()
