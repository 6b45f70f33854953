"""How the bridge names its cookies: `__Host-` whenever it is served over https.

A `__Host-` cookie is accepted by browsers only with `Secure`, `Path=/` and no `Domain`
(RFC 6265bis §4.1.3.2): no sibling subdomain and no plain-http page can set or shadow it. The
local demo runs on http, where the prefix would be refused, so there the plain name is used.
"""

from __future__ import annotations

from bridge.config import Settings

HOST_PREFIX = "__Host-"


def cookie_name(settings: Settings, base: str) -> str:
    """The name to set and read `base` under; set it with secure=settings.secure_cookies, path="/"."""
    return f"{HOST_PREFIX}{base}" if settings.secure_cookies else base
