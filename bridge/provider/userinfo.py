"""The userinfo endpoint: our own access tokens, checked by Authlib's RFC 9068 validator.

A valid signature is not enough: the sign-in session the token came from must still be alive,
so logout or a credential reset ends an app's access at its next userinfo call.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.responses import JSONResponse, Response

from bridge.provider.claims import userinfo_claims
from bridge.provider.context import ProviderContext
from bridge.provider.keys import KeyStore
from bridge.provider.requests import StarletteOAuth2Request
from bridge.services import audit

_REALM = "userinfo"


class AccessTokenValidator(JWTBearerTokenValidator):  # type: ignore[misc]
    def __init__(self, keys: KeyStore, issuer: str, resource_server: str) -> None:
        super().__init__(issuer=issuer, resource_server=resource_server, realm=_REALM)
        self.keys = keys
        self._kid: str | None = None

    def get_jwks(self) -> KeySet:
        return self.keys.verification_keys(self._kid)

    def authenticate_token(self, token_string: str) -> Any:
        try:
            header = jws.extract_compact(token_string.encode()).protected
        except (JoseError, ValueError) as error:
            raise InvalidTokenError(realm=_REALM) from error
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            # An id_token is signed by the same keys; it must not pass for an access token.
            raise InvalidTokenError(realm=_REALM)
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


def userinfo_response(context: ProviderContext, request: StarletteOAuth2Request) -> Response:
    try:
        return JSONResponse(_userinfo(context, request), headers={"Cache-Control": "no-store"})
    except OAuth2Error as error:
        status, body, headers = error()
        return JSONResponse(body, status_code=status, headers=dict(headers))


def _userinfo(context: ProviderContext, request: StarletteOAuth2Request) -> dict[str, Any]:
    token = bearer_token(request)
    if token is None:
        raise InvalidTokenError("Send the access token as 'Authorization: Bearer <token>'.", realm=_REALM)
    validator = AccessTokenValidator(context.keys, context.issuer, context.userinfo_endpoint)
    claims = validator.authenticate_token(token)
    validator.validate_token(claims, ["openid"], request)
    subject, sid = claims.get("sub"), claims.get("sid")
    session = context.session_of_sid(subject, sid) if isinstance(subject, str) and isinstance(sid, str) else None
    role_id = claims.get("rid")
    grantee = (
        context.load_grantee(
            session.id,
            session.staff_id,
            role_id if isinstance(role_id, int) else None,
            session.auth_time,
        )
        if session is not None
        else None
    )
    if grantee is None:
        audit.record(
            context.db, context.audit, "oidc.userinfo.refused", "refused",
            subject_staff_id=session.staff_id if session else None,
            client_id=claims.get("client_id"), reason="signin_session_ended",
        )
        raise InvalidTokenError("The sign-in session behind this token has ended.", realm=_REALM)
    return userinfo_claims(grantee, str(claims.get("scope", "")), context.settings.secret_key)
