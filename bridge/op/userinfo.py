"""The userinfo endpoint: our own access tokens, checked as RFC 9068 §4 asks (Authlib's claim rules).

A valid signature is not enough: the grant the token names must not be revoked (a reused code
or refresh token revokes it), and the sign-in session behind it must still be alive (logout,
idle or absolute timeout, a credential reset or block end it). One statement reads both, by key,
at every call.

A call that is answered reads and writes nothing else, so it is judged outside the provider's
transaction (`examine`: one SELECT on a plain connection, no ORM session or unit of work, nothing
to commit); only a refusal (to audit) or a browser app's Origin (CORS, read through the ORM) opens
the provider's transaction.

Challenges follow RFC 6750 §3: a request without a token gets `Bearer realm="<issuer>"` and no
error code; a bad token gets `error="invalid_token"`. Every refusal is audited, without the token.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims, JWTAccessTokenClaimsValidator
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry
from joserfc.registry import Header
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import JSONResponse, Response

from bridge.op.claims import userinfo_claims
from bridge.op.context import ProviderContext
from bridge.op.keys import KeyStore
from bridge.op.requests import StarletteOAuth2Request
from bridge.services import audit, grantees
from bridge.services.oauth_tokens import token_hash
from bridge.services.signin_sessions import SessionTimeouts
from bridge.services.signing_keys import SUPPORTED_ALGORITHMS

# Only the algorithms our keys sign with (the key found by `kid` must also be of the alg's type).
_SIGNATURES = JWSRegistry(algorithms=list(SUPPORTED_ALGORITHMS))
_ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
_OPTIONAL_CLAIMS = ("auth_time", "acr", "amr", "scope", "groups", "roles", "entitlements")


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


def _claim_options(issuer: str, resource_server: str) -> dict[str, Any]:
    """The claim rules of Authlib's `JWTBearerTokenValidator.authenticate_token` (RFC 9068 §4):
    `iss` ours, `aud` naming the userinfo endpoint, `exp` in the future, `sub`, `client_id`, `iat`,
    `jti` present; the optional ones, when present, not blank."""
    return {
        "iss": {"essential": True, "value": issuer},
        "exp": {"essential": True},
        "aud": {"essential": True, "value": resource_server},
        "sub": {"essential": True},
        "client_id": {"essential": True},
        "iat": {"essential": True},
        "jti": {"essential": True},
        **{name: {"essential": False} for name in _OPTIONAL_CLAIMS},
    }


class AccessTokenValidator(JWTBearerTokenValidator):  # type: ignore[misc]
    """Our access tokens: the compact JWS parsed once (header, signature, claims), the key found by
    `kid` among the published ones. Holds no request's state: one per issuer, shared by threads."""

    def __init__(self, keys: KeyStore, issuer: str, resource_server: str) -> None:
        super().__init__(issuer=issuer, resource_server=resource_server, realm=issuer)
        self.keys = keys
        # Stateless (its clock is read at each validation): built once.
        self._claims = JWTAccessTokenClaimsValidator(**_claim_options(issuer, resource_server))

    def get_jwks(self) -> Any:
        return self.keys.verification_keys()

    def _verified(self, token_string: str) -> tuple[Header, dict[str, Any]]:
        """The header and claims of a token of ours whose signature holds (claims not yet judged)."""
        try:
            obj = jws.extract_compact(token_string.encode())
            header = obj.protected
            if str(header.get("typ", "")).lower() not in _ACCESS_TOKEN_TYPES:
                # An id_token is signed by the same keys; it must not pass for an access token.
                raise InvalidTokenError(realm=self.realm)
            kid = header.get("kid")
            keys = self.keys.verification_keys(kid if isinstance(kid, str) else None)
            if not jws.validate_compact(obj, keys, registry=_SIGNATURES):
                raise InvalidTokenError(realm=self.realm)
            claims = json.loads(obj.payload)
        except (JoseError, ValueError, TypeError) as error:
            raise InvalidTokenError(realm=self.realm) from error
        if not isinstance(claims, dict):
            raise InvalidTokenError(realm=self.realm)
        return header, claims

    def authenticate_token(self, token_string: str) -> JWTAccessTokenClaims:
        """Signature checked, claims not yet (introspection tells an expired token apart): Authlib's
        claims object, whose `validate()` applies the same rules as `validated_claims`."""
        header, claims = self._verified(token_string)
        iss = {"essential": True, "validate": self.validate_iss}
        return JWTAccessTokenClaims(claims, header, {**_claim_options(self.issuer, self.resource_server), "iss": iss})

    def validated_claims(self, token_string: str, scopes: list[str]) -> dict[str, Any]:
        """The claims of a valid access token of ours granting `scopes` (userinfo)."""
        _header, claims = self._verified(token_string)
        try:
            self._claims.validate(claims)
        except JoseError as error:
            raise InvalidTokenError(realm=self.realm) from error
        if self.scope_insufficient(claims.get("scope", []), scopes):
            raise InsufficientScopeError()
        return claims


@functools.lru_cache(maxsize=8)
def access_token_validator(keys: KeyStore, issuer: str, resource_server: str) -> AccessTokenValidator:
    return AccessTokenValidator(keys, issuer, resource_server)


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
    # Why the call was refused (to audit), if it was; and the token presented, if any.
    refusal: UserinfoRefusal | None = None
    token: str | None = None


def examine(
    factory: sessionmaker[Session],
    validator: AccessTokenValidator,
    request: StarletteOAuth2Request,
    *,
    timeouts: SessionTimeouts,
    now: datetime,
) -> UserinfoAnswer:
    """The answer to a userinfo call, judged with one read outside any ORM session (a token that
    fails its own checks is refused without one); a refusal is left to the caller to audit."""
    realm = validator.realm
    token = bearer_token(request)
    if token is None:
        refusal = UserinfoRefusal(InvalidTokenError(realm=realm), "no_token")
        return UserinfoAnswer(no_token_challenge(realm), None, refusal)
    try:
        claims, client_id = _userinfo(factory, validator, token, timeouts=timeouts, now=now)
    except UserinfoRefusal as refusal:
        status, body, headers = refusal.error()
        answer = JSONResponse(body, status_code=status, headers={**dict(headers), "Cache-Control": "no-store"})
        if "www-authenticate" not in answer.headers:
            # Authlib's insufficient_scope carries no challenge; RFC 6750 §3 wants one.
            answer.headers["WWW-Authenticate"] = (
                f'Bearer realm="{realm}", error="{refusal.error.error}", scope="openid"'
            )
        claimed = refusal.claims.get("client_id")
        return UserinfoAnswer(answer, claimed if isinstance(claimed, str) else None, refusal, token)
    return UserinfoAnswer(JSONResponse(claims, headers={"Cache-Control": "no-store"}), client_id)


def _userinfo(
    factory: sessionmaker[Session],
    validator: AccessTokenValidator,
    token: str,
    *,
    timeouts: SessionTimeouts,
    now: datetime,
) -> tuple[dict[str, Any], str]:
    realm = validator.realm
    try:
        claims = validator.validated_claims(token, ["openid"])
    except OAuth2Error as error:
        raise UserinfoRefusal(error, "token_invalid" if error.status_code == 401 else error.error) from error
    client_id, grant_id, role_id = claims.get("client_id"), claims.get("grant_id"), claims.get("rid")
    grant, grantee = (
        grantees.read_grant_and_grantee(
            factory, grant_id, client_id, role_id if isinstance(role_id, int) else None, timeouts=timeouts, now=now
        )
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


def audit_refusal(context: ProviderContext, answer: UserinfoAnswer) -> None:
    refusal = answer.refusal
    if refusal is None:
        return
    details: dict[str, Any] = {"reason": refusal.reason}
    if answer.token is not None:
        # Enough to correlate with other events, useless to replay.
        details["presented_hash"] = token_hash(answer.token)[:16]
    for name in ("client_id", "grant_id"):
        if isinstance(refusal.claims.get(name), str):
            details[name] = refusal.claims[name]
    audit.record(
        context.db, context.audit, "oidc.userinfo.refused", "refused", subject_staff_id=refusal.staff_id, **details
    )
