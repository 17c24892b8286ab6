"""The visitor's IP address behind proxies, for Meta's `client_ip_address`.

`X-Forwarded-For` is believed only when the direct peer is one of the configured proxies
(GDP_TRUSTED_PROXIES): anyone else could write anything into it. Behind a trusted proxy the
answer is the first public (globally routable) address of the header, left to right, which is
the browser as the first proxy saw it; when no hop is public (a private network), the nearest hop
that is not one of the proxies. IPv6 addresses are kept as they are (Meta prefers them), only
compressed; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address it carries.

A client can still put a public address of its choosing at the left of the header; a trusted
proxy appends, it does not vouch for the hops before it. For Meta's matching that only harms the
sender's own events, so the leftmost public address is used (it is the browser's real address
behind CDNs that append their own).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_HOPS = 32  # more hops than any real chain: the rest is ignored


def parse_networks(text: str) -> tuple[Network, ...]:
    """`"10.0.0.0/8, 127.0.0.1, ::1"` -> networks; ValueError names the entry that is wrong."""
    networks: list[Network] = []
    for position, part in enumerate(text.replace(";", ",").split(","), start=1):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"GDP_TRUSTED_PROXIES entry {position} is not an IP address or CIDR network"
            ) from None
    return tuple(networks)


def parse_address(text: str | None) -> Address | None:
    """One address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`,
    `2001:db8::1`, optionally quoted; None for anything else (`unknown`, obfuscated ids)."""
    if not text:
        return None
    value = text.strip().strip('"').strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        value = value[1:end]
    elif value.count(":") == 1:  # IPv4 with a port (an IPv6 address has at least two colons)
        value = value.split(":", 1)[0]
    if "%" in value:  # a zone id (fe80::1%eth0) names an interface of the proxy, not the client
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address in network for network in proxies)


def forwarded_hops(headers: Iterable[str]) -> list[Address]:
    """The valid addresses of all X-Forwarded-For headers, in order (invalid hops skipped)."""
    hops: list[Address] = []
    for header in headers:
        for part in header.split(","):
            if len(hops) >= MAX_HOPS:
                return hops
            address = parse_address(part)
            if address is not None:
                hops.append(address)
    return hops


def client_ip(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: tuple[Network, ...]
) -> str | None:
    """The visitor's address as text, or None when the peer is not an IP address at all."""
    direct = parse_address(peer)
    if direct is None:
        return None
    if not trusted_proxies or not _trusted(direct, trusted_proxies):
        return str(direct)
    hops = forwarded_hops(forwarded_for)
    for hop in hops:
        if is_public(hop):
            return str(hop)
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return str(hop)
    return str(direct)
