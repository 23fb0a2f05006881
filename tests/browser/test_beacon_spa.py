"""SPA navigation in Chromium counts one page view per distinct route: pushState, hash routes and the
back button count; replaceState on the same path and plain #anchors do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.running_stack import BROWSER_UA, RunningStack

pytestmark = pytest.mark.browser
APP = """<!doctype html><html><head><title>app</title>
<script>window.clickpulse=window.clickpulse||function(){{(clickpulse.q=clickpulse.q||[]).push(arguments)}};</script>
<script async src="{ingest}/cp.js" data-key="{key}"></script></head><body>
<button id="push" onclick="history.pushState({{}}, '', '/app/cart')">cart</button>
<button id="replace-same" onclick="history.replaceState({{n: 1}}, '', location.pathname)">same</button>
<a id="hash-route" href="#/settings">settings</a>
<a id="anchor" href="#top">top</a>
<a id="away" href="/done.html">done</a></body></html>"""


def test_each_distinct_route_is_one_page_view(stack: RunningStack, test_site: tuple[str, Path]) -> None:
    origin, root = test_site
    site = stack.create_site("spa", origin)
    page_html = APP.format(ingest=stack.ingest, key=site["write_key"])
    (root / "index.html").write_text(page_html)
    (root / "done.html").write_text(page_html)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--user-agent={BROWSER_UA}"])
        page = browser.new_page()
        page.goto(f"{origin}/index.html", wait_until="networkidle")  # 1: /index.html
        page.click("#push")  # 2: /app/cart
        page.wait_for_timeout(100)
        page.click("#replace-same")  # same path: no page view
        page.wait_for_timeout(100)
        page.click("#hash-route")  # 3: /app/cart#/settings
        page.wait_for_timeout(100)
        page.go_back()  # 4: back to /app/cart
        page.wait_for_timeout(100)
        page.click("#anchor")  # a plain anchor is not a route: no page view
        page.wait_for_timeout(100)
        page.click("#away")  # 5: /done.html (the first page's events leave by sendBeacon)
        page.wait_for_load_state("networkidle")
        page.close(run_before_unload=True)
        browser.close()
    stats = stack.wait_for_stats(site, {"pageviews": 5, "visitors": 1, "sessions": 1})
    assert (stats["pageviews"], stats["visitors"], stats["sessions"]) == (5, 1, 1)
