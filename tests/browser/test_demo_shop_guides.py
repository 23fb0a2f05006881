"""The demo shop's guide page (its hash router) shows the guide its address names as text: it wrote the address
into the page as markup, a DOM XSS sink that a browser not escaping '<' in fragments would run."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from clickpulse.demo.shop_server import SHOP_DIR
from tests.browser.conftest import serve

pytestmark = pytest.mark.browser


def test_the_guide_named_in_the_address_is_shown_as_text_not_read_as_markup(browser: Browser) -> None:
    server = serve(SHOP_DIR)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/spa.html")
        page.evaluate("location.hash = '#/&lt;b&gt;packing'")
        page.wait_for_function("document.querySelector('#spa-view p').textContent !== 'Pick a guide.'")
        # As markup, the entities were parsed into '<b>packing'.
        assert page.text_content("#spa-view p") == "Guide: &lt;b&gt;packing"
        page.close()
    finally:
        server.shutdown()
