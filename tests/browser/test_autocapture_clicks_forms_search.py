"""Autocapture in Chromium, end to end to Kafka: clicks carry tag, masked text, href, id, classes, a short CSS
path and data-cp-* attributes, with outbound links and downloads marked; three fast clicks in one spot are a
rage click; a form submission names the form and never carries what was typed, nor does a click on a field; a
site search is read from the configured query parameter, on load and on SPA route changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.conftest import Event, KafkaTap, close_tab, count, of_type, page_errors, snippet
from tests.running_stack import RunningStack

pytestmark = pytest.mark.browser
PAGE = """<!doctype html><html><head><title>Shop</title>{snippet}
<style>main > * {{ display: block; margin: 60px 0; }}</style></head><body>
<main id="content">
<div class="card featured"><p><a class="btn primary" href="/checkout.html" data-cp-plan="pro" data-cp-position="hero"
   onclick="return false">Buy now,   jane.doe@example.com</a></p></div>
<a id="out" href="{other_origin}/partner.html" onclick="return false">Our partner</a>
<a id="pdf" href="/files/report.pdf?v=2" onclick="return false">Annual report</a>
<a id="export" href="/export" download onclick="return false">Export</a>
<button id="close" aria-label="Close dialog"><svg width="20" height="20"></svg></button>
<button id="icon-button"><span id="inner">Save</span></button>
<div id="promo" data-cp-event="promo_banner">Spring sale</div>
<div id="plain" style="height: 80px">just text</div>
<form id="signup" name="newsletter" action="/thanks.html">
  <input id="email" type="email" name="email"><input id="card" name="card">
  <input id="coupon" name="coupon" data-cp-event="coupon"><button id="send">Sign up</button>
</form>
<button id="to-boots" onclick="history.pushState({{}}, '', '/search.html?q=boots')">boots</button>
</main></body></html>"""


def clicks_by_text(events: list[Event]) -> dict[str, dict[str, object]]:
    return {e["props"]["text"]: e["props"] for e in of_type(events, "click")}


def visit_site(
    stack: RunningStack, browser: Browser, origin: str, root: Path, name: str, attrs: str = ""
) -> tuple[dict[str, str], BrowserContext, Page, list[str]]:
    site = stack.create_site(name, origin)
    other_origin = origin.replace("127.0.0.1", "localhost")
    html = PAGE.format(snippet=snippet(stack.ingest, site["write_key"], attrs), other_origin=other_origin)
    for name in ("index.html", "search.html", "find.html"):
        (root / name).write_text(html)
    (root / "thanks.html").write_text("<!doctype html><title>Thanks</title><p>Thanks!</p>")
    context = browser.new_context()
    page = context.new_page()
    return site, context, page, page_errors(page)


def test_clicks_carry_what_was_clicked_and_mark_outbound_links_and_downloads(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site, context, page, errors = visit_site(stack, browser, origin, root, "clicks")
    page.goto(f"{origin}/index.html")
    for selector in ("text=Buy now", "#out", "#pdf", "#export", "#close", "#inner", "#promo", "#plain"):
        page.click(selector)
    page.evaluate("clickpulse('flush')")
    events = kafka.wait_for(site["site_id"], count("click", at_least=7))
    context.close()

    assert errors == []
    clicks = clicks_by_text(events)
    assert clicks["Buy now, [email]"] == {
        "tag": "a",
        "text": "Buy now, [email]",
        "href": f"{origin}/checkout.html",
        "id": "",
        "classes": "btn primary",
        "path": "main#content>div.card>p>a.btn",
        "outbound": False,
        "download": False,
        "data": {"plan": "pro", "position": "hero"},
    }
    assert (clicks["Our partner"]["outbound"], clicks["Our partner"]["download"]) == (True, False)
    assert (clicks["Annual report"]["download"], clicks["Annual report"]["outbound"]) == (True, False)
    assert clicks["Export"]["download"] is True
    assert (clicks["Close dialog"]["tag"], clicks["Close dialog"]["path"]) == ("button", "button#close")
    assert (clicks["Save"]["tag"], clicks["Save"]["id"]) == ("button", "icon-button")  # the control, not its span
    assert (clicks["Spring sale"]["tag"], clicks["Spring sale"]["data"]) == ("div", {"event": "promo_banner"})
    assert "just text" not in clicks  # a plain element is not a control
    assert len(of_type(events, "click")) == 7
    assert of_type(events, "rage_click") == []
    assert all(e["path"] == "/index.html" for e in of_type(events, "click"))


def test_three_fast_clicks_in_one_spot_are_one_rage_click(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site, context, page, errors = visit_site(stack, browser, origin, root, "rage")
    page.goto(f"{origin}/index.html")
    page.click("#plain", click_count=3)
    page.click("#promo")  # another spot: not part of the rage
    events = kafka.wait_for(site["site_id"], count("rage_click"))  # no unload, no flush: within flushInterval
    events = kafka.quiet(site["site_id"])
    context.close()

    assert errors == []
    (rage,) = of_type(events, "rage_click")
    assert rage["props"] == {"path": "div#plain", "tag": "div"}
    assert len(of_type(events, "click")) == 1


def test_a_form_submission_names_the_form_and_never_carries_what_was_typed(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site, context, page, errors = visit_site(stack, browser, origin, root, "forms")
    page.goto(f"{origin}/index.html")
    page.fill("#email", "jane.doe@example.com")
    page.fill("#card", "4111 1111 1111 1111")
    page.fill("#coupon", "my secret coupon")
    page.click("#coupon")  # a field marked as a control: its click says what was clicked, not what was typed
    page.click("#send")  # submits and leaves: the events go with the page's last beacon
    page.wait_for_url("**/thanks.html*")
    events = kafka.wait_for(site["site_id"], count("form_submit"))
    context.close()

    assert errors == []
    (submit,) = of_type(events, "form_submit")
    assert submit["props"] == {"id": "signup", "name": "newsletter", "action": "/thanks.html"}
    clicks = sorted(of_type(events, "click"), key=lambda e: e["ts"])
    assert [(c["props"]["tag"], c["props"]["text"]) for c in clicks] == [("input", ""), ("button", "Sign up")]
    # Random ids left out: one once held the digits "4111" by chance.
    wire = repr([{k: v for k, v in e.items() if k not in ("event_id", "visitor_id")} for e in events])
    assert "jane.doe" not in wire and "4111 1111" not in wire and "secret" not in wire


def test_site_search_is_read_from_the_configured_query_parameter(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site, context, page, errors = visit_site(stack, browser, origin, root, "search")
    page.goto(f"{origin}/search.html?q=trail+shoes")
    page.click("#to-boots")  # an SPA search: a new route with a new query
    page.wait_for_timeout(50)
    (root / "find.html").write_text(
        PAGE.format(snippet=snippet(stack.ingest, site["write_key"], 'data-search-param="s"'), other_origin=origin)
    )
    page.goto(f"{origin}/find.html?s=tents&q=not+a+search")
    close_tab(page)
    events = kafka.wait_for(site["site_id"], count("search", at_least=3))
    events = kafka.quiet(site["site_id"])
    context.close()

    assert errors == []
    searches = sorted(of_type(events, "search"), key=lambda e: e["ts"])
    assert [(e["path"], e["props"]["query"]) for e in searches] == [
        ("/search.html", "trail shoes"),
        ("/search.html", "boots"),
        ("/find.html", "tents"),
    ]
    assert len(of_type(events, "pageview")) == 3
