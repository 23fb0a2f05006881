"""The tracker never breaks or confuses the host page, in Chromium: calls queued by the snippet before the script
loads are kept; a second copy of the script counts nothing twice; unknown commands and unserializable properties
throw nothing and spoil no other event; an event is what the page passed at the time of the call, even if the page
changes its objects afterwards; automatic captures switched off send nothing while the API still works."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import KafkaTap, close_tab, of_type, page_errors, snippet
from tests.running_stack import RunningStack

pytestmark = pytest.mark.browser
HOSTILE = """<!doctype html><html><head><title>Host</title>{snippet}
<script>clickpulse('track', 'queued_before_load', {{n: 1}}); clickpulse('no_such_command', 1, 2);</script>
{snippet}</head><body><a id="link" href="#top">top</a></body></html>"""
MISUSE = """() => {
  const cyclic = {name: 'loop'}; cyclic.self = cyclic;
  clickpulse('track', 'cyclic', cyclic);
  clickpulse('product', null);
  clickpulse();
  clickpulse('identify');
  const props = {plan: 'basic'};
  clickpulse('track', 'snapshot', props);
  props.plan = 'changed afterwards';
  clickpulse('track', 'after_misuse');
}"""
QUIET = 'data-pageviews="false" data-clicks="false" data-forms="false" data-engagement="false" data-rage-clicks="false"'
SWITCHED_OFF = """<!doctype html><html><head><title>Quiet</title>{snippet}</head><body>
<a id="link" href="#/route">route</a><button id="b" onclick="history.pushState({{}}, '', '/moved.html')">b</button>
<form id="f" onsubmit="return false"><input name="q"><button id="send">send</button></form></body></html>"""


def test_queued_calls_are_kept_and_misuse_throws_nothing_and_spoils_nothing(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("hostile", origin)
    (root / "index.html").write_text(HOSTILE.format(snippet=snippet(stack.ingest, site["write_key"])))
    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page)
    page.goto(f"{origin}/index.html")
    page.evaluate(MISUSE)
    close_tab(page)
    events = kafka.wait_for(site["site_id"], lambda es: any(e.get("name") == "after_misuse" for e in es))
    events = kafka.quiet(site["site_id"])
    context.close()

    assert errors == []
    names = sorted(e["name"] for e in of_type(events, "custom"))
    assert names == ["after_misuse", "queued_before_load", "snapshot"]  # the cyclic one alone is dropped
    (snapshot,) = [e for e in events if e.get("name") == "snapshot"]
    assert snapshot["props"] == {"plan": "basic"}
    assert of_type(events, "identify") == []  # identify without a customer id is ignored
    assert len(of_type(events, "pageview")) == 1 and len(of_type(events, "page_leave")) == 1  # one tracker only


def test_switched_off_captures_send_nothing_while_the_api_still_works(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("switched-off", origin)
    page_html = SWITCHED_OFF.format(snippet=snippet(stack.ingest, site["write_key"], QUIET))
    (root / "index.html").write_text(page_html)
    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page)
    page.goto(f"{origin}/index.html?q=shoes")
    page.click("#link", click_count=3)
    page.click("#b")
    page.fill("input[name=q]", "tents")
    page.click("#send")
    page.evaluate("clickpulse('track', 'still_here')")
    close_tab(page)
    events = kafka.wait_for(site["site_id"], lambda es: len(es) >= 1)
    events = kafka.quiet(site["site_id"])
    context.close()

    assert errors == []
    assert [(e["type"], e.get("name")) for e in events] == [("custom", "still_here")]
