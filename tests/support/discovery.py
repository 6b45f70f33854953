"""An OIDC provider's discovery document, as tests that mock one with respx serve it."""

from __future__ import annotations


def discovery_document(issuer: str, *, userinfo: bool = True) -> dict[str, str]:
    """The endpoints the bridge's OIDC connector reads, all under `issuer`."""
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
    }
    if userinfo:
        document["userinfo_endpoint"] = f"{issuer}/userinfo"
    return document
