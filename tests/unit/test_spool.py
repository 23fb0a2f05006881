"""The write-ahead spool keeps whole batches in order, survives reopening, and refuses when full."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.spool import Spool, SpoolFull


def test_batches_come_back_in_order_after_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    spool.append([("events", b"k1", b"v1")])
    spool.append([("events", b"k2", b"v2"), ("events.dlq", b"", b"bad")])
    reopened = Spool(tmp_path, max_bytes=1_000_000)
    assert reopened.has_pending
    assert [Spool.read(p) for p in reopened.pending()] == [
        [("events", b"k1", b"v1")],
        [("events", b"k2", b"v2"), ("events.dlq", b"", b"bad")],
    ]
    for path in reopened.pending():
        reopened.remove(path)
    assert not reopened.has_pending and reopened.size_bytes == 0


def test_a_full_spool_refuses_new_batches(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64)
    spool.append([("events", b"k", b"x" * 20)])
    with pytest.raises(SpoolFull):
        spool.append([("events", b"k", b"y" * 60)])


def test_half_written_batches_from_a_crash_are_discarded(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000001.tmp").write_bytes(b"partial")
    spool = Spool(tmp_path, max_bytes=1000)
    assert not spool.has_pending and not list(tmp_path.glob("*.tmp"))


def test_a_partly_delivered_batch_keeps_only_the_rest_and_its_place_in_the_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    first = spool.append([("events", b"a", b"1"), ("events", b"b", b"2"), ("events", b"a", b"3")])
    spool.append([("events", b"a", b"4")])
    spool.rewrite(first, [("events", b"a", b"3")])
    reopened = Spool(tmp_path, max_bytes=1_000_000)
    assert [Spool.read(p) for p in reopened.pending()] == [[("events", b"a", b"3")], [("events", b"a", b"4")]]
    assert spool.size_bytes == reopened.size_bytes


def test_a_fully_delivered_batch_leaves_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    path = spool.append([("events", b"a", b"1")])
    spool.rewrite(path, [])
    assert not spool.has_pending and spool.size_bytes == 0 and not list(tmp_path.iterdir())


def test_batches_spooled_after_the_clock_stepped_back_across_a_restart_still_come_after_the_older_ones(
    tmp_path: Path,
) -> None:
    # A batch named by a clock an hour ahead of now, as if the wall clock stepped back before this start.
    ahead = time.time_ns() + 3600 * 10**9
    older = tmp_path / f"{ahead:020d}.batch"
    Spool(tmp_path, max_bytes=1_000_000).append([("events", b"a", b"1")]).rename(older)
    newer = Spool(tmp_path, max_bytes=1_000_000).append([("events", b"a", b"2")])
    assert Spool(tmp_path, max_bytes=1_000_000).pending() == [older, newer]
