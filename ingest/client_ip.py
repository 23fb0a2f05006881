"""The visitor's IP: from the socket, or from forwarding headers set by a trusted proxy; then anonymised."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache


def client_ip(peer: str, headers: Mapping[str, str], trusted_proxies: frozenset[str]) -> str:
    if peer in trusted_proxies:
        forwarded = headers.get("x-forwarded-for")
        if forwarded:
            # The right-most address not belonging to our proxies is the client.
            for candidate in reversed([part.strip() for part in forwarded.split(",")]):
                if candidate and candidate not in trusted_proxies:
                    return candidate
        real_ip = headers.get("x-real-ip")
        if real_ip:
            return real_ip.strip()
    return peer


@lru_cache(maxsize=65536)
def anonymise_ip(ip: str) -> str:
    """IPv4 to its /24, IPv6 to its /48: enough for geo, not enough to single out a person."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    # An IPv4 address inside an IPv6 one is anonymised as IPv4: a 6to4 address (2002::/16) holds all of it within
    # its first 48 bits.
    if isinstance(addr, ipaddress.IPv6Address):
        addr = addr.ipv4_mapped or addr.sixtofour or addr
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)
