"""The API's documentation pages in Chromium with every host but the API's blocked: /docs and /redoc load their
scripts from the API itself (they came from a CDN, and without it both pages were blank), and ask no other host
for anything (Swagger UI's validator badge sent the document's address to validator.swagger.io; the pages' Content
Security Policy keeps ReDoc's logo from cdn.redoc.ly out)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Playwright, Route

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.running_stack import RunningStack

pytestmark = pytest.mark.browser

# The validator badge is shown for an API on any host but localhost, so the page is opened as a deployment's is.
API_HOST = "api.clickpulse.test"


@pytest.fixture(scope="module")
def named_host_browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {API_HOST} 127.0.0.1"]
    )
    yield launched
    launched.close()


@pytest.mark.parametrize(
    ("page_path", "operation"),
    [("/docs", ".opblock-summary-path[data-path='/v1/sites/{site_id}/customers/{customer_id}']"),
     ("/redoc", "h2:has-text('Customer History')")],
)  # fmt: skip
def test_the_api_documentation_renders_its_operations_with_no_host_but_the_api_reachable(
    stack: RunningStack, named_host_browser: Browser, page_path: str, operation: str
) -> None:
    api = f"http://{API_HOST}:{stack.settings.api_port}"
    context = named_host_browser.new_context()
    elsewhere: list[str] = []

    def only_the_api(route: Route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(api).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_the_api)
    page = context.new_page()
    uncaught: list[str] = []
    page.on("pageerror", lambda exc: uncaught.append(str(exc)))
    page.goto(api + page_path)
    page.wait_for_selector(operation, timeout=20_000)
    page.wait_for_load_state("networkidle")
    assert (elsewhere, uncaught) == ([], [])
    context.close()
