"""Signs of automation in the request itself, which a crawler pattern list cannot see."""

from __future__ import annotations

from collections.abc import Mapping

# Headless and automation tools that announce themselves in the agent but are not in the crawler list.
AUTOMATION_TOKENS = ("headlesschrome", "phantomjs", "selenium", "webdriver", "puppeteer", "playwright", "lighthouse")


def request_bot_reason(user_agent: str, headers: Mapping[str, str]) -> str:
    """Why this request looks automated, or "" when it looks like a visitor's browser."""
    lowered = user_agent.lower()
    if any(token in lowered for token in AUTOMATION_TOKENS):
        return "headless_browser"
    if "headless" in headers.get("sec-ch-ua", "").lower():
        return "headless_browser"
    # Every browser sends Accept-Language with page loads, fetches and beacons; scripts that borrow its agent don't.
    if lowered.startswith("mozilla/") and not headers.get("accept-language"):
        return "no_accept_language"
    return ""
