"""Privacy in a real browser: Do-Not-Track, Global Privacy Control and denied consent send nothing;
cookieless mode stores nothing in the browser and still counts the visit; the host page sees no errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.running_stack import BROWSER_UA, RunningStack

pytestmark = pytest.mark.browser
SNIPPET = """<!doctype html><html><head><title>p</title>
<script>window.clickpulse=window.clickpulse||function(){{(clickpulse.q=clickpulse.q||[]).push(arguments)}};</script>
{extra}
<script async src="{ingest}/cp.js" data-key="{key}" {attrs}></script></head>
<body><a id="next" href="/other.html">next</a><button id="b">click me</button></body></html>"""
DNT = "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'});"
GPC = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--user-agent={BROWSER_UA}"])
        yield launched
        launched.close()


def visit(browser: Browser, url: str, init_script: str = "") -> tuple[list[str], Page]:
    """Load the page, click, navigate away; return the page's errors and the page.
    (Playwright does not report sendBeacon requests, so what was sent is judged by /stats.)"""
    context = browser.new_context()
    if init_script:
        context.add_init_script(init_script)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in m.location.get("url", "") else None,
    )
    page.goto(url, wait_until="networkidle")
    page.click("#b")
    page.click("#next")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    return errors, page


def write_pages(root: Path, stack: RunningStack, key: str, attrs: str = "", extra: str = "") -> None:
    for name in ("index.html", "other.html"):
        (root / name).write_text(SNIPPET.format(ingest=stack.ingest, key=key, attrs=attrs, extra=extra))


@pytest.mark.parametrize(
    ("case", "init_script", "attrs", "extra"),
    [
        ("do-not-track", DNT, "", ""),
        ("global-privacy-control", GPC, "", ""),
        ("consent denied", "", "", "<script>clickpulse('consent', 'denied')</script>"),
        ("consent pending", "", 'data-consent="pending"', ""),
    ],
)
def test_privacy_signals_mean_nothing_is_sent(
    stack: RunningStack,
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
    errors, page = visit(browser, f"{origin}/index.html", init_script)
    page.context.close()
    assert errors == [], case
    # A visitor without those signals, afterwards: once their 2 page views are in, nothing else is.
    write_pages(root, stack, site["write_key"])
    control_errors, control = visit(browser, f"{origin}/index.html")
    control.context.close()
    stats = stack.wait_for_stats(site, {"pageviews": 2, "visitors": 1})
    time.sleep(2)
    stats = stack.stats(site)
    assert (stats["pageviews"], stats["visitors"]) == (2, 1), case
    assert control_errors == []


def test_cookieless_mode_stores_nothing_and_still_counts_the_visit(
    stack: RunningStack, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("cookieless", origin)
    write_pages(root, stack, site["write_key"], 'data-cookieless="true"')
    errors, page = visit(browser, f"{origin}/index.html")
    assert errors == []
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    page.context.close()
    stats = stack.wait_for_stats(site, {"pageviews": 2, "visitors": 1})
    assert (stats["pageviews"], stats["visitors"]) == (2, 1)
