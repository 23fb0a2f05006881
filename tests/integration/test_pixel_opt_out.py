"""The pixel against the real Redis and Kafka: a browser that sends Do-Not-Track or Global Privacy Control is never
counted, since a pixel, unlike the beacon, cannot ask for consent."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ingest.app import create_app
from tests.running_stack import BROWSER_UA, RunningStack

pytestmark = pytest.mark.integration


def test_a_pixel_from_a_browser_asking_not_to_be_tracked_answers_the_image_and_records_nothing(
    stack: RunningStack, tmp_path: Path
) -> None:
    site = stack.create_site("pixel-opt-out")
    browser = {"User-Agent": BROWSER_UA, "Accept-Language": "en"}
    pixel = {"k": site["write_key"], "u": "https://shop.test/no-script", "v": "v-pixel"}
    with TestClient(create_app(stack.settings.model_copy(update={"data_dir": tmp_path}))) as client:
        for opt_out in ({"Sec-GPC": "1"}, {"DNT": "1"}):
            answer = client.get("/pixel.gif", params=pixel, headers={**browser, **opt_out})
            assert (answer.status_code, answer.headers["content-type"]) == (200, "image/gif")
        opted_out = client.get("/metrics").text
        assert client.get("/pixel.gif", params=pixel, headers=browser).status_code == 200
        plain = client.get("/metrics").text
    assert metric(opted_out, "do_not_track") == 2.0
    assert metric(opted_out, "accepted_events") == 0.0
    assert metric(plain, "accepted_events") == 1.0


def metric(page: str, label: str) -> float:
    """The value of the /metrics line labelled with this name or reason (0 when there is none yet)."""
    values = [float(line.rsplit(" ", 1)[1]) for line in page.splitlines() if f'"{label}"' in line]
    return sum(values)
