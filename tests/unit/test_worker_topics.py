"""The worker's own topics (its table's changelog, which Faust creates) follow the topic settings."""

from __future__ import annotations

from pathlib import Path

from clickpulse.settings import Settings
from stream_jobs.app import RowHandOffs, create_app
from stream_jobs.worker_metrics import WorkerMetrics


def test_the_worker_config_carries_the_topic_replication_factor_and_its_changelog_the_partitions(
    tmp_path: Path,
) -> None:
    app = create_app(
        Settings(topic_replication_factor=3, topic_partitions=6, data_dir=tmp_path), WorkerMetrics(), RowHandOffs()
    )
    assert (app.conf.topic_replication_factor, app.conf.topic_partitions) == (3, 6)
    assert app.tables["visitors"].changelog_topic.partitions == 6
