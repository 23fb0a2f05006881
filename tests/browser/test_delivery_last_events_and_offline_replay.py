"""Delivery in Chromium: the last events before a tab closes or the visitor navigates away arrive (at least 99
of 100 quick runs in one browser), and events made while offline are kept and replayed exactly once when the
browser is back online, on the same page or on the next one."""

from __future__ import annotations

import asyncio
import collections
import threading
from pathlib import Path

import pytest
from playwright.async_api import Page as AsyncPage
from playwright.async_api import async_playwright
from playwright.sync_api import Browser

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Event, KafkaTap, close_tab, of_type, page_errors, snippet
from tests.running_stack import BROWSER_UA, RunningStack

pytestmark = pytest.mark.browser
RUNS = 100
TABS = 3
PAGE = """<!doctype html><html><head><title>Last</title>{snippet}</head><body>
<a id="away" href="/next.html" style="position: fixed; left: 0; top: 0; width: 40px; height: 40px">away</a>
<p>{body}</p></body></html>"""


def runs_of(events: list[Event]) -> collections.Counter[int]:
    """How often each run's last event arrived: a custom 'last' event, or the click on the link away."""
    arrived: collections.Counter[int] = collections.Counter()
    for e in events:
        if e["type"] == "custom" and e["name"] == "last":
            arrived[e["props"]["run"]] += 1
        elif e["type"] == "click":
            arrived[int(e["props"]["data"]["run"])] += 1
    return arrived


async def run_tabs(origin: str, errors: list[str]) -> None:
    """The runs, TABS at a time in one browser (the async API lets tabs overlap as a visitor's may)."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--user-agent={BROWSER_UA}"])
        context = await browser.new_context()
        leaving = [await context.new_page() for _ in range(TABS)]
        for page in leaving:
            watch_errors(page, errors)
        slots = asyncio.Semaphore(TABS)

        async def one(run: int) -> None:
            async with slots:
                if run % 2:  # an event, and the tab is closed at once: only the unload beacon can carry it
                    page = await context.new_page()
                    watch_errors(page, errors)
                    await page.goto(f"{origin}/last.html")  # the async tracker has run once "load" fires
                    await page.evaluate("run => clickpulse('track', 'last', {run})", run)
                    async with page.expect_event("close"):
                        await page.close(run_before_unload=True)
                else:  # a click on a link away: the click is the page's last event
                    page = leaving.pop()
                    await page.goto(f"{origin}/last.html")
                    await page.eval_on_selector("#away", "(a, run) => a.setAttribute('data-cp-run', run)", run)
                    async with page.expect_navigation(wait_until="commit"):
                        await page.mouse.click(10, 10)  # a real click on the link (fixed in the corner)
                    leaving.append(page)

        await asyncio.gather(*(one(run) for run in range(RUNS)))
        await browser.close()


def watch_errors(page: AsyncPage, errors: list[str]) -> None:
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda m: (
            errors.append(f"console: {m.text}")
            if m.type == "error" and "favicon" not in m.location.get("url", "")
            else None
        ),
    )


def test_the_last_event_before_closing_the_tab_or_leaving_arrives_in_99_of_100_runs(
    stack: RunningStack, kafka: KafkaTap, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("last-events", origin)
    html = snippet(stack.ingest, site["write_key"])
    (root / "last.html").write_text(PAGE.format(snippet=html, body="last"))
    (root / "next.html").write_text(PAGE.format(snippet=html, body="next"))
    errors: list[str] = []
    # In a thread of its own: the async API needs an event loop that the sync API's is not.
    runner = threading.Thread(target=lambda: asyncio.run(run_tabs(origin, errors)))
    runner.start()
    runner.join(120)

    events = kafka.wait_for(site["site_id"], lambda es: len(runs_of(es)) >= RUNS, timeout_s=20)
    events = kafka.quiet(site["site_id"])
    arrived = runs_of(events)
    print(f"\nlast events delivered: {len(arrived)}/{RUNS}")
    assert len(arrived) >= 99, f"only {len(arrived)} of {RUNS} last events arrived"
    assert max(arrived.values()) == 1  # and none twice
    assert errors == []


def test_events_made_offline_are_replayed_exactly_once_when_back_online(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("offline", origin)
    html = snippet(stack.ingest, site["write_key"])
    (root / "page.html").write_text(PAGE.format(snippet=html, body="page"))
    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page)
    page.goto(f"{origin}/page.html")
    page.evaluate("clickpulse('flush')")
    kafka.wait_for(site["site_id"], lambda es: len(of_type(es, "pageview")) == 1)

    context.set_offline(True)
    page.evaluate("for (let n = 0; n < 3; n++) clickpulse('track', 'offline', {n}); clickpulse('flush')")
    page.wait_for_function("JSON.parse(localStorage.cp_retry || '[]').length === 3")
    context.set_offline(False)  # the tracker hears 'online' and replays at once
    events = kafka.wait_for(site["site_id"], lambda es: len([e for e in es if e.get("name") == "offline"]) >= 3)
    events = kafka.quiet(site["site_id"], 1.5)
    stored = page.evaluate("localStorage.cp_retry || null")
    context.close()

    assert errors == []
    assert sorted(e["props"]["n"] for e in events if e.get("name") == "offline") == [0, 1, 2]
    assert collections.Counter(e["event_id"] for e in events).most_common(1)[0][1] == 1
    assert stored is None  # the retry queue is empty again


def test_events_of_a_page_closed_offline_are_replayed_exactly_once_on_the_next_page(
    stack: RunningStack, kafka: KafkaTap, browser: Browser, test_site: tuple[str, Path]
) -> None:
    origin, root = test_site
    site = stack.create_site("offline-close", origin)
    html = snippet(stack.ingest, site["write_key"])
    (root / "page.html").write_text(PAGE.format(snippet=html, body="page"))
    context = browser.new_context()
    page = context.new_page()
    errors = page_errors(page)
    page.goto(f"{origin}/page.html")
    context.set_offline(True)
    page.evaluate("clickpulse('track', 'closed_offline')")
    # Offline, the tracker stores events as they come (the pending page view when the browser says offline),
    # not only when the tab closes: a tab can be killed before it hears pagehide.
    page.wait_for_function("['pageview', 'closed_offline'].every(s => (localStorage.cp_retry || '').includes(s))")
    close_tab(page)
    context.set_offline(False)
    page = context.new_page()
    errors += page_errors(page)
    page.goto(f"{origin}/page.html")
    events = kafka.wait_for(site["site_id"], lambda es: any(e.get("name") == "closed_offline" for e in es))
    close_tab(page)
    events = kafka.quiet(site["site_id"], 1.5)
    context.close()

    assert errors == []
    arrived = [(e["type"], e.get("name"), e["ts"], e["received_at"]) for e in events]  # what a failure shows
    assert len([e for e in events if e.get("name") == "closed_offline"]) == 1, arrived
    assert len(of_type(events, "pageview")) == 2
    # The first page's page_leave, made while its tab closes offline, is stored and replayed with the rest.
    assert len(of_type(events, "page_leave")) == 2
    assert collections.Counter(e["event_id"] for e in events).most_common(1)[0][1] == 1
