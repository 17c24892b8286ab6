"""`client_ip_address`: validate, canonicalize, and refuse addresses that cannot be a visitor's.

Verdicts and canonical text are those of the standard `ipaddress` module (tests check the two
agree); plain dotted-quad IPv4 and all-hex IPv6 are handled here without it, as `ipaddress`
costs ~10 µs an address. Refused: loopback, unspecified, link-local and multicast addresses, and
IPv6 with a zone index; an IPv4-mapped IPv6 address is sent as the IPv4 address it carries.
"""

from __future__ import annotations

import ipaddress
import re

# Dotted quad without leading zeros (ipaddress rejects "01.2.3.4" as ambiguous octal).
_IPV4 = re.compile(
    r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})",
    re.ASCII,
)
_HEXTETS = re.compile(r"[0-9A-Fa-f:]{2,39}", re.ASCII)
_HEXTET = re.compile(r"[0-9A-Fa-f]{1,4}", re.ASCII)


class IpError(ValueError):
    """An address that cannot be sent; the message never contains the address."""


def normalize_ip(value: str) -> str:
    """The canonical text of a usable visitor address, or IpError with a value-free reason."""
    text = value.strip()
    match = _IPV4.fullmatch(text)
    if match is not None:
        return _ipv4(text, [int(part) for part in match.groups()])
    if _HEXTETS.fullmatch(text) and not text.startswith("::"):
        hextets = _expand(text)
        if hextets is not None and hextets[0] != 0:
            return _ipv6(hextets)
    return _library(text)


def _ipv4(text: str, octets: list[int]) -> str:
    if max(octets) > 255:
        raise IpError("not a valid IPv4 or IPv6 address")
    first = octets[0]
    if first == 127 or octets == [0, 0, 0, 0] or (first == 169 and octets[1] == 254):
        raise IpError("loopback, unspecified or link-local address, not a visitor's")
    if 224 <= first <= 239:
        raise IpError("multicast address, not a visitor's")
    return text


def _expand(text: str) -> list[int] | None:
    """The 8 hextets of an all-hex IPv6 address, or None to let `ipaddress` decide."""
    if text.count("::") > 1 or (text.endswith(":") and not text.endswith("::")):
        return None
    head, _, tail = text.partition("::")
    left = head.split(":") if head else []
    right = tail.split(":") if tail else []
    parts = left + right
    if not all(_HEXTET.fullmatch(part) for part in parts):
        return None
    if "::" in text:
        if len(parts) > 7:
            return None
        hextets = left + ["0"] * (8 - len(parts)) + right
    elif len(parts) != 8:
        return None
    else:
        hextets = parts
    return [int(h, 16) for h in hextets]


def _ipv6(hextets: list[int]) -> str:
    # Addresses whose first hextet is zero (::1, ::, ::ffff:a.b.c.d and friends) are left to
    # `ipaddress`; the others are loopback/unspecified/mapped only by these two ranges.
    first = hextets[0]
    if first & 0xFFC0 == 0xFE80:
        raise IpError("loopback, unspecified or link-local address, not a visitor's")
    if first >= 0xFF00:
        raise IpError("multicast address, not a visitor's")
    return _compressed(hextets)


def _compressed(hextets: list[int]) -> str:
    """RFC 5952 text: lowercase, no leading zeros, the longest run (first if tied) of two or
    more zero hextets written as "::" (what `str(ipaddress.IPv6Address)` prints)."""
    best_start, best_len, start = -1, 0, -1
    for index, hextet in enumerate([*hextets, 1]):
        if hextet == 0 and index < 8:
            if start < 0:
                start = index
        elif start >= 0:
            if index - start > best_len:
                best_start, best_len = start, index - start
            start = -1
    words = [f"{h:x}" for h in hextets]
    if best_len < 2:
        return ":".join(words)
    return ":".join(words[:best_start]) + "::" + ":".join(words[best_start + best_len :])


def _library(text: str) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise IpError("not a valid IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            raise IpError("IPv6 address with a zone index")
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    if address.is_unspecified or address.is_loopback or address.is_link_local:
        raise IpError("loopback, unspecified or link-local address, not a visitor's")
    if address.is_multicast:
        raise IpError("multicast address, not a visitor's")
    return str(address)
