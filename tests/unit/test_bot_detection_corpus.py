"""Acceptance: the agent parser and bot detector over public corpora of real crawler and browser agents.

Crawlers: every `instances` entry of the crawler-user-agents list. Browsers: fake-useragent's browsers.jsonl,
real agents collected from browsers in use. Both reach the detector as a browser's request would
(with Accept-Language), so only the agent decides.
"""

from __future__ import annotations

import json
from pathlib import Path

import crawleruseragents
import fake_useragent
import pytest

from clickpulse.sites import Site
from ingest.geo import Location
from ingest.request_context import build_context

SITE = Site(site_id="s1", name="t", write_key="wk", read_key_sha256="x", created_at=0)
HEADERS = {"accept-language": "en-US,en;q=0.9"}


def crawler_agents() -> list[str]:
    entries = json.loads((Path(crawleruseragents.__file__).parent / "crawler-user-agents.json").read_text())
    return sorted({agent for entry in entries for agent in entry.get("instances", [])})


def browser_agents() -> list[str]:
    lines = (Path(fake_useragent.__file__).parent / "data" / "browsers.jsonl").read_text().splitlines()
    return sorted({json.loads(line)["useragent"] for line in lines if line.strip()})


def flagged(agent: str) -> bool:
    return bool(build_context(SITE, 0, "203.0.113.1", agent, Location(), "", HEADERS).bot_reason)


def test_over_95_percent_of_real_crawlers_are_flagged_and_under_half_a_percent_of_real_browsers() -> None:
    crawlers, browsers = crawler_agents(), browser_agents()
    assert len(crawlers) > 1000 and len(browsers) > 500  # the corpora are really there
    caught = sum(map(flagged, crawlers)) / len(crawlers)
    wrongly = [agent for agent in browsers if flagged(agent)]
    print(
        f"\ncrawlers flagged: {caught:.2%} of {len(crawlers)}; "
        f"browsers wrongly flagged: {len(wrongly) / len(browsers):.2%} of {len(browsers)}"
    )
    assert caught > 0.95
    assert len(wrongly) / len(browsers) < 0.005, wrongly[:5]


@pytest.mark.parametrize("agent", browser_agents()[:: max(1, len(browser_agents()) // 50)])
def test_real_browser_agents_are_parsed_into_a_known_browser_and_os(agent: str) -> None:
    ctx = build_context(SITE, 0, "203.0.113.1", agent, Location(), "", HEADERS)
    assert ctx.agent.browser != "Other" and ctx.agent.os != "Other", agent
