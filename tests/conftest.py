"""Shared fixtures: one real stack (Kafka, Redis, ingest, worker, API with chDB) for the e2e and browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.running_stack import TEST_PORT_BASE, RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(Path(tmp_path_factory.mktemp("stack")), TEST_PORT_BASE)
    running.start()
    try:
        yield running
    finally:
        running.stop()
