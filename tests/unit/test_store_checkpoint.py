"""A worker's local table store outlives a restart only after a clean stop (stream_jobs.store_checkpoint)."""

from __future__ import annotations

from pathlib import Path

from stream_jobs.store_checkpoint import CHECKPOINT, StoreCheckpoint


def a_store(tabledir: Path) -> Path:
    row = tabledir / "clickpulse-visitors-0.db" / "000001.log"
    row.parent.mkdir(parents=True)
    row.write_bytes(b"rows")
    return row


def test_a_store_left_by_a_crash_is_deleted_before_the_worker_starts(tmp_path: Path) -> None:
    row = a_store(tmp_path / "tables")
    assert StoreCheckpoint(tmp_path / "tables").open() is True
    assert not row.exists()


def test_a_store_a_clean_stop_vouched_for_is_kept_and_its_checkpoint_taken_for_the_run(tmp_path: Path) -> None:
    row = a_store(tmp_path / "tables")
    checkpoint = StoreCheckpoint(tmp_path / "tables")
    checkpoint.stopped_cleanly()
    assert checkpoint.open() is False
    assert row.read_bytes() == b"rows"
    # This run may crash: until it stops cleanly, the next start would delete the store.
    assert not (tmp_path / "tables" / CHECKPOINT).exists()
    assert StoreCheckpoint(tmp_path / "tables").open() is True


def test_a_first_start_has_nothing_to_delete(tmp_path: Path) -> None:
    assert StoreCheckpoint(tmp_path / "tables").open() is False
    (tmp_path / "tables").mkdir()
    assert StoreCheckpoint(tmp_path / "tables").open() is False
    assert (tmp_path / "tables").exists()
