"""The dashboard page in Chromium: its live stream, read with fetch() so that the read key goes in a header and
never in a URL, comes back by itself after the server refused it once (a 503 while Redis or the API restarts)."""

from __future__ import annotations

import time
import uuid

import pytest
from playwright.sync_api import Browser, Request, Route, expect

from tests.browser.conftest import page_errors
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

    page.route("**/live", refuse_the_first)
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    page.wait_for_selector("#status.on", timeout=20_000)  # a snapshot arrived on a reopened stream
    assert len(refused) == 1
    context.close()


def test_the_dashboard_reads_an_event_stream_with_crlf_comments_and_two_data_lines_and_reopens_it_once_ended(
    stack: RunningStack, browser: Browser
) -> None:
    # The page parses the event stream itself now (fetch, not EventSource): CRLF line ends, a comment, an event's
    # data on two lines, and a stream that ends (the API restarting) must read and reopen as EventSource did.
    site = stack.create_site("dashboard-stream-ended")
    context = browser.new_context()
    page = context.new_page()
    snapshot = '{"active_visitors": 7, "pageviews_last_30_min": 42,\r\ndata: "pageviews_per_minute": [], '
    snapshot += '"top_pages": [], "top_products": [], "recent_events": []}'
    served: list[str] = []

    def end_the_first(route: Route) -> None:
        if served:
            route.continue_()
        else:
            served.append(route.request.url)
            route.fulfill(status=200, content_type="text/event-stream", body=f": hello\r\ndata: {snapshot}\r\n\r\n")

    page.route("**/live", end_the_first)
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    expect(page.locator("#pv30")).to_have_text("42", timeout=20_000)
    expect(page.locator("#active")).to_have_text("7")
    expect(page.locator("#pv30")).to_have_text("0", timeout=20_000)  # the real stream, reopened
    expect(page.locator("#status")).to_have_class("dot on")
    assert len(served) == 1
    context.close()


def test_the_dashboard_asks_for_another_key_when_the_read_key_is_refused(stack: RunningStack, browser: Browser) -> None:
    site = stack.create_site("dashboard-bad-key")
    context = browser.new_context()
    page = context.new_page()
    streams: list[str] = []
    page.on("request", lambda request: request.url.endswith("/live") and streams.append(request.url))
    page.goto(f"{stack.api}/#site={site['site_id']}&key=rk_wrong")
    page.wait_for_selector("#connect-card:not([hidden])", timeout=10_000)
    assert "refused" in page.text_content("#site-label")
    page.wait_for_timeout(3_000)  # a retrying page would have opened the stream again by now
    assert len(streams) == 1
    context.close()


def test_the_dashboard_streams_live_figures_with_the_read_key_in_no_request_url(
    stack: RunningStack, browser: Browser
) -> None:
    # EventSource took the key as /live?key=, which reverse proxies and CDNs write to their access logs.
    site = stack.create_site("dashboard-key-in-header")
    context = browser.new_context()
    page = context.new_page()
    requests: list[Request] = []
    errors = page_errors(page, missing_favicon_counts=True)
    page.on("request", lambda request: requests.append(request))
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    expect(page.locator("#pv30")).to_have_text("0", timeout=20_000)  # the first snapshot
    expect(page.locator("#status")).to_have_class("dot on")
    send_batch(stack.ingest, site, "v1", [{"id": str(uuid.uuid4()), "type": "pageview", "ts": int(time.time() * 1000),
                                           "url": "https://shop.test/streamed"}])  # fmt: skip
    # Only the stream renders these (the page polls /stats alone): a later snapshot on the same stream.
    expect(page.locator("#pv30")).to_have_text("1", timeout=30_000)
    expect(page.locator("#top-pages li span").first).to_have_text("/streamed")
    streams = [request for request in requests if request.url.endswith(f"/v1/sites/{site['site_id']}/live")]
    assert len(streams) == 1  # the figure came on the stream the page opened, not a reopened one
    assert streams[0].headers["authorization"] == f"Bearer {site['read_key']}"
    # The page's own address carries it after "#", which a browser never sends.
    sent = [request.url.split("#")[0] for request in requests]
    assert [url for url in sent if site["read_key"] in url] == []
    assert errors == []
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
    errors = page_errors(page, missing_favicon_counts=True)
    page.goto(f"{stack.api}/#site={site['site_id']}&key={site['read_key']}")
    page.wait_for_selector("#status.on", timeout=20_000)
    # A locator's assertion, not wait_for_function: the page's CSP refuses the eval that one may poll with.
    expect(page.locator("#s-pageviews")).not_to_have_text("\u2013", timeout=10_000)
    assert (page.text_content("#s-pageviews"), page.text_content("#s-visitors")) == ("1", str(stats["visitors"]))
    # The live counters are written after the event's outputs are acknowledged, so they may trail /stats a moment.
    expect(page.locator("#active")).to_have_text("1", timeout=20_000)
    expect(page.locator("#pv30")).to_have_text("1", timeout=20_000)
    expect(page.locator("#top-pages li span").first).to_have_text("/figures", timeout=20_000)
    expect(page.locator("#feed li span").first).to_be_visible(timeout=20_000)
    # The live feed's and the chart's times, which /realtime answers in ISO 8601, read as times.
    bar_titles = page.eval_on_selector_all("#chart i", "bars => bars.map(b => b.title)")
    times = [page.text_content("#feed li span"), *bar_titles]
    assert len(times) == 31 and not any("Invalid Date" in t for t in times), times
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
