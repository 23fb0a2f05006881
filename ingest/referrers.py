"""Referrer to source and medium, UTM tags and ad click ids, and a GA4-like default channel."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

SEARCH_ENGINES = {
    "google": "Google",
    "bing": "Bing",
    "duckduckgo": "DuckDuckGo",
    "yahoo": "Yahoo",
    "yandex": "Yandex",
    "baidu": "Baidu",
    "ecosia": "Ecosia",
    "qwant": "Qwant",
    "startpage": "Startpage",
    "search.brave": "Brave",
}
SOCIAL_NETWORKS = {
    "facebook": "Facebook",
    "fb": "Facebook",
    "instagram": "Instagram",
    "t.co": "Twitter",
    "twitter": "Twitter",
    "x.com": "Twitter",
    "linkedin": "LinkedIn",
    "lnkd.in": "LinkedIn",
    "reddit": "Reddit",
    "pinterest": "Pinterest",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "news.ycombinator": "Hacker News",
    "mastodon": "Mastodon",
}
EMAIL_HOSTS = {"mail.google": "Gmail", "outlook.live": "Outlook", "mail.yahoo": "Yahoo Mail"}
CLICK_IDS = {"gclid": "Google Ads", "fbclid": "Facebook Ads", "msclkid": "Microsoft Ads"}
PAID_MEDIUMS = ("cpc", "ppc", "paid", "paidsearch", "cpm", "display", "retargeting")


class Attribution(NamedTuple):
    source: str
    medium: str
    campaign: str
    channel: str


def _match(host: str, table: dict[str, str]) -> str:
    for needle, name in table.items():
        if needle in host:
            return name
    return ""


def attribute(url: str, referrer: str, campaign_context: dict[str, str] | None = None) -> Attribution:
    query = parse_qs(urlsplit(url).query) if "?" in url else {}
    context = campaign_context or {}

    def tag(name: str) -> str:
        values = query.get(f"utm_{name}")
        return (values[0] if values else context.get(name, "")).strip()[:200]

    source, medium, campaign = tag("source"), tag("medium").lower(), tag("campaign") or context.get("name", "")
    for click_id, network in CLICK_IDS.items():
        if click_id in query:
            return Attribution(
                source or network, medium or "cpc", campaign, "Paid Search" if click_id != "fbclid" else "Paid Social"
            )
    ref_host = (urlsplit(referrer).hostname or "").lower() if referrer else ""
    own_host = (urlsplit(url).hostname or "").lower()
    if not source and ref_host and ref_host != own_host:
        for table, ref_medium in ((SEARCH_ENGINES, "organic"), (SOCIAL_NETWORKS, "social"), (EMAIL_HOSTS, "email")):
            name = _match(ref_host, table)
            if name:
                source, medium = name, medium or ref_medium
                break
        else:
            source, medium = ref_host.removeprefix("www."), medium or "referral"
    if not source:
        return Attribution("", "", campaign, "Direct" if not ref_host else "Internal")
    return Attribution(source, medium, campaign, default_channel(source, medium))


def default_channel(source: str, medium: str) -> str:
    if medium in PAID_MEDIUMS:
        if source in SEARCH_ENGINES.values():
            return "Paid Search"
        if source in SOCIAL_NETWORKS.values():
            return "Paid Social"
        return "Display" if medium in ("display", "cpm") else "Paid Other"
    if medium == "organic" or source in SEARCH_ENGINES.values():
        return "Organic Search"
    if medium == "social" or source in SOCIAL_NETWORKS.values():
        return "Organic Social"
    if medium in ("email", "e-mail", "newsletter"):
        return "Email"
    if medium == "affiliate":
        return "Affiliates"
    if medium == "referral":
        return "Referral"
    return "Unassigned"
