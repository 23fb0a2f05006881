"""A single-node Kafka broker in KRaft mode, run from the jars infra/kafka/pom.xml assembles."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from clickpulse.settings import REPO_ROOT, Settings

KAFKA_POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"
KAFKA_LIBS = REPO_ROOT / ".local" / "kafka" / "libs"
# Written into the libs folder once an assembly has finished: the digest of the pom it assembled.
POM_STAMP = ".pom-sha256"

# To standard output, which the supervisor keeps in logs/kafka.log, the file its "kafka exited" error names.
LOG4J2_CONFIG = """\
Configuration:
  status: warn
  Appenders:
    Console:
      name: out
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: out
    Logger:
      - name: kafka.server.KafkaServer
        level: INFO
"""
# As long as the topics keep records (log.retention.hours): 7 days.
MAX_COMPACTION_LAG_MS = 7 * 24 * 3600 * 1000


def pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def broker_assembled(pom: Path = KAFKA_POM, libs: Path = KAFKA_LIBS) -> bool:
    """True when libs holds a finished assembly of this very pom: its Kafka version's jar and the pom's stamp."""
    version = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    stamp = libs / POM_STAMP
    return (
        version is not None
        and (libs / f"kafka_2.13-{version[1]}.jar").is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == pom_digest(pom)
    )


def assemble_broker(pom: Path = KAFKA_POM, libs: Path = KAFKA_LIBS) -> None:
    """Fetch the broker's jars from Maven Central when the pom changed or no assembly finished; else a no-op."""
    if broker_assembled(pom, libs):
        return
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed once to assemble the Kafka broker; install it and retry")
    # Assembled beside the old jars and swapped in whole: the classpath never mixes two versions or half a set.
    fresh, old = libs.with_name(f"{libs.name}.new"), libs.with_name(f"{libs.name}.old")
    shutil.rmtree(fresh, ignore_errors=True)
    subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "package", f"-Dlibs.dir={fresh}"], check=True)
    (fresh / POM_STAMP).write_text(pom_digest(pom))
    shutil.rmtree(old, ignore_errors=True)
    if libs.exists():
        libs.rename(old)
    fresh.rename(libs)
    shutil.rmtree(old, ignore_errors=True)


def bootstrap_host_port(bootstrap: str) -> tuple[str, int]:
    """The first broker of a bootstrap list: the local broker's own address."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host, int(port)


def write_config(settings: Settings) -> Path:
    """Write server.properties and the log4j2 config under data_dir/kafka; return the properties path."""
    home = settings.data_dir / "kafka"
    home.mkdir(parents=True, exist_ok=True)
    host, port = bootstrap_host_port(settings.kafka_bootstrap)
    ctl = settings.kafka_controller_port
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{ctl}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(home / "logs"),
        "num.partitions": str(settings.topic_partitions),
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "log.retention.hours": "168",
        # The worker's changelog is compacted, not aged out: without a bound, an erased visitor's earlier table
        # rows would stay in it until its log cleaner happened to get round to them.
        "log.cleaner.max.compaction.lag.ms": str(MAX_COMPACTION_LAG_MS),
        # A killed broker loses nothing (the page cache survives it); fsync at most a second behind
        # bounds what a power cut of this one machine could take. Production relies on replication.
        "log.flush.interval.ms": "1000",
    }
    path = home / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (home / "log4j2.yaml").write_text(LOG4J2_CONFIG)
    return path


def _java_command(settings: Settings, main_class: str, *args: str) -> list[str]:
    home = settings.data_dir / "kafka"
    return [
        "java",
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={home / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={home}",
        "-cp",
        f"{KAFKA_LIBS}/*",
        main_class,
        *args,
    ]


def format_storage_once(settings: Settings, properties: Path) -> None:
    """KRaft storage is formatted exactly once; later starts find their data again."""
    logs = settings.data_dir / "kafka" / "logs"
    if (logs / "meta.properties").exists():
        return
    cluster_id = "-"
    while not cluster_id[0].isalnum():  # an id starting with "-" would be read as an option
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    subprocess.run(
        _java_command(settings, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties)),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def broker_command(settings: Settings) -> list[str]:
    """Prepare config and storage; return the command that runs the broker in the foreground."""
    assemble_broker()
    properties = write_config(settings)
    format_storage_once(settings, properties)
    return _java_command(settings, "kafka.Kafka", str(properties))
