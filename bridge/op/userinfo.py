"""The userinfo endpoint: our own access tokens, checked by Authlib's RFC 9068 validator.

A valid signature is not enough: the grant the token names must not be revoked (a reused code
or refresh token revokes it), and the sign-in session behind it must still be alive (logout,
idle or absolute timeout, a credential reset or block end it). One statement reads both, by key.

Challenges follow RFC 6750 §3: a request without a token gets `Bearer realm="<issuer>"` and no
error code; a bad token gets `error="invalid_token"`. Every refusal is audited, without the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.responses import JSONResponse, Response

from bridge.op.claims import userinfo_claims
from bridge.op.context import ProviderContext
from bridge.op.keys import KeyStore
from bridge.op.requests import StarletteOAuth2Request
from bridge.services import audit
from bridge.services.oauth_tokens import token_hash


class UserinfoRefusal(Exception):
    """Why a userinfo call was refused: the OAuth error to answer and the reason to audit."""

    def __init__(
        self, error: OAuth2Error, reason: str, claims: dict[str, Any] | None = None, staff_id: int | None = None
    ) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason
        self.claims = claims or {}
        self.staff_id = staff_id


class AccessTokenValidator(JWTBearerTokenValidator):  # type: ignore[misc]
    def __init__(self, keys: KeyStore, issuer: str, resource_server: str) -> None:
        super().__init__(issuer=issuer, resource_server=resource_server, realm=issuer)
        self.keys = keys
        self._kid: str | None = None

    def get_jwks(self) -> KeySet:
        return self.keys.verification_keys(self._kid)

    def authenticate_token(self, token_string: str) -> Any:
        try:
            header = jws.extract_compact(token_string.encode()).protected
        except (JoseError, ValueError) as error:
            raise InvalidTokenError(realm=self.realm) from error
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            # An id_token is signed by the same keys; it must not pass for an access token.
            raise InvalidTokenError(realm=self.realm)
        kid = header.get("kid")
        self._kid = kid if isinstance(kid, str) else None
        return super().authenticate_token(token_string)


def bearer_token(request: StarletteOAuth2Request) -> str | None:
    authorization = str(request.headers.get("authorization") or "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "POST":
        token = request.form.get("access_token")
        return token if isinstance(token, str) and token else None
    return None


def no_token_challenge(realm: str) -> Response:
    """RFC 6750 §3.1: without any token the challenge carries no error code."""
    return JSONResponse(
        {"error": "invalid_request", "error_description": "Send the access token as 'Authorization: Bearer <token>'."},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer realm="{realm}"', "Cache-Control": "no-store"},
    )


@dataclass(frozen=True)
class UserinfoAnswer:
    response: Response
    # The app the token was issued to, when the token said (for CORS).
    client_id: str | None


def userinfo_response(context: ProviderContext, request: StarletteOAuth2Request) -> UserinfoAnswer:
    token = bearer_token(request)
    if token is None:
        _audit_refusal(context, UserinfoRefusal(InvalidTokenError(realm=context.issuer), "no_token"), None)
        return UserinfoAnswer(no_token_challenge(context.issuer), None)
    client_id: str | None = None
    try:
        claims, client_id = _userinfo(context, request, token)
    except UserinfoRefusal as refusal:
        _audit_refusal(context, refusal, token)
        status, body, headers = refusal.error()
        answer = JSONResponse(body, status_code=status, headers={**dict(headers), "Cache-Control": "no-store"})
        if "www-authenticate" not in answer.headers:
            # Authlib's insufficient_scope carries no challenge; RFC 6750 §3 wants one.
            answer.headers["WWW-Authenticate"] = (
                f'Bearer realm="{context.issuer}", error="{refusal.error.error}", scope="openid"'
            )
        claimed = refusal.claims.get("client_id")
        return UserinfoAnswer(answer, claimed if isinstance(claimed, str) else None)
    return UserinfoAnswer(JSONResponse(claims, headers={"Cache-Control": "no-store"}), client_id)


def _userinfo(
    context: ProviderContext, request: StarletteOAuth2Request, token: str
) -> tuple[dict[str, Any], str]:
    realm = context.issuer
    validator = AccessTokenValidator(context.keys, context.issuer, context.userinfo_endpoint)
    try:
        claims = validator.authenticate_token(token)
        validator.validate_token(claims, ["openid"], request)
    except OAuth2Error as error:
        raise UserinfoRefusal(error, "token_invalid" if error.status_code == 401 else error.error) from error
    client_id, grant_id, role_id = claims.get("client_id"), claims.get("grant_id"), claims.get("rid")
    grant, grantee = (
        context.load_grant_and_grantee(grant_id, client_id, role_id if isinstance(role_id, int) else None)
        if isinstance(grant_id, str) and isinstance(client_id, str)
        else (None, None)
    )
    if grant is None:
        raise UserinfoRefusal(
            InvalidTokenError("The grant behind this token has been revoked.", realm=realm), "grant_revoked", claims
        )
    if grantee is None or grantee.staff.subject != claims.get("sub") or grantee.session.sid != claims.get("sid"):
        raise UserinfoRefusal(
            InvalidTokenError("The sign-in session behind this token has ended.", realm=realm),
            "signin_session_ended",
            claims,
            grant.staff_id,
        )
    return userinfo_claims(grantee, str(claims.get("scope", ""))), grant.client_id


def _audit_refusal(context: ProviderContext, refusal: UserinfoRefusal, token: str | None) -> None:
    details: dict[str, Any] = {"reason": refusal.reason}
    if token is not None:
        # Enough to correlate with other events, useless to replay.
        details["presented_hash"] = token_hash(token)[:16]
    for name in ("client_id", "grant_id"):
        if isinstance(refusal.claims.get(name), str):
            details[name] = refusal.claims[name]
    audit.record(
        context.db, context.audit, "oidc.userinfo.refused", "refused", subject_staff_id=refusal.staff_id, **details
    )
