"""`client_ip_address`: validate, canonicalize, and refuse addresses that cannot be a visitor's.

Verdicts and canonical text are those of the standard `ipaddress` module (tests check the two
agree); plain dotted-quad IPv4 and all-hex IPv6 are handled with the C library's `inet_pton`
and `inet_ntop` instead, as `ipaddress` costs ~10 µs an address. Refused: loopback,
unspecified, link-local and multicast addresses, and IPv6 with a zone index; an IPv4-mapped
IPv6 address is sent as the IPv4 address it carries.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Final

# Dotted quad without leading zeros (ipaddress rejects "01.2.3.4" as ambiguous octal).
_IPV4: Final = re.compile(
    r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})",
    re.ASCII,
)
_HEXTETS: Final = re.compile(r"[0-9A-Fa-f:]{2,39}", re.ASCII)


class IpError(ValueError):
    """An address that cannot be sent; the message never contains the address."""


def normalize_ip(value: str) -> str:
    """The canonical text of a usable visitor address, or IpError with a value-free reason."""
    text = value.strip()
    if _IPV4.fullmatch(text) is not None:
        try:
            octets = socket.inet_pton(socket.AF_INET, text)
        except OSError:  # an octet over 255
            raise IpError("not a valid IPv4 or IPv6 address") from None
        return _ipv4(text, octets)
    if _HEXTETS.fullmatch(text) is not None and not text.startswith("::"):
        try:
            packed = socket.inet_pton(socket.AF_INET6, text)
        except OSError:
            return _library(text)  # not plain hextets: ipaddress decides and says why
        first = packed[0] << 8 | packed[1]
        if first != 0:
            return _ipv6(first, packed)
    return _library(text)


def _ipv4(text: str, octets: bytes) -> str:
    first = octets[0]
    if first == 127 or octets == b"\0\0\0\0" or (first == 169 and octets[1] == 254):
        raise IpError("loopback, unspecified or link-local address, not a visitor's")
    if 224 <= first <= 239:
        raise IpError("multicast address, not a visitor's")
    return text


def _ipv6(first: int, packed: bytes) -> str:
    # Addresses whose first hextet is zero (::1, ::, ::ffff:a.b.c.d and friends) are left to
    # `ipaddress`; the others are link-local or multicast only by these two ranges.
    if first & 0xFFC0 == 0xFE80:
        raise IpError("loopback, unspecified or link-local address, not a visitor's")
    if first >= 0xFF00:
        raise IpError("multicast address, not a visitor's")
    # RFC 5952 text (lowercase, no leading zeros, the longest run of two or more zero hextets
    # as "::"), what `str(ipaddress.IPv6Address)` prints for an address not starting with zero.
    return socket.inet_ntop(socket.AF_INET6, packed)


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
