"""When the local broker's jars must be fetched again: judged by the jar infra/kafka/pom.xml asks for and the stamp a
finished assembly leaves, never by the folder alone."""

from __future__ import annotations

from pathlib import Path

from clickpulse.local_stack.kafka_broker import POM_STAMP, broker_assembled, pom_digest

POM = "<project><properties><kafka.version>{version}</kafka.version></properties></project>\n"


def assembled(tmp_path: Path, version: str) -> tuple[Path, Path]:
    pom, libs = tmp_path / "pom.xml", tmp_path / "libs"
    pom.write_text(POM.format(version=version))
    libs.mkdir()
    (libs / f"kafka_2.13-{version}.jar").write_bytes(b"jar")
    (libs / POM_STAMP).write_text(pom_digest(pom))
    return pom, libs


def test_a_finished_assembly_of_this_pom_is_kept(tmp_path: Path) -> None:
    assert broker_assembled(*assembled(tmp_path, "4.1.1"))


def test_an_interrupted_assembly_without_its_stamp_is_redone(tmp_path: Path) -> None:
    pom, libs = assembled(tmp_path, "4.1.1")
    (libs / POM_STAMP).unlink()
    assert not broker_assembled(pom, libs)


def test_a_version_bump_in_the_pom_is_fetched(tmp_path: Path) -> None:
    pom, libs = assembled(tmp_path, "4.1.1")
    pom.write_text(POM.format(version="4.2.0"))
    assert not broker_assembled(pom, libs)


def test_any_other_change_to_the_pom_is_fetched(tmp_path: Path) -> None:
    pom, libs = assembled(tmp_path, "4.1.1")
    pom.write_text(pom.read_text().replace("</properties>", "<log4j.version>2.25.0</log4j.version></properties>"))
    assert not broker_assembled(pom, libs)


def test_a_missing_broker_jar_is_fetched_despite_the_stamp(tmp_path: Path) -> None:
    pom, libs = assembled(tmp_path, "4.1.1")
    (libs / "kafka_2.13-4.1.1.jar").unlink()
    assert not broker_assembled(pom, libs)
