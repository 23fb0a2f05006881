"""docker-compose.yml cannot run here (no Docker engine), so we check that it agrees with our settings."""

from __future__ import annotations

from typing import Any

import yaml

from clickpulse.settings import REPO_ROOT, Settings

SERVICES = ("ingest", "worker", "loader", "api")


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_compose_has_kafka_clickhouse_redis_and_every_service() -> None:
    assert {"kafka", "clickhouse", "redis", *SERVICES} <= set(compose()["services"])


def test_every_service_setting_is_a_field_of_the_settings_object_and_parses() -> None:
    services = compose()["services"]
    for name in SERVICES:
        env = services[name]["environment"]
        fields = {k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()}
        assert all(k.startswith("CLICKPULSE_") for k in env), name
        assert set(fields) <= set(Settings.model_fields), (name, set(fields) - set(Settings.model_fields))
        settings = Settings(**fields)
        assert settings.kafka_bootstrap == "kafka:9092"
        assert settings.effective_clickhouse_dsn.startswith("http://")
        assert services[name]["command"] == [name]


def test_published_ports_match_the_services_settings() -> None:
    services = compose()["services"]
    for name, field in (("ingest", "ingest_port"), ("api", "api_port")):
        port = Settings(**{field: services[name]["environment"][f"CLICKPULSE_{field.upper()}"]}).model_dump()[field]
        assert services[name]["ports"] == [f"{port}:{port}"]


def test_kafka_in_compose_is_the_version_we_assemble() -> None:
    pom = (REPO_ROOT / "infra" / "kafka" / "pom.xml").read_text()
    version = compose()["services"]["kafka"]["image"].split(":")[1]
    assert f"<kafka.version>{version}</kafka.version>" in pom
