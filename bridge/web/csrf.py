"""CSRF tokens for the bridge's forms, bound to the browser's opaque id.

The token is an HMAC of the browser id under the bridge's secret key: a page from another site
can neither read the flow cookie nor compute the token, and the server keeps nothing extra.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from bridge.web.browser import browser_id


def _expected(request: Request) -> str:
    secret = request.app.state.settings.secret_key.reveal().encode()
    return hmac.new(secret, b"csrf|" + browser_id(request).encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    return _expected(request)


def csrf_valid(request: Request, submitted: object) -> bool:
    return isinstance(submitted, str) and hmac.compare_digest(_expected(request).encode(), submitted.encode())
