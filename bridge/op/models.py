"""What our services return, seen through Authlib's model interfaces (client, code, refresh token)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oidc.core import AuthorizationCodeMixin

from bridge.config import Secret
from bridge.services.authorization_codes import IssuedCode
from bridge.services.clients import RelyingApp, client_secret_matches
from bridge.services.oauth_tokens import IssuedRefreshToken

GRANT_TYPES = ("authorization_code", "refresh_token")


class ClientModel(ClientMixin):  # type: ignore[misc]
    def __init__(self, app: RelyingApp, secret_key: Secret) -> None:
        self.app = app
        self._secret_key = secret_key

    @property
    def client_id(self) -> str:
        return self.app.client_id

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": list(self.app.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> None:
        # OpenID Connect requires redirect_uri on every request: there is no default to fall back to.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        allowed = set(self.app.scope.split())
        granted = [item for item in dict.fromkeys((scope or "").split()) if item in allowed]
        return " ".join(granted) if granted else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret_matches(self._secret_key, self.app, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # The token, revocation and introspection endpoints: only the way the app registered
        # (a confidential app cannot fall back to "none"; introspection refuses "none" itself).
        if endpoint in ("token", "revocation", "introspection"):
            return bool(method == self.app.token_endpoint_auth_method)
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class CodeModel(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, record: IssuedCode, *, claimed: bool) -> None:
        self.record = record
        # Claimed by this request (redeemed), or only read to tell why it was not.
        self.claimed = claimed
        self.code_challenge = record.code_challenge
        self.code_challenge_method = record.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return self.record.scope

    def get_nonce(self) -> str | None:
        return self.record.nonce

    def get_auth_time(self) -> int:
        return int(self.record.auth_time.timestamp())


class RefreshModel:
    def __init__(self, record: IssuedRefreshToken) -> None:
        self.record = record

    def check_client(self, client: ClientModel) -> bool:
        return self.record.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.record.scope
