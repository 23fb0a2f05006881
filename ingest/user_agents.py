"""User agent to browser, os, device, and bot detection; cached because a few agents make most traffic."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import crawleruseragents
from ua_parser import parse

# Server-side analytics SDKs send their own agent; it says nothing about the visitor.
SDK_AGENT_PREFIXES = (
    "analytics-python",
    "analytics-node",
    "analytics-ruby",
    "analytics-go",
    "analytics-java",
    "rudder",
    "segment",
)


class Agent(NamedTuple):
    browser: str
    os: str
    device: str
    bot_reason: str


def is_sdk_agent(user_agent: str) -> bool:
    return user_agent.lower().startswith(SDK_AGENT_PREFIXES)


@lru_cache(maxsize=8192)
def parse_agent(user_agent: str) -> Agent:
    if not user_agent:
        return Agent("", "", "", "")
    bot_reason = "known_crawler" if crawleruseragents.is_crawler(user_agent) else ""
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_name = result.os.family if result.os else "Other"
    return Agent(browser, os_name, _device_type(user_agent, result.device.family if result.device else ""), bot_reason)


def _device_type(user_agent: str, device_family: str) -> str:
    lowered = user_agent.lower()
    if "ipad" in lowered or "tablet" in lowered or ("android" in lowered and "mobile" not in lowered):
        return "tablet"
    if "mobi" in lowered or "iphone" in lowered or device_family in ("iPhone", "Generic Smartphone"):
        return "mobile"
    return "desktop"
