"""Real headless Chromium loads a page with the snippet, navigates (an SPA route change, then a full
page load) and the page views show up in /stats with exact counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.running_stack import BROWSER_UA, RunningStack

pytestmark = pytest.mark.browser
PAGE = """<!doctype html><html><head><title>{title}</title>
<script>window.clickpulse=window.clickpulse||function(){{(clickpulse.q=clickpulse.q||[]).push(arguments)}};</script>
<script async src="{ingest}/cp.js" data-key="{key}" data-api="{ingest}"></script></head>
<body><h1>{title}</h1>
<button id="spa" onclick="history.pushState({{}}, '', '/app/settings'); document.title='Settings'">settings</button>
<a id="next" href="/second.html">next page</a></body></html>"""


def test_page_views_and_an_spa_route_change_arrive_exactly_once(
    stack: RunningStack, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("browser", origin)
    for name, title in (("index.html", "Home"), ("second.html", "Second")):
        (root / name).write_text(PAGE.format(title=title, ingest=stack.ingest, key=site["write_key"]))

    errors: list[str] = []
    with sync_playwright() as p:
        # Headless Chromium says "HeadlessChrome", which ingest rightly flags as a bot: give it a visitor's
        # agent, on the command line so that beacons sent while a page unloads carry it too.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--user-agent={BROWSER_UA}"])
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{origin}/index.html", wait_until="networkidle")
        page.click("#spa")
        page.wait_for_timeout(300)
        page.click("#next")
        page.wait_for_load_state("networkidle")
        page.close(run_before_unload=True)
        browser.close()

    assert errors == []
    stats = stack.wait_for_stats(site, {"pageviews": 3, "visitors": 1, "sessions": 1})
    assert (stats["pageviews"], stats["visitors"], stats["sessions"]) == (3, 1, 1)
