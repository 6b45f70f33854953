"""Token revocation (RFC 7009) and introspection (RFC 7662) on Authlib's endpoint classes.

Both take our two kinds of token: RFC 9068 access tokens (JWTs naming their grant) and refresh
tokens (stored as hashes). "Revoked" is a fact at the server: revoking either kind revokes its
grant — the refresh-token family and, through the grant every access token names, the access
tokens already issued (userinfo and introspection refuse them). RFC 7009 §2.1 asks this for a
refresh token and allows it for an access token; a JWT cannot be recalled one by one without a
list of revoked token ids, and an app that revokes its access token is done with the grant.

Introspection answers `active: true` only for a token that userinfo would accept now (or, for a
refresh token, that the token endpoint would): not expired, not rotated, its grant not revoked,
its sign-in session alive, its person active. A caller sees only its own tokens, unless it is
registered as a resource server (`introspect_any`); any other token is `active: false`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc.errors import JoseError

from bridge.op.context import ProviderContext, current_context
from bridge.op.models import ClientModel
from bridge.op.userinfo import AccessTokenValidator
from bridge.services import audit
from bridge.services.oauth_tokens import find_refresh_token, live_grant, revoke_family

ACCESS_TOKEN = "access_token"  # noqa: S105 - a token type hint, not a secret
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a token type hint, not a secret
REVOCATION_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
# A public app cannot prove who asks: introspection is for confidential callers only.
INTROSPECTION_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


@dataclass(frozen=True)
class PresentedToken:
    """A token the server recognises as its own (a valid signature, or a stored hash)."""

    kind: str
    client_id: str
    grant_id: str
    subject: str | None
    scope: str
    issued_at: int | None
    expires_at: int
    active: bool
    sid: str | None = None
    staff_id: int | None = None

    def check_client(self, client: ClientModel) -> bool:
        return self.client_id == client.get_client_id()

    def is_expired(self) -> bool:
        return not self.active

    def is_revoked(self) -> bool:
        return not self.active


def presented_token(context: ProviderContext, value: str, hint: str | None) -> PresentedToken | None:
    """The token `value` names, whichever kind it is (the hint only says which to try first)."""
    lookups = (_refresh_token, _access_token) if hint == REFRESH_TOKEN else (_access_token, _refresh_token)
    for lookup in lookups:
        found = lookup(context, value)
        if found is not None:
            return found
    return None


def _access_token(context: ProviderContext, value: str) -> PresentedToken | None:
    if value.count(".") != 2:
        return None
    validator = AccessTokenValidator(context.keys, context.issuer, context.userinfo_endpoint)
    try:
        claims = validator.authenticate_token(value)
    except (OAuth2Error, JoseError, ValueError):
        return None
    client_id, grant_id = claims.get("client_id"), claims.get("grant_id")
    if not isinstance(client_id, str) or not isinstance(grant_id, str):
        return None
    try:
        claims.validate()
        current = True
    except JoseError:
        current = False  # expired (or not yet valid): known, but not active
    grant = live_grant(context.db, grant_id, client_id) if current else None
    staff_id = grant.staff_id if grant is not None else None
    active = False
    if grant is not None:
        role_id = claims.get("rid")
        grantee = context.load_grantee(
            grant.signin_session_id, grant.staff_id, role_id if isinstance(role_id, int) else None
        )
        active = (
            grantee is not None and grantee.staff.subject == claims.get("sub")
            and grantee.session.sid == claims.get("sid")
        )
    return PresentedToken(
        kind=ACCESS_TOKEN, client_id=client_id, grant_id=grant_id, subject=_text(claims.get("sub")),
        scope=str(claims.get("scope") or ""), issued_at=_number(claims.get("iat")),
        expires_at=_number(claims.get("exp")) or 0, active=active, sid=_text(claims.get("sid")), staff_id=staff_id,
    )


def _refresh_token(context: ProviderContext, value: str) -> PresentedToken | None:
    record = find_refresh_token(context.db, value)
    if record is None:
        return None
    active = False
    if record.revoked_at is None and record.rotated_at is None and record.expires_at > context.now:
        grant = live_grant(context.db, record.family, record.client_id)
        active = grant is not None and context.load_grantee(
            record.signin_session_id, record.staff_id, record.role_assignment_id, record.auth_time
        ) is not None
    return PresentedToken(
        kind=REFRESH_TOKEN, client_id=record.client_id, grant_id=record.family, subject=None, scope=record.scope,
        issued_at=None, expires_at=int(record.expires_at.timestamp()), active=active, staff_id=record.staff_id,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class BridgeRevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = REVOCATION_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> PresentedToken | None:
        return presented_token(current_context(), token_string, token_type_hint)

    def revoke_token(self, token: PresentedToken, request: Any) -> None:
        context = current_context()
        revoked = revoke_family(context.db, token.grant_id, context.now)
        audit.record(
            context.db, context.audit, "oidc.token.revoked", "success", subject_staff_id=token.staff_id,
            client_id=token.client_id, kind=token.kind, family=token.grant_id, revoked_refresh_tokens=revoked,
        )


class BridgeIntrospectionEndpoint(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = INTROSPECTION_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> PresentedToken | None:
        return presented_token(current_context(), token_string, token_type_hint)

    def check_permission(self, token: PresentedToken, client: ClientModel, request: Any) -> bool:
        return token.check_client(client) or client.app.introspect_any

    def create_endpoint_response(self, request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # Authlib's steps, with the answer audited: who asked about whose token, and what they heard.
        client = self.authenticate_endpoint_client(request)
        token: PresentedToken | None = self.authenticate_token(request, client)
        payload: dict[str, Any] = self.create_introspection_payload(token)
        context = current_context()
        audit.record(
            context.db, context.audit, "oidc.token.introspected", "success",
            subject_staff_id=token.staff_id if token is not None and payload["active"] else None,
            client_id=client.get_client_id(), token_client_id=token.client_id if token else None,
            kind=token.kind if token else None, active=bool(payload["active"]),
        )
        return 200, payload, list(default_json_headers)

    def introspect_token(self, token: PresentedToken) -> dict[str, Any]:
        context = current_context()
        payload: dict[str, Any] = {
            "active": True,
            "client_id": token.client_id,
            "scope": token.scope,
            "exp": token.expires_at,
            "iss": context.issuer,
        }
        if token.kind == ACCESS_TOKEN:
            payload.update({"token_type": "Bearer", "sub": token.subject, "aud": token.client_id, "sid": token.sid})
            if token.issued_at is not None:
                payload["iat"] = token.issued_at
        return payload
