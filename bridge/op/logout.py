"""RP-initiated logout: Authlib validates the request, we end the sign-in session and its tokens."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from joserfc.jwk import KeySet

from bridge.op.context import current_context
from bridge.op.keys import KeyStore
from bridge.services import audit
from bridge.services.logout_deliveries import announce_session_end
from bridge.services.oauth_tokens import revoke_session_tokens
from bridge.services.signin_sessions import end_signin_session, load_active_signin


class BridgeEndSessionEndpoint(EndSessionEndpoint):  # type: ignore[misc]
    def __init__(self, keys: KeyStore, issuer: str) -> None:
        super().__init__()
        self.keys = keys
        self.issuer = issuer

    def get_server_jwks(self) -> KeySet:
        return self.keys.verification_keys()

    def _validate_id_token_hint(self, id_token_hint: str) -> dict[str, Any]:
        claims: dict[str, Any] = super()._validate_id_token_hint(id_token_hint)
        if claims.get("iss") != self.issuer:
            raise InvalidRequestError("The 'id_token_hint' was not issued by this provider.")
        return claims

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        context = current_context()
        session_ids: list[str] = []
        if context.browser_session_id is not None:
            # The session of the browser at hand, set by the caller before the response is made.
            session_ids.append(context.browser_session_id)
        elif end_session_request.id_token_claims:
            # No sign-in cookie here (another browser, or already cleared): end the hinted session.
            hinted = self._session_of_hint(end_session_request.id_token_claims)
            if hinted is not None:
                session_ids.append(hinted)
        client = end_session_request.client
        for session_id in session_ids:
            active = load_active_signin(context.db, session_id, timeouts=context.timeouts, now=context.now)
            announced = announce_session_end(context.db, session_id, context.now)
            record = end_signin_session(context.db, session_id, context.now)
            revoked = revoke_session_tokens(context.db, session_id, context.now)
            audit.record(
                context.db,
                context.audit,
                "oidc.logout",
                "success",
                subject_staff_id=record.staff_id if record else None,
                client_id=client.get_client_id() if client else None,
                was_active=active is not None,
                revoked_refresh_tokens=revoked,
                backchannel_logouts=announced,
                redirected=end_session_request.redirect_uri is not None,
            )
        if not session_ids:
            audit.record(
                context.db, context.audit, "oidc.logout", "success",
                client_id=client.get_client_id() if client else None, no_session=True,
            )

    def _session_of_hint(self, claims: dict[str, Any]) -> str | None:
        sid, subject = claims.get("sid"), claims.get("sub")
        if not isinstance(sid, str) or not isinstance(subject, str):
            return None
        return current_context().session_of_sid(subject, sid)
