"""Structured logs: one JSON object per line with time, level, logger, message and extra fields."""

from __future__ import annotations

import io
import json
import logging

from clickpulse.log_format import JsonLineFormatter, logging_config


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
