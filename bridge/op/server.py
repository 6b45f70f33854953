"""Authlib's authorization server, answering with Starlette responses: one per app.

Built once with its grants and endpoints; the storage hooks reach the request at hand (its
database session, audit context, clients read so far) through `current_context()`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Error, UnsupportedResponseTypeError
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from starlette.responses import Response

from bridge.config import Settings
from bridge.op.context import ProviderContext, current_context
from bridge.op.grants import (
    AccessTokenGenerator,
    BridgeAuthorizationCodeGrant,
    BridgeOpenIDCode,
    BridgeOpenIDToken,
    BridgeRefreshTokenGrant,
    S256CodeChallenge,
)
from bridge.op.keys import KeyStore
from bridge.op.logout import BridgeEndSessionEndpoint
from bridge.op.models import ClientModel
from bridge.op.paths import ProviderPaths
from bridge.op.request_checks import refuse_repeated
from bridge.op.requests import StarletteOAuth2Request
from bridge.op.token_endpoints import BridgeIntrospectionEndpoint, BridgeRevocationEndpoint
from bridge.services import audit
from bridge.services.clients import SUPPORTED_SCOPES, find_relying_app
from bridge.services.grantees import Grantee
from bridge.services.oauth_tokens import RefreshGrant, store_refresh_token, token_hash

# What json.dumps(payload, ensure_ascii=False) makes, with the encoder built once (json.dumps
# builds one at every call given any option).
_RESPONSE_JSON = json.JSONEncoder(ensure_ascii=False)


def _client_secret_basic(query_client: Any, request: Any) -> Any:
    # Authlib decodes the Basic credentials as UTF-8 unguarded: bytes that are not are a 500.
    try:
        return authenticate_client_secret_basic(query_client, request)
    except ValueError:
        return None


def with_query_parameter(uri: str, name: str, value: str) -> str:
    """`uri` with one more query parameter, its own query kept as it is (Authlib's add_params_to_uri
    decodes and re-encodes every parameter already there: the code and state of every answer).
    A fragment stays last; the answers built here have none (redirect URIs may not hold one)."""
    base, hash_, fragment = uri.partition("#")
    separator = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        separator = ""
    return f"{base}{separator}{urlencode({name: value})}{hash_}{fragment}"


def named_client_id(request: StarletteOAuth2Request) -> str | None:
    """The app a token request is for: the authenticated client, else the one it names."""
    if request.client is not None:
        return str(request.client.get_client_id())
    try:
        username, _ = extract_basic_authorization(request.headers)
    except ValueError:
        username = None
    named = username or request.payload.data.get("client_id")
    return named if isinstance(named, str) and named else None


class BridgeAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, settings: Settings, keys: KeyStore, paths: ProviderPaths) -> None:
        super().__init__(scopes_supported=list(SUPPORTED_SCOPES))
        self.settings = settings
        self.issuer = settings.public_url.rstrip("/")
        self.register_client_auth_method("client_secret_basic", _client_secret_basic)
        self.register_token_generator(
            "default", AccessTokenGenerator(settings, keys, userinfo_endpoint=f"{self.issuer}{paths.userinfo}")
        )
        self.register_grant(BridgeAuthorizationCodeGrant, [S256CodeChallenge(), BridgeOpenIDCode(settings, keys)])
        self.register_grant(BridgeRefreshTokenGrant, [BridgeOpenIDToken(settings, keys)])
        self.register_endpoint(BridgeEndSessionEndpoint(keys, self.issuer))
        self.register_endpoint(BridgeRevocationEndpoint)
        self.register_endpoint(BridgeIntrospectionEndpoint)

    @property
    def context(self) -> ProviderContext:
        """The request at hand (this server is shared by every request of the app)."""
        return current_context()

    # --- storage hooks ---------------------------------------------------------------------

    def query_client(self, client_id: str) -> ClientModel | None:
        if not isinstance(client_id, str) or not client_id:
            return None
        # Authlib asks again at each step of one request: one query per request is enough.
        clients = self.context.clients
        if client_id not in clients:
            app = find_relying_app(self.context.db, client_id)
            clients[client_id] = ClientModel(app, self.settings.secret_key) if app else None
        return clients[client_id]

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        context = self.context
        grantee: Grantee = request.user
        client_id = request.client.get_client_id()
        family = grantee.grant_id
        assert family is not None, "tokens are saved only under a grant"
        if "refresh_token" in token:
            store_refresh_token(
                context.db,
                token["refresh_token"],
                RefreshGrant(
                    family=family,
                    client_id=client_id,
                    staff_id=grantee.staff.id,
                    signin_session_id=grantee.session.id,
                    role_assignment_id=grantee.role.id if grantee.role else None,
                    scope=token.get("scope", ""),
                    auth_time=grantee.auth_time,
                ),
                context.settings.refresh_token_ttl,
                context.now,
            )
        refreshed = request.authorization_code is None
        audit.record(
            context.db,
            context.audit,
            "oidc.token.refreshed" if refreshed else "oidc.token.issued",
            "success",
            subject_staff_id=grantee.staff.id,
            organization_id=grantee.role.organization_id if grantee.role else None,
            client_id=client_id,
            grant_type=request.payload.grant_type,
            scope=token.get("scope"),
            family=family,
            role=grantee.role.role if grantee.role else None,
        )

    def validate_requested_scope(self, scope: str | None) -> None:
        # OpenID Connect: scope values the server does not understand are ignored, not refused.
        return None

    # --- the Starlette adapter ---------------------------------------------------------------

    def create_oauth2_request(self, request: Any) -> StarletteOAuth2Request:
        if not isinstance(request, StarletteOAuth2Request):
            raise TypeError("the bridge's server only takes requests read by StarletteOAuth2Request")
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON-bodied endpoints here")

    def handle_response(self, status_code: int, payload: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(payload, dict):
            payload = _RESPONSE_JSON.encode(payload)
        response = Response(payload, status_code=status_code)
        for name, value in headers:
            response.headers[name] = value
        return response

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    # --- the authorization endpoint: every answer to the app names us (RFC 9207) ---------------

    def get_authorization_grant(self, request: StarletteOAuth2Request) -> Any:
        try:
            return super().get_authorization_grant(request)
        except ValueError:
            # Authlib quotes the response_type into the error description and refuses to build the
            # error when it holds characters not allowed there (a 500): answer as for any other.
            client = self.query_client(request.payload.client_id)
            redirect_uri = request.payload.redirect_uri
            known = client is not None and isinstance(redirect_uri, str) and client.check_redirect_uri(redirect_uri)
            raise UnsupportedResponseTypeError(
                "The response type is not supported by the server.", "", redirect_uri=redirect_uri if known else None
            ) from None

    def create_authorization_response(
        self, request: Any = None, grant_user: Any = None, grant: Any = None
    ) -> Response:
        response: Response = super().create_authorization_response(request, grant_user, grant)
        return self._with_issuer(response)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        response: Response = super().handle_error_response(request, error)
        if error.redirect_uri:
            # An error redirected to the app: RFC 9207 §2 asks for `iss` there too.
            response = self._with_issuer(response)
        return response

    def _with_issuer(self, response: Response) -> Response:
        location = response.headers.get("location")
        if location and not any(name == "iss" for name, _ in parse_qsl(urlsplit(location).query)):
            response.headers["location"] = with_query_parameter(location, "iss", self.issuer)
        return response

    # --- the token endpoint, with its refusals audited ------------------------------------------

    def token_response(self, request: StarletteOAuth2Request) -> Response:
        try:
            refuse_repeated(request)
            grant = self.get_token_grant(request)
            grant.validate_token_request()
            response: Response = self.handle_response(*grant.create_token_response())
            return response
        except OAuth2Error as error:
            self._audit_token_refusal(request, error)
            refusal: Response = self.handle_error_response(request, error)
            if refusal.status_code == 401:
                # RFC 7617 §2: a Basic challenge names its realm (Authlib's does not).
                refusal.headers["WWW-Authenticate"] = (
                    f'Basic realm="{self.issuer}", charset="UTF-8", error="{error.error}"'
                )
            return refusal

    # --- revocation (RFC 7009) and introspection (RFC 7662), with their refusals audited ----------

    def token_endpoint_response(self, name: str, request: StarletteOAuth2Request) -> Response:
        """`name` is "revocation" or "introspection"; a refusal (bad client, another app's token) is audited."""
        response: Response = self.create_endpoint_response(name, request)
        if response.status_code >= 400:
            try:
                error = json.loads(bytes(response.body)).get("error")
            except ValueError:
                error = None
            data = request.payload.data
            audit.record(
                self.context.db, self.context.audit, f"oidc.{name}.refused", "refused",
                client_id=request.client.get_client_id() if request.client else named_client_id(request),
                error=error, token_type_hint=data.get("token_type_hint"),
                presented_hash=token_hash(data["token"])[:16] if isinstance(data.get("token"), str) else None,
            )
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = f'Basic realm="{self.issuer}", charset="UTF-8"'
        response.headers["Cache-Control"] = "no-store"
        return response

    def _audit_token_refusal(self, request: StarletteOAuth2Request, error: OAuth2Error) -> None:
        data = request.payload.data
        client = request.client
        grantee = request.user if isinstance(request.user, Grantee) else None
        details: dict[str, Any] = {
            "client_id": client.get_client_id() if client else data.get("client_id"),
            "grant_type": data.get("grant_type"),
            "error": error.error,
            "reason": getattr(request, "refusal_reason", None) or error.description,
        }
        presented = data.get("code") or data.get("refresh_token")
        if presented:
            # Enough to correlate with other events, useless to replay.
            details["presented_hash"] = token_hash(presented)[:16]
        audit.record(
            self.context.db,
            self.context.audit,
            "oidc.token.refused",
            "refused",
            subject_staff_id=grantee.staff.id if grantee else None,
            **details,
        )
