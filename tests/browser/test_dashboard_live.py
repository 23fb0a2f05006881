"""The dashboard page in Chromium: its live stream comes back by itself after the server refused it once
(a 503 while Redis or the API restarts), where a browser's own EventSource retry gives up."""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import Browser, Route

from tests.running_stack import RunningStack, send_batch

pytestmark = pytest.mark.browser


def test_the_dashboard_reopens_a_live_stream_the_server_refused(stack: RunningStack, browser: Browser) -> None:
    site = stack.create_site("dashboard-live")
    context = browser.new_context()
    page = context.new_page()
    refused: list[str] = []

    def refuse_the_first(route: Route) -> None:
        if refused:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.fulfill(status=503, body="")

    page.route("**/live?*", refuse_the_first)
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    page.wait_for_selector("#status.on", timeout=20_000)  # a snapshot arrived on a reopened stream
    assert len(refused) == 1
    context.close()


def test_the_dashboard_asks_for_another_key_when_the_read_key_is_refused(stack: RunningStack, browser: Browser) -> None:
    site = stack.create_site("dashboard-bad-key")
    context = browser.new_context()
    page = context.new_page()
    streams: list[str] = []
    page.on("request", lambda request: "/live?" in request.url and streams.append(request.url))
    page.goto(f"{stack.api}/#site={site['site_id']}&key=rk_wrong")
    page.wait_for_selector("#connect-card:not([hidden])", timeout=10_000)
    assert "refused" in page.text_content("#site-label")
    page.wait_for_timeout(3_000)  # a retrying page would have opened the stream again by now
    assert len(streams) == 1
    context.close()


def test_the_dashboard_loads_without_console_errors_and_shows_what_stats_and_realtime_answer(
    stack: RunningStack, browser: Browser
) -> None:
    # Its favicon request was a 404, a console error on every load.
    site = stack.create_site("dashboard-figures")
    send_batch(stack.ingest, site, "v1", [{"id": str(uuid.uuid4()), "type": "pageview", "ts": int(time.time() * 1000),
                                           "url": "https://shop.test/figures"}])  # fmt: skip
    stats = stack.wait_for_stats(site, {"pageviews": 1})
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    page.wait_for_selector("#status.on", timeout=20_000)
    page.wait_for_function("document.getElementById('s-pageviews').textContent !== '\\u2013'", timeout=10_000)
    assert (page.text_content("#s-pageviews"), page.text_content("#s-visitors")) == ("1", str(stats["visitors"]))
    assert (page.text_content("#active"), page.text_content("#pv30")) == ("1", "1")
    assert page.text_content("#top-pages li span") == "/figures"
    assert errors == []
    context.close()


def test_the_dashboard_raises_no_error_while_the_api_is_unreachable(stack: RunningStack, browser: Browser) -> None:
    # The stats poll's fetch failing (the API restarting) was an uncaught promise rejection.
    site = stack.create_site("dashboard-api-away")
    context = browser.new_context()
    page = context.new_page()
    uncaught: list[str] = []
    page.on("pageerror", lambda exc: uncaught.append(str(exc)))
    page.route("**/stats", lambda route: route.abort("connectionrefused"))
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    page.wait_for_selector("#status.on", timeout=20_000)
    page.wait_for_timeout(1_000)
    assert uncaught == []
    context.close()
