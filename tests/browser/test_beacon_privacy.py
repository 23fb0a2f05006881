"""Privacy in Chromium: with Do-Not-Track, Global Privacy Control, denied or pending consent the tracker makes
no request at all and ingest receives nothing, while consent granted by the visitor overrides DNT; revoking
consent stops sending and deletes what was stored; cookieless mode stores nothing in the browser and sends no
visitor id (the server derives one); with localStorage blocked the visitor id lives in a first-party cookie;
with storage and cookies blocked the tracker still counts the visit; events whose send failed before a denial
(cookieless mode) or a reset (storage blocked), kept only in the tracker's memory, never arrive afterwards.
The host page sees no errors in any of these."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.conftest import Event, KafkaTap, close_tab, count, of_type, page_errors, snippet, spy_on_sends
from tests.running_stack import RunningStack

pytestmark = pytest.mark.browser
PAGE = """<!doctype html><html><head><title>p</title>{snippet}</head>
<body><a id="next" href="/other.html">next</a><button id="b">click me</button></body></html>"""
DNT = "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});"
GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
# Storage refused, as strict browser settings do; with cookies refused too.
NO_LOCAL_STORAGE = """
Object.defineProperty(window, 'localStorage', {get() { throw new DOMException('denied', 'SecurityError'); }});"""
BLOCKED = (
    NO_LOCAL_STORAGE
    + """
Object.defineProperty(Document.prototype, 'cookie', {get: () => '', set: () => {}});"""
)
STORED = "() => [Object.keys(localStorage), sessionStorage.length, document.cookie]"


def write_pages(root: Path, stack: RunningStack, key: str, attrs: str = "", extra: str = "") -> None:
    for name in ("index.html", "other.html"):
        (root / name).write_text(PAGE.format(snippet=snippet(stack.ingest, key, attrs, before=extra)))


def open_page(browser: Browser, init_script: str = "") -> tuple[BrowserContext, Page, list[str], list[tuple[str, str]]]:
    context = browser.new_context()
    sent = spy_on_sends(context)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    return context, page, page_errors(page), sent


def visit(page: Page, url: str) -> None:
    """Load, click, go to the next page, click, and ask for a flush (which must not send either)."""
    page.goto(url)
    page.click("#b")
    page.click("#next")
    page.wait_for_load_state()
    page.click("#b")
    page.evaluate("clickpulse('flush')")
    page.wait_for_timeout(200)


def control_visit(browser: Browser, kafka: KafkaTap, site: dict[str, str], url: str) -> list[Event]:
    """A visitor without any privacy signal, afterwards: once their events are in, the site's events are all."""
    context, page, errors, _ = open_page(browser)
    page.goto(url)
    page.evaluate("clickpulse('flush')")
    kafka.wait_for(site["site_id"], count("pageview"))
    context.close()
    assert errors == []
    return kafka.quiet(site["site_id"])


@pytest.mark.parametrize(
    ("case", "init_script", "attrs", "extra"),
    [
        ("do-not-track", DNT, "", ""),
        ("global-privacy-control", GPC, "", ""),
        ("consent denied", "", "", "<script>clickpulse('consent', 'denied')</script>"),
        ("consent pending by default", "", 'data-consent="pending"', ""),
    ],
)
def test_privacy_signals_mean_no_request_and_nothing_received(
    stack: RunningStack,
    kafka: KafkaTap,
    browser: Browser,
    test_site: tuple[str, Path],
    case: str,
    init_script: str,
    attrs: str,
    extra: str,
) -> None:
    origin, root = test_site
    site = stack.create_site(f"privacy-{case}", origin)
    write_pages(root, stack, site["write_key"], attrs, extra)
    context, page, errors, sent = open_page(browser, init_script)
    visit(page, f"{origin}/index.html")
    close_tab(page)
    context.close()
    assert errors == [], case
    assert sent == [], case
    write_pages(root, stack, site["write_key"])
    events = control_visit(browser, kafka, site, f"{origin}/index.html")
    assert len({e["visitor_id"] for e in events}) == 1 and len(of_type(events, "pageview")) == 1, case


def test_consent_granted_by_the_visitor_overrides_do_not_track(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("consent-granted", origin)
    write_pages(root, stack, site["write_key"], extra="<script>clickpulse('consent', 'granted')</script>")
    context, page, errors, _ = open_page(browser, DNT)
    visit(page, f"{origin}/index.html")
    events = kafka.wait_for(site["site_id"], count("pageview", at_least=2))
    context.close()
    assert errors == []
    assert len(of_type(events, "pageview")) == 2


def test_revoking_consent_stops_sending_and_deletes_what_was_stored(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("consent-revoked", origin)
    write_pages(root, stack, site["write_key"])
    context, page, errors, sent = open_page(browser)
    page.goto(f"{origin}/index.html")
    page.evaluate("clickpulse('flush')")
    kafka.wait_for(site["site_id"], count("pageview"))
    assert page.evaluate("localStorage.getItem('cp_vid')")
    page.evaluate("clickpulse('consent', 'denied')")
    stored = page.evaluate(STORED)
    requests_before = len(sent)
    page.click("#b")
    page.evaluate("clickpulse('track', 'after_denial'); clickpulse('flush')")
    page.click("#next")
    page.wait_for_load_state()
    page.evaluate("clickpulse('flush')")
    page.wait_for_timeout(200)
    context.close()
    assert errors == []
    assert stored == [["cp_consent"], 0, ""]  # only the visitor's decision, so the next page honours it too
    assert len(sent) == requests_before
    events = kafka.quiet(site["site_id"])
    assert [e["type"] for e in events] == ["pageview"]


@pytest.mark.parametrize(
    ("attrs", "extra"),
    [('data-cookieless="true"', ""), ("", "<script>clickpulse('init', {cookieless: true})</script>")],
    ids=["data-cookieless", "init-before-load"],
)
def test_cookieless_mode_stores_nothing_and_sends_no_visitor_id(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path], attrs: str, extra: str
) -> None:
    origin, root = test_site
    site = stack.create_site("cookieless", origin)
    write_pages(root, stack, site["write_key"], attrs, extra)
    context, page, errors, sent = open_page(browser)
    visit(page, f"{origin}/index.html")
    events = kafka.wait_for(site["site_id"], count("pageview", at_least=2))
    stored = page.evaluate(STORED)
    cookies = context.cookies()
    context.close()

    assert errors == []
    assert stored == [[], 0, ""] and cookies == []
    bodies = [body for url, body in sent if url.endswith("/collect")]
    assert bodies and all('"visitor_id":null' in body for body in bodies)
    visitors = {e["visitor_id"] for e in events}
    assert len(visitors) == 1 and visitors.pop().startswith("h_")  # the server's daily salted hash
    assert len(of_type(events, "click")) == 3


def test_with_storage_and_cookies_blocked_the_visit_still_counts(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("storage-blocked", origin)
    write_pages(root, stack, site["write_key"])
    context, page, errors, _ = open_page(browser, BLOCKED)
    visit(page, f"{origin}/index.html")
    events = kafka.wait_for(site["site_id"], count("pageview", at_least=2))
    context.close()
    assert errors == []
    assert len(of_type(events, "pageview")) == 2 and len(of_type(events, "click")) == 3
    assert all(e["visitor_id"].startswith("v_") for e in events)


def test_with_local_storage_blocked_the_visitor_id_lives_in_a_first_party_cookie(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("cookie-fallback", origin)
    write_pages(root, stack, site["write_key"])
    context, page, errors, _ = open_page(browser, NO_LOCAL_STORAGE)
    visit(page, f"{origin}/index.html")
    events = kafka.wait_for(site["site_id"], count("pageview", at_least=2))
    cookies = {c["name"]: c for c in context.cookies()}
    context.close()
    assert errors == []
    visitors = {e["visitor_id"] for e in events}
    assert len(visitors) == 1  # one visitor across both full page loads
    cookie = cookies["cp_vid"]
    assert cookie["value"] == visitors.pop() and cookie["domain"] == "127.0.0.1" and cookie["sameSite"] == "Lax"


def replay_after_forgetting(
    kafka: KafkaTap, page: Page, context: BrowserContext, site_id: str, forget: str
) -> tuple[list[Event], list[Event]]:
    """A first page view arrives; then, offline, a `before` event's send fails (it waits for a retry); `forget`
    runs and an `after` event is made; back online the tracker replays its retries at once. Returns the events
    before and the events after the replay."""
    page.evaluate("clickpulse('flush')")
    first = kafka.wait_for(site_id, count("pageview"))
    context.set_offline(True)
    page.evaluate("clickpulse('track', 'before'); clickpulse('flush')")
    page.evaluate(f"{forget}; clickpulse('track', 'after')")
    context.set_offline(False)
    kafka.wait_for(site_id, lambda events: any(e.get("name") == "after" for e in events))
    return first, kafka.quiet(site_id, 1.5)


def test_in_cookieless_mode_failed_events_from_before_a_denial_never_arrive_after_consent_is_granted_again(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("cookieless-denied-retries", origin)
    write_pages(root, stack, site["write_key"], 'data-cookieless="true"')
    context, page, errors, sent = open_page(browser)
    page.goto(f"{origin}/index.html")
    forget = "clickpulse('consent', 'denied'); clickpulse('consent', 'granted')"
    _, events = replay_after_forgetting(kafka, page, context, site["site_id"], forget)
    context.close()
    assert errors == []
    assert [e.get("name") for e in of_type(events, "custom")] == ["after"]
    assert not any('"before"' in body for _, body in sent), "the failed event was not even sent"


def test_after_reset_with_storage_blocked_failed_events_of_the_old_visitor_never_arrive_under_the_next(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("blocked-reset-retries", origin)
    write_pages(root, stack, site["write_key"])
    context, page, errors, _ = open_page(browser, NO_LOCAL_STORAGE)
    page.goto(f"{origin}/index.html")
    first, events = replay_after_forgetting(kafka, page, context, site["site_id"], "clickpulse('reset')")
    context.close()
    assert errors == []
    assert [e.get("name") for e in of_type(events, "custom")] == ["after"]
    old_visitor = of_type(first, "pageview")[0]["visitor_id"]
    assert of_type(events, "custom")[0]["visitor_id"] != old_visitor  # reset did start a new visitor
