"""Who the client is behind reverse proxies: only trusted hops are believed, right to left."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from bridge.web.proxies import client_behind_proxies, forwarded_chain, parse_address, x_forwarded_for_chain

TRUSTED = (ip_network("10.0.0.0/24"), ip_network("2001:db8:ffff::/48"))


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        # An untrusted peer: its headers are ignored, whatever they say.
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),
        ("127.0.0.1", "198.51.100.1", "127.0.0.1"),
        ("testclient", "198.51.100.1", "testclient"),
        # A trusted proxy: the right-most address it did not forward for itself.
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.7", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1:5555", "198.51.100.1"),
        ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        ("10.0.0.2", "::ffff:198.51.100.1", "198.51.100.1"),
        ("2001:db8:ffff::2", "2001:db8::1", "2001:db8::1"),
        # Every hop trusted: the first one is all that is known.
        ("10.0.0.2", "10.0.0.9, 10.0.0.7", "10.0.0.9"),
        # Garbage where an address should be: stop at the last trusted hop, never take the garbage.
        ("10.0.0.2", "198.51.100.1, unknown", "10.0.0.2"),
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1, 10.0.0.7, not-an-ip", "10.0.0.2"),
    ],
)
def test_x_forwarded_for_is_believed_only_through_trusted_hops(peer: str, header: str, client: str) -> None:
    assert client_behind_proxies(peer, x_forwarded_for_chain([header]), TRUSTED) == client


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_behind_proxies("10.0.0.2", ["198.51.100.1"], ()) == "10.0.0.2"


def test_several_header_lines_are_one_chain_in_order() -> None:
    chain = x_forwarded_for_chain(["6.6.6.6", "198.51.100.1"])
    assert client_behind_proxies("10.0.0.2", chain, TRUSTED) == "198.51.100.1"


def test_rfc_7239_forwarded_elements() -> None:
    chain = forwarded_chain(['for=6.6.6.6;proto=https, For="[2001:db8::1]:4711";by=10.0.0.2', "proto=http"])
    assert chain == ["6.6.6.6", '"[2001:db8::1]:4711"', ""]
    assert client_behind_proxies("10.0.0.2", chain[:2], TRUSTED) == "2001:db8::1"
    assert client_behind_proxies("10.0.0.2", chain, TRUSTED) == "10.0.0.2"
    assert client_behind_proxies("10.0.0.2", forwarded_chain(["for=_hidden"]), TRUSTED) == "10.0.0.2"


@pytest.mark.parametrize("value", ["unknown", "_hidden", "1.2.3", "[::1", "999.1.1.1", "host.example:80"])
def test_what_is_not_an_address(value: str) -> None:
    assert parse_address(value) is None
