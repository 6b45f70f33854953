"""The OpenID Provider as the routes see it: one object per running bridge, one transaction per call.

Every method is synchronous (Authlib and the database are): routes call them through
`run_blocking`. A method commits when it produced an answer, refusals included, so a
detected token reuse stays revoked; an unexpected error rolls everything back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from authlib.oauth2.rfc6749 import OAuth2Error
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import RedirectResponse, Response

from bridge.config import Settings
from bridge.observability.metrics import count_token_request
from bridge.op.authorization import authorize
from bridge.op.claims import CLAIMS_SUPPORTED
from bridge.op.context import ProviderContext, serving
from bridge.op.cors import add_cors_headers, preflight_response
from bridge.op.keys import KeyStore
from bridge.op.outcomes import Outcome, Page
from bridge.op.paths import ProviderPaths
from bridge.op.requests import StarletteOAuth2Request
from bridge.op.server import BridgeAuthorizationServer, named_client_id
from bridge.op.token_endpoints import INTROSPECTION_AUTH_METHODS, REVOCATION_AUTH_METHODS
from bridge.op.userinfo import access_token_validator, examine
from bridge.op.userinfo import audit_refusal as audit_userinfo_refusal
from bridge.services.audit import ANONYMOUS_ACTOR, AuditContext
from bridge.services.clients import AUTH_METHODS, SUPPORTED_SCOPES
from bridge.services.grantees import AuthorizingSignIn, load_authorizing_signin
from bridge.services.signin_sessions import ActiveRoles, SessionTimeouts, load_active_signin, record_activity
from bridge.services.signing_keys import SUPPORTED_ALGORITHMS, SigningKeyPolicy
from bridge.storage.types import utcnow

T = TypeVar("T")


def token_outcome(response: Response) -> str:
    """`issued`, or the OAuth error code of the answer (RFC 6749 §5.2: a small fixed set)."""
    if response.status_code == 200:
        return "issued"
    try:
        error = json.loads(bytes(response.body)).get("error")
    except (ValueError, AttributeError):
        error = None
    return error if isinstance(error, str) and error.isidentifier() else f"http_{response.status_code}"


class OpenIDProvider:
    def __init__(
        self, settings: Settings, factory: sessionmaker[Session], paths: ProviderPaths, key_policy: SigningKeyPolicy
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.paths = paths
        self.keys = KeyStore(factory, key_policy)
        # One Authlib server for the app: grants and endpoints registered once.
        self.server = BridgeAuthorizationServer(settings, self.keys, paths)

    @property
    def issuer(self) -> str:
        return self.settings.public_url.rstrip("/")

    def _in_transaction(self, audit_context: AuditContext, work: Callable[[ProviderContext], T]) -> T:
        # Load (or on first need, create) the keys before the request's own transaction starts:
        # SQLite allows one writer, and the key is written in a transaction of its own.
        self.keys.reload_if_stale()
        with self.factory() as db, db.begin():
            context = ProviderContext(
                db=db, settings=self.settings, keys=self.keys, audit=audit_context, paths=self.paths,
                server=self.server,
            )
            with serving(context):
                return work(context)

    # --- public documents --------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        issuer, paths = self.issuer, self.paths
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}{paths.authorize}",
            "token_endpoint": f"{issuer}{paths.token}",
            "userinfo_endpoint": f"{issuer}{paths.userinfo}",
            "jwks_uri": f"{issuer}{paths.jwks}",
            "end_session_endpoint": f"{issuer}{paths.end_session}",
            "revocation_endpoint": f"{issuer}{paths.revocation}",
            "revocation_endpoint_auth_methods_supported": list(REVOCATION_AUTH_METHODS),
            "introspection_endpoint": f"{issuer}{paths.introspection}",
            "introspection_endpoint_auth_methods_supported": list(INTROSPECTION_AUTH_METHODS),
            "scopes_supported": list(SUPPORTED_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            # Every app may register either algorithm; RS256 is always listed (Discovery 1.0 §3).
            "id_token_signing_alg_values_supported": list(
                dict.fromkeys([self.settings.signing_alg, *SUPPORTED_ALGORITHMS])
            ),
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(CLAIMS_SUPPORTED),
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "frontchannel_logout_supported": False,
            # Back-Channel Logout 1.0 (bridge.op.backchannel): logout tokens carry `sid` when asked.
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "authorization_response_iss_parameter_supported": True,
            "ui_locales_supported": ["ru"],
            "claims_locales_supported": ["ru"],
        }

    def jwks(self) -> dict[str, Any]:
        return self.keys.public_jwks()

    # --- endpoints ---------------------------------------------------------------------------

    def authorize(
        self,
        request: StarletteOAuth2Request,
        address: str | None,
        *,
        return_path: str,
        signin_session_id: str | None,
        done: dict[str, float],
        then: Callable[[Session, Outcome], None] | None = None,
    ) -> Outcome:
        """The authorization endpoint, the browser's sign-in session read in the same transaction.

        Being seen here is activity: it pushes the session's idle timeout back (at most a write a minute).
        `then` runs in the same transaction after the decision (the route parking the request).
        """

        def work(context: ProviderContext) -> Outcome:
            outcome = _authorize(context, request, address, return_path, signin_session_id, done)
            if then is not None:
                then(context.db, outcome)
            return outcome

        return self._in_transaction(AuditContext(actor=ANONYMOUS_ACTOR, address=address), work)

    def ready(self) -> None:
        """Load (or create) the signing keys now, before a caller opens the transaction that
        `authorize_within` joins: SQLite allows one writer, and keys are written in their own."""
        self.keys.reload_if_stale()

    def authorize_within(
        self,
        db: Session,
        request: StarletteOAuth2Request,
        address: str | None,
        *,
        return_path: str,
        signin_session_id: str,
        done: dict[str, float],
        roles: ActiveRoles | None = None,
        opened: AuthorizingSignIn | None = None,
    ) -> Outcome:
        """The same authorization decision as `authorize`, in the caller's transaction: the upstream
        callback answering a parked request with the session it has just opened (call `ready` first).
        `roles` are the person's active roles as that transaction has just read them; `opened` is
        the session that transaction has just opened, as it wrote it (then nothing is read back)."""
        context = ProviderContext(
            db=db, settings=self.settings, keys=self.keys, audit=AuditContext(actor=ANONYMOUS_ACTOR, address=address),
            paths=self.paths, server=self.server,
        )
        with serving(context):
            return _authorize(context, request, address, return_path, signin_session_id, done, roles, opened)

    def token(self, request: StarletteOAuth2Request, audit_context: AuditContext, *, origin: str | None) -> Response:
        def work(context: ProviderContext) -> Response:
            response = context.server.token_response(request)
            add_cors_headers(context.db, response, origin, named_client_id(request))
            return response

        response = self._in_transaction(audit_context, work)
        count_token_request(request.payload.data.get("grant_type"), token_outcome(response))
        return response

    def userinfo(
        self, request: StarletteOAuth2Request, audit_context: AuditContext, *, origin: str | None
    ) -> Response:
        """Judged outside the provider's transaction (one read on a plain connection: the grant with
        its session, at every call); that transaction only for what writes or reads through the ORM:
        a refusal's audit record, a browser app's CORS headers."""
        self.keys.reload_if_stale()
        validator = access_token_validator(self.keys, self.issuer, f"{self.issuer}{self.paths.userinfo}")
        answer = examine(self.factory, validator, request, timeouts=SessionTimeouts.of(self.settings), now=utcnow())
        if answer.refusal is None and origin is None:
            return answer.response

        def work(context: ProviderContext) -> Response:
            audit_userinfo_refusal(context, answer)
            add_cors_headers(context.db, answer.response, origin, answer.client_id)
            return answer.response

        return self._in_transaction(audit_context, work)

    def revoke(self, request: StarletteOAuth2Request, audit_context: AuditContext) -> Response:
        return self._in_transaction(
            audit_context,
            lambda context: context.server.token_endpoint_response("revocation", request),
        )

    def introspect(self, request: StarletteOAuth2Request, audit_context: AuditContext) -> Response:
        return self._in_transaction(
            audit_context,
            lambda context: context.server.token_endpoint_response("introspection", request),
        )

    def preflight(self, origin: str | None, requested_method: str | None, methods: list[str]) -> Response:
        with self.factory() as db:
            return preflight_response(db, origin, requested_method, methods)

    def logout(
        self,
        request: StarletteOAuth2Request,
        audit_context: AuditContext,
        *,
        browser_session_id: str | None,
        confirmed: bool,
    ) -> Outcome:
        return self._in_transaction(
            audit_context, lambda context: _logout(context, request, browser_session_id, confirmed)
        )


def _authorize(
    context: ProviderContext,
    request: StarletteOAuth2Request,
    address: str | None,
    return_path: str,
    signin_session_id: str | None,
    done: dict[str, float],
    roles: ActiveRoles | None = None,
    opened: AuthorizingSignIn | None = None,
) -> Outcome:
    active = opened
    if active is None and signin_session_id is not None:
        active = load_authorizing_signin(
            context.db, signin_session_id, timeouts=context.timeouts, now=context.now, roles=roles
        )
    if active is not None:
        record_activity(context.db, active.session, context.now)
        context.audit = AuditContext(actor=active.staff.login, address=address)
    return authorize(context, request, return_path=return_path, active=active, done=done)


def _logout(
    context: ProviderContext, request: StarletteOAuth2Request, browser_session_id: str | None, confirmed: bool
) -> Outcome:
    server = context.server
    try:
        validated = server.validate_endpoint_request("end_session", request)
    except OAuth2Error as error:
        # Never redirect on a bad logout request (the spec forbids it): explain instead.
        return Outcome(page=Page("provider/logout_error.html", {"error_code": error.error}, 400))
    if _must_confirm(context, validated.id_token_claims, browser_session_id) and not confirmed:
        # Without a valid id_token_hint for the person signed in here, anyone could link here
        # (with their own token as the hint): ask the person first.
        data = request.payload.data
        fields = {
            name: str(data[name])
            for name in ("client_id", "post_logout_redirect_uri", "state", "ui_locales")
            if data.get(name)
        }
        client_name = validated.client.app.name if validated.client else None
        return Outcome(page=Page("provider/logout_confirm.html", {"fields": fields, "client_name": client_name}, 200))
    context.browser_session_id = browser_session_id
    response = server.create_endpoint_response("end_session", validated)
    if isinstance(response, Response) and response.status_code in (301, 302, 303):
        # A plain redirect to the app's registered address (Authlib answers 302; 303 after a POST).
        return Outcome(response=RedirectResponse(response.headers["location"], status_code=303), signed_out=True)
    return Outcome(page=Page("provider/logged_out.html", {}, 200), signed_out=True)


def _must_confirm(context: ProviderContext, hint_claims: dict[str, Any] | None, browser_session_id: str | None) -> bool:
    if browser_session_id is None:
        return False
    if hint_claims is None:
        return True
    active = load_active_signin(context.db, browser_session_id, timeouts=context.timeouts, now=context.now)
    return active is not None and active.staff.subject != hint_claims.get("sub")
