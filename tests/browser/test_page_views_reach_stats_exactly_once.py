"""The whole way through: real headless Chromium loads a page with the snippet, changes SPA route, loads a
second page and closes the tab, and /stats (ClickHouse, after the worker and loader) counts exactly 3 page
views, 1 visitor and 1 session."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import close_tab, page_errors, snippet
from tests.running_stack import RunningStack

pytestmark = pytest.mark.browser
PAGE = """<!doctype html><html><head><title>{title}</title>{snippet}</head>
<body><h1>{title}</h1>
<button id="spa" onclick="history.pushState({{}}, '', '/app/settings'); document.title='Settings'">settings</button>
<a id="next" href="/second.html">next page</a></body></html>"""


def test_page_views_and_an_spa_route_change_arrive_exactly_once(
    stack: RunningStack, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("browser", origin)
    for name, title in (("index.html", "Home"), ("second.html", "Second")):
        (root / name).write_text(PAGE.format(title=title, snippet=snippet(stack.ingest, site["write_key"])))

    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page)
    page.goto(f"{origin}/index.html")
    page.click("#spa")
    page.wait_for_timeout(100)
    page.click("#next")
    page.wait_for_load_state()
    close_tab(page)
    stats = stack.wait_for_stats(site, {"pageviews": 3, "visitors": 1, "sessions": 1})
    context.close()

    assert errors == []
    assert (stats["pageviews"], stats["visitors"], stats["sessions"]) == (3, 1, 1)
