"""Checks on an authorization request that Authlib leaves to us.

- Sizes: no parameter longer than MAX_PARAMETER_LENGTH (a nonce no longer than the column
  that keeps it), so nothing oversized is stored, echoed in a redirect or logged.
- Repetition: RFC 6749 §3.1 and §3.2 forbid any parameter twice (Authlib checks only five at the
  authorization endpoint, none at the token endpoint).
- `id_token_hint` (OIDC Core §3.1.2.1): it must be an ID Token we issued to this app; naming
  another person than the one signed in here means `login_required`.
- POST (Core §3.1.2.1): the form becomes the query of a GET to the same endpoint.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import LoginRequiredError
from joserfc import jws, jwt
from joserfc.errors import JoseError
from starlette.datastructures import FormData, QueryParams

from bridge.op.context import ProviderContext
from bridge.op.requests import StarletteOAuth2Request
from bridge.services.grantees import AuthorizingSignIn
from bridge.services.signing_keys import SUPPORTED_ALGORITHMS

MAX_PARAMETER_LENGTH = 4096
# The authorization_codes.nonce column.
MAX_NONCE_LENGTH = 500
# A GET made from a POSTed request must stay within what browsers and proxies carry.
MAX_QUERY_LENGTH = 8000


def check_sizes(request: StarletteOAuth2Request) -> None:
    """Before anything else: an oversized request is answered with a page, never echoed back."""
    for name, values in request.payload.datalist.items():
        if len(name) > 100 or any(len(str(value)) > MAX_PARAMETER_LENGTH for value in values):
            raise InvalidRequestError("A request parameter is too long.")


def refuse_repeated(request: StarletteOAuth2Request) -> None:
    """RFC 6749 §3.1 and §3.2: no parameter twice at the authorization or the token endpoint, even
    with the same value (else which one counts is the parser's choice, not the sender's)."""
    for name, values in request.payload.datalist.items():
        if len(values) > 1:
            raise InvalidRequestError(f"Parameter '{_printable(name)}' is included more than once.")


def check_parameters(request: StarletteOAuth2Request) -> None:
    refuse_repeated(request)
    nonce = request.payload.data.get("nonce")
    if nonce is not None and len(str(nonce)) > MAX_NONCE_LENGTH:
        raise InvalidRequestError(f"The 'nonce' must not be longer than {MAX_NONCE_LENGTH} characters.")


def check_id_token_hint(
    context: ProviderContext, request: StarletteOAuth2Request, active: AuthorizingSignIn | None
) -> None:
    hint = request.payload.data.get("id_token_hint")
    if hint in (None, ""):
        return
    subject = hinted_subject(context, str(hint), str(request.payload.client_id))
    if active is not None and active.staff.subject != subject:
        # Core §3.1.2.1: the app asked for this person, and someone else is signed in here.
        raise LoginRequiredError("The id_token_hint names another person than the one signed in.")


def hinted_subject(context: ProviderContext, hint: str, client_id: str) -> str:
    """The `sub` of an ID Token we issued to `client_id` (expired ones too, as hints may be)."""
    refusal = InvalidRequestError("The id_token_hint is not an ID Token this provider issued to this app.")
    try:
        header = jws.extract_compact(hint.encode()).protected
        kid = header.get("kid")
        token = jwt.decode(
            hint, context.keys.verification_keys(kid if isinstance(kid, str) else None),
            algorithms=list(SUPPORTED_ALGORITHMS),
        )
    except (JoseError, ValueError, TypeError) as error:
        raise refusal from error
    if str(token.header.get("typ", "")).lower() in ("at+jwt", "application/at+jwt"):
        raise refusal
    claims: dict[str, Any] = token.claims
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    subject = claims.get("sub")
    if claims.get("iss") != context.issuer or client_id not in audiences or not isinstance(subject, str):
        raise refusal
    return subject


def get_target_of_post(path: str, query: QueryParams, form: FormData | None) -> str | None:
    """The GET URL carrying a POSTed authorization request; None if it would be too long.

    Answering a POST with a 303 to the same request as a GET (rather than processing it) keeps
    one behaviour for both methods, and the sign-in cookie (SameSite=Lax) is sent again: a
    browser leaves it off a cross-site POST, which would otherwise look like "not signed in".
    """
    pairs = list(query.multi_items())
    if form is not None:
        pairs += [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    encoded = urlencode(pairs)
    if len(encoded) > MAX_QUERY_LENGTH:
        return None
    return f"{path}?{encoded}" if encoded else path


def _printable(name: str) -> str:
    # Error descriptions are limited to printable ASCII without quote or backslash (RFC 6749).
    return "".join(char for char in name if 0x20 <= ord(char) <= 0x7E and char not in '"\\')[:40]
