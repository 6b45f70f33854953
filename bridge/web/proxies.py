"""The client's address behind trusted reverse proxies (`BRIDGE_TRUSTED_PROXIES`).

The throttle's per-address budgets and the audit log need the real client. Behind a proxy the TCP
peer is the proxy; the client is named in a header that anyone can also send. So the header is
believed only when the peer is a trusted proxy, and only as far as the chain stays trusted: walking
from the right (the hop nearest to us), each entry was written by the hop to its right; the first
entry that is not itself a trusted proxy is the client, and whatever lies left of it was written by
the client and is ignored. With no trusted proxies (the default) the headers are never read.

Only the header named by `BRIDGE_PROXY_HEADER` is read (`x-forwarded-for` or `forwarded`): a proxy
that appends to one of them passes the other through untouched, so reading both would let a client
forge the one its proxy does not write.

uvicorn's own ProxyHeadersMiddleware is not used: it reads only X-Forwarded-For (not RFC 7239
`Forwarded`), and `uvicorn.run` applies it by default trusting 127.0.0.1, which is exactly the
blind trust this replaces (`bridge serve` passes `proxy_headers=False`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

FORWARDED_HEADERS = ("x-forwarded-for", "forwarded")


def parse_address(value: str) -> Address | None:
    """An IP address from a forwarding header entry: bare, `ip:port`, `[v6]` or `[v6]:port`."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value, closed, _port = value[1:].partition("]")
        if not closed:
            return None
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def x_forwarded_for_chain(values: Sequence[str]) -> list[str]:
    return [entry for value in values for entry in value.split(",")]


def forwarded_chain(values: Sequence[str]) -> list[str]:
    """The `for=` of every element of RFC 7239 `Forwarded` headers; an element without one is `""`."""
    chain = []
    for value in values:
        for element in value.split(","):
            found = ""
            for pair in element.split(";"):
                name, _, token = pair.partition("=")
                if name.strip().lower() == "for":
                    found = token.strip()
            chain.append(found)
    return chain


def client_behind_proxies(peer: str, chain: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client: the right-most address of `chain` not written by a client, starting at `peer`."""

    def is_trusted(address: str) -> bool:
        parsed = parse_address(address)
        return parsed is not None and any(parsed.version == net.version and parsed in net for net in trusted)

    current = peer
    for entry in reversed(chain):
        if not is_trusted(current):
            break
        address = parse_address(entry)
        if address is None:
            # "unknown", an obfuscated name or garbage from a trusted hop: the hop is all we know.
            break
        current = str(address)
    return current


class TrustedProxyMiddleware:
    """Sets `scope["client"]` to the client behind trusted proxies, for every route and the logs."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network], header: str = "x-forwarded-for") -> None:
        if header not in FORWARDED_HEADERS:
            raise ValueError(f"unknown forwarding header {header!r}")
        self.app = app
        self.trusted = tuple(trusted)
        self.header = header.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and self.trusted and client:
            values = [value.decode("latin-1") for name, value in scope["headers"] if name == self.header]
            if values:
                chain = x_forwarded_for_chain(values) if self.header == b"x-forwarded-for" else forwarded_chain(values)
                address = client_behind_proxies(client[0], chain, self.trusted)
                if address != client[0]:
                    scope["client"] = (address, 0)
        await self.app(scope, receive, send)
