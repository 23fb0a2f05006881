"""Shared by the browser tests: Debian's Chromium, a throwaway web server for test pages, and a tap on the
Kafka `events` topic so a test can see exactly which events of its site ingest accepted, within a second."""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from clickpulse.records import EVENTS_TOPIC
from tests.running_stack import BROWSER_UA, RunningStack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STUB = (
    "<script>window.clickpulse=window.clickpulse||function(){(clickpulse.q=clickpulse.q||[]).push(arguments)};</script>"
)
Event = dict[str, Any]


def launch(p: Playwright, bfcache: bool = False) -> Browser:
    """Headless Chromium with a visitor's user agent. It says "HeadlessChrome" otherwise, which ingest rightly
    flags as a bot, and the agent must be on the command line so that beacons sent while a page unloads carry it
    too. Playwright turns the back-forward cache off by default; `bfcache=True` leaves it on."""
    ignore = ["--disable-back-forward-cache"] if bfcache else []
    return p.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, f"--user-agent={BROWSER_UA}"], ignore_default_args=ignore
    )


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, so that no Playwright loop lingers while other suites' asyncio tests run."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One browser per test module; each test opens its own context (its own visitor)."""
    launched = launch(playwright)
    yield launched
    launched.close()


def snippet(ingest: str, key: str, attrs: str = "", before: str = "") -> str:
    """The documented snippet: the command-queue stub, then (before) the page's own early calls, then the async
    script tag."""
    return f'{STUB}{before}<script async src="{ingest}/cp.js" data-key="{key}" data-api="{ingest}" {attrs}></script>'


def close_tab(page: Page) -> None:
    """Close the tab as a visitor does (beforeunload, pagehide and unload run) and wait until it is gone."""
    with page.expect_event("close"):
        page.close(run_before_unload=True)


def page_errors(page: Page, *, missing_favicon_counts: bool = False) -> list[str]:
    """Collects what the page would see go wrong: uncaught exceptions and console errors. The host pages the tests
    serve have no favicon; the dashboard's own must not be missing."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def console(message: Any) -> None:
        if message.type == "error" and (missing_favicon_counts or "favicon" not in message.location.get("url", "")):
            errors.append(f"console: {message.text}")

    page.on("console", console)
    return errors


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(directory: Path) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def test_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    server = serve(tmp_path)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A static web server for one module's pages: (origin, folder to write pages into)."""
    root = tmp_path_factory.mktemp("pages")
    server = serve(root)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()


class KafkaTap:
    """Reads the `events` topic from its start in a background thread and files every event by site."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.by_site: dict[str, list[Event]] = defaultdict(list)
        self.changed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.task: Future[None] | None = None
        self.stopping = False

    def start(self) -> None:
        self.thread.start()
        self.task = asyncio.run_coroutine_threadsafe(self._consume(), self.loop)
        if not self.ready.wait(60):
            raise RuntimeError("the Kafka tap did not start")

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        self.ready.set()
        try:
            while not self.stopping:
                batches = await consumer.getmany(timeout_ms=200)
                with self.changed:
                    for messages in batches.values():
                        for message in messages:
                            event = json.loads(message.value)
                            self.by_site[event["site_id"]].append(event)
                    self.changed.notify_all()
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self.stopping = True
        if self.task is not None:
            self.task.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def events(self, site_id: str) -> list[Event]:
        with self.changed:
            return list(self.by_site[site_id])

    def wait_for(self, site_id: str, done: Callable[[list[Event]], bool], timeout_s: float = 30) -> list[Event]:
        """Wait until done(site's events) holds; return the events either way (the test's assert tells)."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while not done(list(self.by_site[site_id])):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            return list(self.by_site[site_id])

    def quiet(self, site_id: str, seconds: float = 0.6) -> list[Event]:
        """The site's events once nothing new has come for `seconds` (to prove that nothing more arrives)."""
        count = -1
        while count != len(self.events(site_id)):
            count = len(self.events(site_id))
            time.sleep(seconds)
        return self.events(site_id)


@pytest.fixture(scope="module")
def kafka(stack: RunningStack) -> Iterator[KafkaTap]:
    tap = KafkaTap(stack.settings.kafka_bootstrap, stack.settings.topic(EVENTS_TOPIC))
    tap.start()
    try:
        yield tap
    finally:
        tap.stop()


def of_type(events: list[Event], *types: str) -> list[Event]:
    return [e for e in events if e["type"] in types]


def count(*types: str, at_least: int = 1) -> Callable[[list[Event]], bool]:
    """A wait_for condition: at least this many events of these types."""
    return lambda events: len(of_type(events, *types)) >= at_least


# Reports every request the page makes with sendBeacon or fetch to Python, body included, before it goes out.
SPY = """(() => {
  const report = (url, body) => window.__cpSent(String(url), body == null ? "" : body);
  const beacon = navigator.sendBeacon && navigator.sendBeacon.bind(navigator);
  if (beacon) navigator.sendBeacon = (url, data) => {
    if (data instanceof Blob) data.text().then((text) => report(url, text)); else report(url, data);
    return beacon(url, data);
  };
  const fetch = window.fetch;
  window.fetch = function (url, init) { report(url, init && init.body); return fetch.apply(this, arguments); };
})();"""


def spy_on_sends(context: Any) -> list[tuple[str, str]]:
    """Every (url, body) the context's pages send by sendBeacon or fetch. Playwright does not report sendBeacon
    requests, so the page reports them itself."""
    sent: list[tuple[str, str]] = []
    context.expose_function("__cpSent", lambda url, body: sent.append((url, body)))
    context.add_init_script(SPY)
    return sent
