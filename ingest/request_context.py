"""Facts about one HTTP request, worked out once per request rather than once per event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from starlette.requests import Request

from clickpulse.sites import Site
from ingest.bot_signals import request_bot_reason
from ingest.client_ip import anonymise_ip
from ingest.geo import Location
from ingest.user_agents import Agent, is_sdk_agent, parse_agent


@dataclass(slots=True)
class RequestContext:
    site: Site
    received_at: int  # ms
    ip: str  # the real client IP: used for geo and the cookieless hash, never stored
    network: str  # the IP anonymised (IPv4 /24, IPv6 /48): the only form of it that leaves ingest
    user_agent: str
    agent: Agent
    bot_reason: str = ""  # from the agent pattern list, else from the request's own signals
    country: str = ""
    region: str = ""
    city: str = ""
    cookieless_salt: str = ""
    server_side: bool = False  # a Segment server SDK sent this: its own UA is not the visitor's


def plain_headers(request: Request) -> dict[str, str]:
    """The request's headers as a dict, decoded once. Starlette's Headers scans its list on every lookup (and
    raises and catches KeyError for an absent header); a beacon's request asks for about ten of them."""
    # ASGI servers send names lower-cased; with the list reversed, the first of a repeated header wins, as in
    # Starlette's own lookup.
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(request.scope["headers"])}


def build_context(
    site: Site,
    received_at: int,
    ip: str,
    user_agent: str,
    location: Location,
    salt: str,
    headers: Mapping[str, str] | None = None,
) -> RequestContext:
    server_side = is_sdk_agent(user_agent)
    agent = parse_agent("" if server_side else user_agent)
    bot_reason = agent.bot_reason
    if not bot_reason and not server_side and user_agent:
        bot_reason = request_bot_reason(user_agent, headers if headers is not None else {})
    return RequestContext(
        site=site,
        received_at=received_at,
        ip=ip,
        network=anonymise_ip(ip),
        user_agent=user_agent,
        agent=agent,
        bot_reason=bot_reason,
        country=location.country,
        region=location.region,
        city=location.city,
        cookieless_salt=salt,
        server_side=server_side,
    )


def with_relayed_ip(ctx: RequestContext, ip: str, location: Location) -> RequestContext:
    """A server-side SDK sends from its own address and relays its visitor's in the event (Segment's
    context.ip): that one locates the visitor and keys the cookieless hash."""
    return replace(
        ctx, ip=ip, network=anonymise_ip(ip), country=location.country, region=location.region, city=location.city
    )
