"""Authlib grants whose storage hooks call our services, and the extensions we add to them."""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oidc.core import OpenIDCode, OpenIDToken
from authlib.oidc.core.grants.util import is_openid_scope, validate_nonce
from joserfc.jwk import KeySet

from bridge.config import Settings
from bridge.op.amr import rfc8176_amr
from bridge.op.claims import person_claims
from bridge.op.context import current_context
from bridge.op.keys import KeyStore
from bridge.op.models import ClientModel, CodeModel, RefreshModel
from bridge.services import audit
from bridge.services.authorization_codes import (
    CodeGrant,
    CodeState,
    Redemption,
    look_up_authorization_code,
    redeem_authorization_code,
    store_authorization_code,
)
from bridge.services.grantees import Grantee
from bridge.services.oauth_tokens import (
    RefreshState,
    claim_refresh_token,
    create_grant,
    family_of_code,
    live_grant,
    look_up_refresh_token,
    new_bearer_value,
    revoke_family,
)
from bridge.services.signin_sessions import record_activity

TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, S256 only: `plain` (or no method, which means plain) is refused."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' with 'code_challenge_method=S256'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only 'code_challenge_method=S256' is accepted.")
        super().validate_code_challenge(grant, redirect_uri)


class BridgeAuthorizationCodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: ClientModel) -> str:
        # Authlib's own check quotes the redirect_uri in its error description, and refuses to
        # build an error whose description holds a backslash or a non-ASCII character: a 500.
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("The redirect_uri is not registered for this client.")
        return str(redirect_uri)

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        if not is_openid_scope(self.request.scope):
            raise InvalidScopeError("The 'openid' scope is required.", redirect_uri=redirect_uri)
        return redirect_uri

    def generate_authorization_code(self) -> str:
        return new_bearer_value()

    def save_authorization_code(self, code: str, request: Any) -> None:
        grantee: Grantee = request.user
        data = request.payload.data
        store_authorization_code(
            current_context().db,
            code,
            CodeGrant(
                client_id=request.client.get_client_id(),
                staff_id=grantee.staff.id,
                signin_session_id=grantee.session.id,
                role_assignment_id=grantee.role.id if grantee.role else None,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                auth_time=grantee.auth_time,
            ),
            current_context().now,
        )
        audit.record(
            current_context().db,
            current_context().audit,
            "oidc.code.issued",
            "success",
            subject_staff_id=grantee.staff.id,
            organization_id=grantee.role.organization_id if grantee.role else None,
            client_id=request.client.get_client_id(),
            scope=request.scope,
        )

    def query_authorization_code(self, code: str, client: ClientModel) -> CodeModel | None:
        context = current_context()
        presented = self._presented(client)
        if presented is not None:
            # The whole redemption in one statement: the code claimed if it is unused, unexpired,
            # the client's, and the redirect_uri and verifier match it. Authlib's checks that follow
            # (redirect_uri, PKCE) then hold by construction.
            claimed = redeem_authorization_code(context.db, code, presented, context.now)
            if claimed is not None:
                return CodeModel(claimed, claimed=True)
        # Nothing claimed: read the code to tell why. A code found VALID here goes on unclaimed to
        # Authlib's checks, which refuse the redirect_uri or verifier that did not match, without
        # spending it; if they pass, the code was claimed meanwhile (authenticate_user).
        found = look_up_authorization_code(context.db, code, client.get_client_id(), context.now)
        if found.state is CodeState.REUSED:
            assert found.code is not None
            audit.record(
                context.db, context.audit, "oidc.code.reused", "refused",
                subject_staff_id=found.code.staff_id, client_id=client.get_client_id(),
                revoked_refresh_tokens=found.revoked_tokens,
            )
        if found.state is not CodeState.VALID or found.code is None:
            self.request.refusal_reason = f"code_{found.state.value}"
            return None
        return CodeModel(found.code, claimed=False)

    def _presented(self, client: ClientModel) -> Redemption | None:
        """What the request presents for the code, if it is whole and well-formed (else the code is
        only read, and Authlib's checks give the error)."""
        redirect_uri = self.request.payload.redirect_uri
        verifier = self.request.form.get("code_verifier")
        if not isinstance(redirect_uri, str) or not isinstance(verifier, str):
            return None
        if not CODE_VERIFIER_PATTERN.match(verifier):
            return None
        return Redemption(client.get_client_id(), redirect_uri, create_s256_code_challenge(verifier))

    def delete_authorization_code(self, authorization_code: CodeModel) -> None:
        # Already claimed in query_authorization_code, before any token was made.
        return None

    def authenticate_user(self, authorization_code: CodeModel) -> Grantee:
        context = current_context()
        record = authorization_code.record
        family = family_of_code(record.code_hash)
        if not authorization_code.claimed:
            # Read as redeemable and passing every check, yet not claimed: another redemption of
            # the same code claimed it in between. That is reuse too.
            revoke_family(context.db, family, context.now)
            self.request.refusal_reason = "code_reused"
            raise InvalidGrantError("The authorization code has already been used.")
        grantee = context.load_grantee(
            record.signin_session_id, record.staff_id, record.role_assignment_id, record.auth_time
        )
        if grantee is None:
            self.request.refusal_reason = "signin_session_ended"
            raise InvalidGrantError("The sign-in session has ended.")
        # Only the one redemption that claimed the code gets here: the grant is born once.
        create_grant(
            context.db, family, client_id=record.client_id, staff_id=record.staff_id,
            signin_session_id=record.signin_session_id, now=context.now,
        )
        record_activity(context.db, grantee.session, context.now)
        return replace(grantee, grant_id=family)


class BridgeRefreshTokenGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshModel | None:
        context = current_context()
        client: ClientModel = self.request.client
        found = look_up_refresh_token(context.db, refresh_token, client.get_client_id(), context.now)
        if found.state is RefreshState.REUSED:
            assert found.token is not None
            audit.record(
                context.db, context.audit, "oidc.refresh.reused", "refused",
                subject_staff_id=found.token.staff_id, client_id=client.get_client_id(),
                family=found.token.family, revoked_refresh_tokens=found.revoked_tokens,
            )
        if found.state is not RefreshState.VALID or found.token is None:
            self.request.refusal_reason = f"refresh_token_{found.state.value}"
            return None
        return RefreshModel(found.token)

    def authenticate_user(self, refresh_token: RefreshModel) -> Grantee:
        context = current_context()
        record = refresh_token.record
        # The grant's row lock before anything else: racing uses of this token queue here, in
        # the same order as every other writer of the family (see live_grant).
        grant = live_grant(context.db, record.family, record.client_id, lock=True)
        grantee = context.load_grantee(
            record.signin_session_id, record.staff_id, record.role_assignment_id, record.auth_time
        )
        if grantee is None:
            revoke_family(context.db, record.family, context.now)
            self.request.refusal_reason = "signin_session_ended"
            raise InvalidGrantError("The sign-in session has ended.")
        if grant is None:
            revoke_family(context.db, record.family, context.now)
            self.request.refusal_reason = "grant_revoked"
            raise InvalidGrantError("The grant behind this refresh token has been revoked.")
        if not claim_refresh_token(context.db, record, context.now):
            # Lost a race with another use of the same token: that is reuse too.
            revoke_family(context.db, record.family, context.now)
            self.request.refusal_reason = "refresh_token_reused"
            raise InvalidGrantError("The refresh token has already been used.")
        record_activity(context.db, grantee.session, context.now)
        return replace(grantee, grant_id=record.family)

    def revoke_old_credential(self, refresh_token: RefreshModel) -> None:
        # Rotated in authenticate_user, before the new token was made.
        return None


class _SignsIdTokens:
    """How our id_tokens are signed and what they say, for the code and the refresh grant alike."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self.settings = settings
        self.keys = keys
        self.issuer = settings.public_url.rstrip("/")

    def resolve_client_private_key(self, client: ClientModel) -> KeySet:
        return self.keys.signing_key(self.get_client_algorithm(client))

    def get_client_algorithm(self, client: ClientModel) -> str:
        # The app's registered id_token_signed_response_alg, else the bridge's default.
        return client.app.id_token_signed_response_alg or self.settings.signing_alg

    def get_client_claims(self, client: ClientModel) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + int(self.settings.access_token_ttl.total_seconds()),
        }

    def get_encode_header(self, client: ClientModel) -> dict[str, str]:
        return {"alg": self.get_client_algorithm(client), "typ": "JWT"}

    def generate_user_info(self, user: Grantee, scope: str) -> dict[str, Any]:
        return person_claims(user, scope)


class BridgeOpenIDCode(_SignsIdTokens, OpenIDCode):  # type: ignore[misc]
    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        _SignsIdTokens.__init__(self, settings, keys)
        OpenIDCode.__init__(self, require_nonce=False)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Replay of a nonce is the relying app's check (it compares it with its own session).
        return False

    def __call__(self, grant: Any) -> None:
        # Authlib's prompt handling is replaced by ours (bridge.op.authorization), which
        # knows about sign-in sessions, role choice and re-authentication.
        grant.register_hook("after_create_token_response", self.process_token)
        if is_openid_scope(grant.request.payload.scope):
            grant.register_hook(
                "after_validate_authorization_request_payload",
                lambda grant, redirect_uri: validate_nonce(grant.request, self.exists_nonce, False),
            )


class BridgeOpenIDToken(_SignsIdTokens, OpenIDToken):  # type: ignore[misc]
    """A fresh id_token on refresh too (without nonce), so apps see a role that has since ended."""


class AccessTokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 access tokens (`typ: at+jwt`) signed with the same keys as id_tokens."""

    def __init__(self, settings: Settings, keys: KeyStore, *, userinfo_endpoint: str) -> None:
        super().__init__(
            issuer=settings.public_url.rstrip("/"),
            alg=settings.signing_alg,
            refresh_token_generator=lambda **_: new_bearer_value(),
            expires_generator=int(settings.access_token_ttl.total_seconds()),
        )
        self.keys = keys
        self.userinfo_endpoint = userinfo_endpoint

    def get_jwks(self) -> KeySet:
        return self.keys.signing_key(self.alg)

    def get_jti(self, client: ClientModel, grant_type: str, user: Grantee, scope: str) -> str:
        # Authlib's default draws each of 16 characters with SystemRandom.choice, one urandom call
        # apiece: one call of 16 bytes is as unpredictable (128 bits) at a fraction of the cost.
        return secrets.token_urlsafe(16)

    def get_audiences(self, client: ClientModel, user: Grantee, scope: str) -> list[str]:
        return [client.get_client_id(), self.userinfo_endpoint]

    def get_auth_time(self, user: Grantee) -> int:
        return int(user.auth_time.timestamp())

    def get_acr(self, user: Grantee) -> str | None:
        return user.session.acr

    def get_amr(self, user: Grantee) -> list[str] | None:
        return rfc8176_amr(user.session.amr) or None

    def get_extra_claims(self, client: ClientModel, grant_type: str, user: Grantee, scope: str) -> dict[str, Any]:
        if user.grant_id is None:
            raise RuntimeError("an access token is issued only under a grant")
        # grant_id: userinfo refuses the token once the grant is revoked (a reused code or
        # refresh token); sid: the sign-in session, found by key.
        claims: dict[str, Any] = {"sid": user.session.sid, "grant_id": user.grant_id, "idp": user.session.provider}
        if user.role is not None:
            # The role frozen at authorization, so userinfo answers for the same role as the id_token.
            claims["rid"] = user.role.id
        return claims
