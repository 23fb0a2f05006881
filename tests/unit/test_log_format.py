"""Structured logs: one JSON object per line with time, level, logger, message and extra fields."""

from __future__ import annotations

import io
import json
import logging
import time

from clickpulse.log_format import JsonLineFormatter, logging_config
from clickpulse.outage_log import KafkaUnreachableDigest


def test_a_record_becomes_one_json_line_with_its_extra_fields_and_exception() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    log = logging.getLogger("clickpulse.test_log_format")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("spooled %d events", 3, extra={"site_id": "s1", "bytes": 1200})
        try:
            raise RuntimeError("kafka down")
        except RuntimeError:
            log.exception("publish failed")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "clickpulse.test_log_format"
    assert (first["message"], first["site_id"], first["bytes"]) == ("spooled 3 events", "s1", 1200)
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR" and "RuntimeError: kafka down" in second["exc"]


def test_the_level_name_is_upper_cased_for_the_logging_config() -> None:
    assert logging_config("info")["root"]["level"] == "INFO"


def kafka_client_record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_kafka_unreachable_lines_pass_once_per_window_as_a_warning_with_the_count_they_stand_for() -> None:
    digest = KafkaUnreachableDigest(every_s=0.2)
    refused = "[thrd:k:9092/bootstrap]: Connect to ipv4#k:9092 failed: Connection refused"
    records = [kafka_client_record("librdkafka", "%s [%s] %s", "FAIL", "ingest", refused) for _ in range(5)]
    records += [kafka_client_record("aiokafka", "Unable connect to node with id %s: %s", 1, "refused")]
    assert [digest.filter(r) for r in records] == [True, False, False, False, False, False]
    assert (records[0].levelname, records[0].__dict__["failures"]) == ("WARNING", 1)
    time.sleep(0.25)
    late = kafka_client_record("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s", 1, "NodeNotReady")
    assert digest.filter(late) and late.levelno == logging.WARNING and late.__dict__["failures"] == 6


def test_other_kafka_client_errors_pass_as_they_are() -> None:
    digest = KafkaUnreachableDigest()
    others = [
        kafka_client_record("aiokafka.consumer.group_coordinator", "Attempt to join group failed: %s", "fatal"),
        kafka_client_record("librdkafka", "%s [%s] %s", "SASL", "ingest", "authentication failed"),
        kafka_client_record("clickhouse.loader", "Unable to update metadata from %s", [1]),
    ]
    for record in others:
        assert digest.filter(record) and record.levelno == logging.ERROR


def test_every_service_log_handler_digests_kafka_unreachable_lines() -> None:
    config = logging_config("info")
    (name,) = config["handlers"]["stderr"]["filters"]
    assert config["filters"][name]["()"] is KafkaUnreachableDigest
