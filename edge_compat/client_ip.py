"""The visitor's IP address behind proxies: the key of the relay's rate limit and Meta's
`client_ip_address`.

Each proxy appends the address it received the request from to `X-Forwarded-For`; whatever
stands to the left of what our own proxies wrote was written by someone else, the client
included, and proves nothing. So the header is believed only when the direct peer is one of the
configured proxies (GDP_TRUSTED_PROXIES), and then it is read from the right: past every hop
that is itself one of our proxies, the first address that is not is the one our outermost proxy
saw, the visitor (or the visitor's own proxy, which is as close as anyone can vouch for). A
client that writes addresses into the header only adds hops further left, which are never read:
it cannot choose its rate-limit key or the address Meta gets. A hop that is not an address
(`unknown`, an obfuscated id) where the visitor should be makes the visitor unknown (None).

IPv6 addresses are kept as they are (Meta prefers them), only compressed; IPv4-mapped IPv6
(`::ffff:1.2.3.4`) is the IPv4 address it carries. uvicorn's own proxy-header handling must be
off (`gdp serve` turns it off; `--no-proxy-headers` for a plain uvicorn command): it would
replace the peer address with one taken from the header before this module sees it.
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


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address in network for network in proxies)


def forwarded_hops(headers: Iterable[str]) -> list[Address | None]:
    """The hops of all X-Forwarded-For headers, in order; None for a hop that is not an address.

    Only the last MAX_HOPS are kept: the right end is the part our proxies wrote."""
    parts = [part for header in headers for part in header.split(",") if part.strip()]
    return [parse_address(part) for part in parts[-MAX_HOPS:]]


def client_ip(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: tuple[Network, ...]
) -> str | None:
    """The visitor's address as text, or None when it cannot be known (the peer is not an IP
    address, or a trusted proxy passed on a hop that is not one)."""
    direct = parse_address(peer)
    if direct is None:
        return None
    if not trusted_proxies or not _trusted(direct, trusted_proxies):
        return str(direct)
    hops = forwarded_hops(forwarded_for)
    for hop in reversed(hops):
        if hop is None:
            return None
        if not _trusted(hop, trusted_proxies):
            return str(hop)
    # Every hop is one of our proxies (or there is no header): the request began inside.
    first = hops[0] if hops else direct
    return str(first) if first is not None else None
