"""A standard OpenID Connect provider (РСАА or any certified OP), found by its discovery document.

Every request carries a fresh state, a nonce of 256 random bits and PKCE S256; the id_token must
carry that nonce (absent means refused). `iss` in the authorization response (RFC 9207) is checked
when sent and required when the discovery document announces it. A relying app's prompt=login and
max_age are forwarded, and `acr_values` from the provider's entry are asked for; joserfc verifies
the id_token. Keys are refetched at most once per call, and not more often than keys_refetch_interval,
when an unknown `kid` shows up (key rotation without letting a forger make us hammer the JWKS).
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from bridge.config import Secret
from bridge.upstream import errors
from bridge.upstream.base import AuthorizationStart, UpstreamError
from bridge.upstream.identity import UpstreamIdentity
from bridge.upstream.parsing import (
    authentication_time,
    authorization_code,
    clean_text,
    json_object,
    refuse_nul,
    snils_digits,
)

DEFAULT_KEYS_REFETCH_INTERVAL = 30.0
DISCOVERY_TTL = 3600.0
# Asymmetric algorithms only: `none` and HMAC (which a public key could be abused for) never.
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
CLOCK_LEEWAY_SECONDS = 60


@dataclass
class OidcProvider:
    key: str
    title: str
    issuer: str
    client_id: str
    client_secret: Secret
    auth_method: str = "client_secret_basic"
    scope: str = "openid profile email"
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    # Accepted `acr` values, sent as acr_values; the id_token's acr must be one of them. Empty: any.
    acr_values: tuple[str, ...] = ()
    # Minimum seconds between two JWKS fetches triggered by an unknown kid.
    keys_refetch_interval: float = DEFAULT_KEYS_REFETCH_INTERVAL
    kind: str = "oidc"
    _metadata: dict[str, Any] | None = field(default=None, repr=False)
    _metadata_at: float = field(default=0.0, repr=False)
    _keys: KeySet | None = field(default=None, repr=False)
    _keys_at: float = field(default=0.0, repr=False)
    # The token endpoint's URL as httpx parses it (it would parse the string at every request).
    _token_url: tuple[str, httpx.URL] | None = field(default=None, repr=False)

    async def start_authorization(
        self,
        http: httpx.AsyncClient,
        redirect_uri: str,
        *,
        force_login: bool = False,
        max_age: int | None = None,
    ) -> AuthorizationStart:
        metadata = await self._discover(http)
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        params = [
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", self.scope),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ]
        if force_login:
            params.append(("prompt", "login"))
        if max_age is not None:
            params.append(("max_age", str(max_age)))
        if self.acr_values:
            params.append(("acr_values", " ".join(self.acr_values)))
        parked = {
            "state": state,
            "nonce": nonce,
            "code_verifier": verifier,
            "issuer": self.issuer,
            "force_login": force_login,
            "max_age": max_age,
            "started_at": time.time(),
        }
        return AuthorizationStart(url=add_params_to_uri(metadata["authorization_endpoint"], params), parked=parked)

    async def finish_authorization(
        self,
        http: httpx.AsyncClient,
        callback_params: Mapping[str, str],
        parked: Mapping[str, Any],
        redirect_uri: str,
        *,
        defer_profile: bool = False,
    ) -> UpstreamIdentity:
        metadata = await self._discover(http)
        code = authorization_code(
            self.title,
            self.issuer,
            callback_params,
            parked,
            require_iss=metadata.get("authorization_response_iss_parameter_supported") is True,
        )
        token = await self._redeem(http, metadata, code, str(parked["code_verifier"]), redirect_uri)
        claims = await self._verify_id_token(http, metadata, token, str(parked["nonce"]))
        auth_time = authentication_time(self.title, claims, parked, time.time())
        if defer_profile and self._has_userinfo(metadata, token):
            # Everything but the profile is the id_token's: verified above, whole without userinfo.
            async def complete_profile() -> UpstreamIdentity:
                return self._identity(claims, await self._profile(http, metadata, token, claims), auth_time)

            return replace(self._identity(claims, claims, auth_time), complete_profile=complete_profile)
        return self._identity(claims, await self._profile(http, metadata, token, claims), auth_time)

    # --- steps -----------------------------------------------------------------------------------

    @staticmethod
    def _has_userinfo(metadata: Mapping[str, Any], token: Mapping[str, Any]) -> bool:
        return bool(metadata.get("userinfo_endpoint")) and isinstance(token.get("access_token"), str)

    async def _profile(
        self, http: httpx.AsyncClient, metadata: Mapping[str, Any], token: Mapping[str, Any], claims: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The id_token's claims with userinfo's over them, when the provider has userinfo."""
        profile = dict(claims)
        if self._has_userinfo(metadata, token):
            userinfo = await self._userinfo(http, metadata, token["access_token"])
            if userinfo.get("sub") != claims["sub"]:
                raise errors.rejected(self.title, "userinfo sub differs from id_token sub")
            profile.update(userinfo)
        return profile

    def _identity(
        self, claims: Mapping[str, Any], profile: Mapping[str, Any], auth_time: datetime | None
    ) -> UpstreamIdentity:
        refuse_nul(self.title, "id_token or userinfo", claims, profile)
        acr = claims.get("acr")
        return UpstreamIdentity(
            provider=self.key,
            issuer=self.issuer,
            subject=str(claims["sub"]),
            provider_kind=self.kind,
            surname=clean_text(profile.get("family_name")),
            name=clean_text(profile.get("given_name")),
            patronymic=clean_text(profile.get("middle_name")),
            snils=snils_digits(profile.get("snils")),
            email=clean_text(profile.get("email")),
            amr=tuple(str(value).lower() for value in claims.get("amr", []) if isinstance(value, str)),
            organizations=tuple(
                {"name": profile[name]} for name in ("company",) if isinstance(profile.get(name), str)
            ),
            auth_time=auth_time,
            acr=acr if isinstance(acr, str) else None,
            accepted_acr=self.acr_values,
            # The nonce check above and PKCE tie the code to this flow.
            code_bound=True,
        )

    def discovery_fresh(self) -> bool:
        """Whether the discovery document is cached and younger than DISCOVERY_TTL (for /readyz)."""
        return self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL

    async def refresh_discovery(self, http: httpx.AsyncClient) -> None:
        """Fetch the discovery document unless a fresh one is cached; raises UpstreamError."""
        await self._discover(http)

    async def _discover(self, http: httpx.AsyncClient) -> dict[str, Any]:
        if self._metadata is not None and time.monotonic() - self._metadata_at < DISCOVERY_TTL:
            return self._metadata
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        metadata = await self._get_json(http, url)
        if metadata.get("issuer") != self.issuer:
            raise errors.rejected(self.title, f"discovery issuer {metadata.get('issuer')!r}")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(name), str):
                raise errors.rejected(self.title, f"discovery lacks {name}")
        self._metadata, self._metadata_at = metadata, time.monotonic()
        return metadata

    async def _redeem(
        self, http: httpx.AsyncClient, metadata: Mapping[str, Any], code: str, verifier: str, redirect_uri: str
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        if self.auth_method == "client_secret_post":
            form |= {"client_id": self.client_id, "client_secret": str(self.client_secret)}
        else:
            headers["Authorization"] = _basic_authorization(self.client_id, str(self.client_secret))
        try:
            # The bytes `http.post(url, data=form)` sends, encoded here and sent to the URL parsed once:
            # httpx's per-request form and URL work spared; the client's pool, TLS and timeouts as ever.
            request = http.build_request(
                "POST", self._token_endpoint(metadata), content=urlencode(form).encode(), headers=headers
            )
            response = await http.send(request)
        except httpx.HTTPError as error:
            raise errors.unavailable(self.title, f"token endpoint: {error.__class__.__name__}") from None
        token = json_object(response, self.title, "token endpoint")
        if response.status_code != 200:
            raise errors.unavailable(self.title, f"token endpoint {response.status_code}: {token.get('error')}")
        if not isinstance(token.get("id_token"), str):
            raise errors.rejected(self.title, "token response without id_token")
        return token

    def _token_endpoint(self, metadata: Mapping[str, Any]) -> httpx.URL:
        url = str(metadata["token_endpoint"])
        if self._token_url is None or self._token_url[0] != url:
            self._token_url = (url, httpx.URL(url))
        return self._token_url[1]

    async def _verify_id_token(
        self, http: httpx.AsyncClient, metadata: Mapping[str, Any], token: Mapping[str, Any], nonce: str
    ) -> dict[str, Any]:
        id_token = str(token["id_token"])
        try:
            decoded = await self._decode(http, metadata, id_token)
            jwt.JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY_SECONDS,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except JoseError as error:
            raise errors.rejected(self.title, f"id_token: {error.__class__.__name__}: {error}") from None
        claims = decoded.claims
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise errors.rejected(self.title, "id_token azp")
        return claims

    async def _decode(self, http: httpx.AsyncClient, metadata: Mapping[str, Any], id_token: str) -> jwt.Token:
        keys = await self._key_set(http, metadata, refresh=False)
        try:
            return jwt.decode(id_token, keys, algorithms=list(self.algorithms))
        except InvalidKeyIdError:
            # Rotation: the provider may have published a new key since we cached its set.
            if time.monotonic() - self._keys_at < self.keys_refetch_interval:
                raise
            keys = await self._key_set(http, metadata, refresh=True)
            return jwt.decode(id_token, keys, algorithms=list(self.algorithms))

    async def _key_set(self, http: httpx.AsyncClient, metadata: Mapping[str, Any], *, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            document = await self._get_json(http, metadata["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as error:
                raise errors.rejected(self.title, f"jwks: {error.__class__.__name__}") from None
            self._keys_at = time.monotonic()
        return self._keys

    async def _userinfo(
        self, http: httpx.AsyncClient, metadata: Mapping[str, Any], access_token: str
    ) -> dict[str, Any]:
        try:
            response = await http.get(
                metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError as error:
            raise errors.unavailable(self.title, f"userinfo: {error.__class__.__name__}") from None
        if response.status_code != 200:
            raise errors.unavailable(self.title, f"userinfo {response.status_code}")
        return json_object(response, self.title, "userinfo")

    async def _get_json(self, http: httpx.AsyncClient, url: str) -> dict[str, Any]:
        try:
            response = await http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise errors.unavailable(self.title, f"{url}: {error.__class__.__name__}") from None
        if response.status_code != 200:
            raise errors.unavailable(self.title, f"{url}: HTTP {response.status_code}")
        return json_object(response, self.title, url)


def _basic_authorization(client_id: str, secret: str) -> str:
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before base64.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


__all__ = ["OidcProvider", "UpstreamError"]
