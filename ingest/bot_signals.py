"""Signs of automation in the request itself, which a crawler pattern list cannot see."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

# Headless and automation tools that announce themselves in the agent but are not in the crawler list.
AUTOMATION_TOKENS = ("headlesschrome", "phantomjs", "selenium", "webdriver", "puppeteer", "playwright", "lighthouse")


class AgentSigns(NamedTuple):
    automation: bool  # an automation tool's token is in the agent
    browser_like: bool  # the agent claims to be a browser (Mozilla/...)


@lru_cache(maxsize=8192)
def agent_signs(user_agent: str) -> AgentSigns:
    """Cached like the agent parse: a site's visitors share a few hundred agents."""
    lowered = user_agent.lower()
    return AgentSigns(any(token in lowered for token in AUTOMATION_TOKENS), lowered.startswith("mozilla/"))


def request_bot_reason(user_agent: str, headers: Mapping[str, str]) -> str:
    """Why this request looks automated, or "" when it looks like a visitor's browser."""
    signs = agent_signs(user_agent)
    if signs.automation:
        return "headless_browser"
    if "headless" in headers.get("sec-ch-ua", "").lower():
        return "headless_browser"
    # Every browser sends Accept-Language with page loads, fetches and beacons; scripts that borrow its agent don't.
    if signs.browser_like and not headers.get("accept-language"):
        return "no_accept_language"
    return ""
