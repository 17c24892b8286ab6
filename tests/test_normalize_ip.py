"""client_ip_address: the fast paths give exactly the verdicts and text of `ipaddress`."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.meta._ip import IpError, normalize_ip


def reference(text: str) -> str | None:
    """The obvious way, with the standard library only."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    if (
        address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
    ):
        return None
    return str(address)


def ours(text: str) -> str | None:
    try:
        return normalize_ip(text)
    except IpError:
        return None


def _spell(address: ipaddress.IPv6Address, style: int) -> str:
    full = address.exploded
    if style == 0:
        return full
    if style == 1:
        return full.upper()
    if style == 2:
        return ":".join(h.lstrip("0") or "0" for h in full.split(":"))
    return str(address)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.ip_addresses(v=4).map(str),
        st.builds(_spell, st.ip_addresses(v=6), st.integers(0, 3)),
        st.builds(
            lambda hextets, cut: ":".join(hextets[:cut]) + "::" + ":".join(hextets[cut + 2 :]),
            st.lists(
                st.sampled_from(
                    [
                        "0",
                        "1",
                        "fe80",
                        "ff02",
                        "2001",
                        "db8",
                        "ffff",
                        "00ab",
                        "FFFF",
                        "12345",
                        "g1",
                        "",
                    ]
                ),
                min_size=8,
                max_size=8,
            ),
            st.integers(0, 6),
        ),
        st.text("0123456789abcdefABCDEF:.%", max_size=45),
    )
)
@pytest.mark.slow
def test_same_as_ipaddress(text: str) -> None:
    assert ours(text) == reference(text), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 2001:0DB8:0000:0000:0000:0000:0000:0001 ", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  # first of two equal runs
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  # the longest run
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"),
        ("2001:db8::1:0", "2001:db8::1:0"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::1", None),
        ("::", None),
        ("fe80::1", None),
        ("febf::1", None),
        ("ff02::1", None),
        ("fe80::1%eth0", None),
        ("2001:db8::1::2", None),
        ("2001:db8:1", None),
        ("127.0.0.1", None),
        ("01.2.3.4", None),
    ],
)
def test_examples(text: str, expected: str | None) -> None:
    assert ours(text) == expected == reference(text)
