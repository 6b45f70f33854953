"""Gosuslugi (ESIA) in its own dialect: v2/ac and v3/te with a signed client_secret.

The client_secret is a signature (GOST R 34.10-2012 in production, RSA for quick local setups)
over ESIA's exact concatenation; the token response must echo the fresh state we sent; the
id_token is verified against ESIA's certificate key that we ship (ESIA publishes no JWKS), with
the algorithm pinned. Names and СНИЛС come from /rs/prns/{oid}, whose oid must be the token's.

ESIA has no PKCE, and its client_secret does not cover `nonce`: the nonce echoed in the id_token
is the only thing that ties a code to the flow that asked for it, so it is required. A stand that
does not echo it needs the explicit `id_token_nonce = "not_echoed"` (logged at every start); then
a missing nonce is accepted (a present one must still be ours), every identity from the entry
carries `code_bound=False`, and every binding through it demands the staff card match.
ESIA has no prompt=login or max_age either: a fresh login or a max_age asked for by a relying app
is checked against the id_token's `auth_time`, and an answer from an older ESIA session is refused.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from authlib.common.urls import add_params_to_uri
from joserfc.errors import JoseError

from bridge.blocking import run_blocking
from bridge.config import SettingsError
from bridge.upstream import errors
from bridge.upstream.base import AuthorizationStart
from bridge.upstream.identity import UpstreamIdentity
from bridge.upstream.parsing import (
    authentication_time,
    authorization_code,
    clean_text,
    json_object,
    refuse_nul,
    same_secret,
    snils_digits,
)
from gost_jws import (
    AnyPrivateKey,
    AnyPublicKey,
    EsiaClaimsRegistry,
    cheap_to_use,
    client_secret,
    decode_jwt,
    esia_timestamp,
    key_fingerprint,
    load_signer_file,
    load_verifier_file,
)

if TYPE_CHECKING:
    from bridge.upstream.configuration import _Fields

T = TypeVar("T")

AUTHORIZATION_PATH = "/aas/oauth2/v2/ac"
TOKEN_PATH = "/aas/oauth2/v3/te"  # noqa: S105 - a path, not a secret
PERSON_PATH = "/rs/prns/{oid}"
CLOCK_LEEWAY_SECONDS = 60
NONCE_REQUIRED, NONCE_NOT_ECHOED = "required", "not_echoed"

logger = logging.getLogger("bridge.upstream.esia")

RESIDUAL_RISK_WARNING = (
    "provider %r: id_token_nonce = \"not_echoed\" — an ESIA id_token without our nonce is accepted. "
    "Nothing then binds an authorization code to the browser that started the sign-in (ESIA has no "
    "PKCE): whoever obtains a person's unredeemed code (a log, a referrer, a forwarded link) is "
    "signed in as that person. Compensating control in force: every binding through this provider "
    "requires the name/СНИЛС match with the staff card. Keep codes out of logs and referrers; see "
    "docs/security.md."
)


@dataclass
class EsiaProvider:
    key: str
    title: str
    # Where ESIA's endpoints live, e.g. https://esia.gosuslugi.ru (or the mock's /esia prefix).
    base_url: str
    # The id_token `iss`, e.g. "http://esia.gosuslugi.ru/" — http and a trailing slash, as ESIA sends it.
    issuer: str
    client_id: str
    signer: AnyPrivateKey
    provider_key: AnyPublicKey
    certificate_hash: str = ""
    scope: str = "openid fullname snils email"
    scope_org: str = ""
    # False only with the explicit `id_token_nonce = "not_echoed"` of a stand that does not echo it.
    require_nonce: bool = True
    kind: str = "esia"

    async def start_authorization(
        self,
        http: httpx.AsyncClient,
        redirect_uri: str,
        *,
        force_login: bool = False,
        max_age: int | None = None,
    ) -> AuthorizationStart:
        # ESIA wants a UUID state; the nonce is 128 random bits in the same 32-hex-digit shape.
        state, nonce, timestamp = str(uuid.uuid4()), secrets.token_hex(16), esia_timestamp()
        secret = await self._client_secret(timestamp, state, redirect_uri)
        params = [
            ("client_id", self.client_id),
            ("client_secret", secret),
            ("redirect_uri", redirect_uri),
            ("scope", self.scope),
            ("response_type", "code"),
            ("state", state),
            ("nonce", nonce),
            ("access_type", "online"),
            ("timestamp", timestamp),
            ("client_certificate_hash", self.certificate_hash),
        ]
        if self.scope_org:
            params.append(("scope_org", self.scope_org))
        url = add_params_to_uri(self.base_url.rstrip("/") + AUTHORIZATION_PATH, params)
        parked = {
            "state": state,
            "nonce": nonce,
            "issuer": self.issuer,
            # ESIA cannot be told to ask again: these are checked against auth_time on return.
            "force_login": force_login,
            "max_age": max_age,
            "started_at": time.time(),
        }
        return AuthorizationStart(url=url, parked=parked)

    async def finish_authorization(
        self,
        http: httpx.AsyncClient,
        callback_params: Mapping[str, str],
        parked: Mapping[str, Any],
        redirect_uri: str,
        *,
        defer_profile: bool = False,  # never: every sign-in needs the person data's `trusted`
    ) -> UpstreamIdentity:
        code = authorization_code(self.title, self.issuer, callback_params, parked)
        token = await self._redeem(http, code, redirect_uri)
        claims = await _signature_work(
            self.provider_key, self._verify_id_token, str(token["id_token"]), parked.get("nonce")
        )
        auth_time = authentication_time(self.title, claims, parked, time.time())
        oid = str(claims["sub"])
        person = await self._person(http, oid, str(token.get("access_token", "")))
        refuse_nul(self.title, "id_token or person data", claims, person)
        subject_info = claims.get("urn:esia:sbj")
        trusted = isinstance(subject_info, dict) and bool(subject_info.get("urn:esia:sbj:is_tru"))
        if isinstance(person.get("trusted"), bool):
            trusted = person["trusted"]
        return UpstreamIdentity(
            provider=self.key,
            issuer=self.issuer,
            subject=oid,
            provider_kind=self.kind,
            surname=clean_text(person.get("lastName")),
            name=clean_text(person.get("firstName")),
            patronymic=clean_text(person.get("middleName")),
            snils=snils_digits(person.get("snils")),
            trusted=trusted,
            amr=tuple(str(value).lower() for value in _as_list(claims.get("amr"))),
            auth_time=auth_time,
            # With the opt-out nothing guarantees that a code was bound to its browser (an attacker
            # strips the nonce from the URL), so no identity from this entry counts as bound.
            code_bound=self.require_nonce,
        )

    async def _redeem(self, http: httpx.AsyncClient, code: str, redirect_uri: str) -> dict[str, Any]:
        # ESIA wants a fresh state for the token request and echoes it back.
        state, timestamp = str(uuid.uuid4()), esia_timestamp()
        secret = await self._client_secret(timestamp, state, redirect_uri, code)
        form = {
            "client_id": self.client_id,
            "code": code,
            "grant_type": "authorization_code",
            "client_secret": secret,
            "state": state,
            "redirect_uri": redirect_uri,
            "scope": self.scope,
            "timestamp": timestamp,
            "token_type": "Bearer",
            "client_certificate_hash": self.certificate_hash,
        }
        if self.scope_org:
            form["scope_org"] = self.scope_org
        try:
            response = await http.post(self.base_url.rstrip("/") + TOKEN_PATH, data=form)
        except httpx.HTTPError as error:
            raise errors.unavailable(self.title, f"token endpoint: {error.__class__.__name__}") from None
        token = json_object(response, self.title, "token endpoint")
        if response.status_code != 200:
            raise errors.unavailable(
                self.title, f"token endpoint {response.status_code}: {str(token.get('error_description'))[:120]}"
            )
        if not same_secret(token.get("state"), state):
            raise errors.rejected(self.title, "token response state differs from the one sent")
        if not isinstance(token.get("id_token"), str):
            raise errors.rejected(self.title, "token response without id_token")
        return token

    async def _client_secret(self, timestamp: str, state: str, redirect_uri: str, code: str = "") -> str:
        """The signature over the request's fields, in ESIA's order; the authorization request has no code."""
        return await _signature_work(
            self.signer, client_secret, self.signer, self.client_id, self.scope, self.scope_org, timestamp, state,
            redirect_uri, code,
        )

    def _verify_id_token(self, id_token: str, nonce: object) -> dict[str, Any]:
        try:
            decoded = decode_jwt(id_token, self.provider_key)
            EsiaClaimsRegistry(
                leeway=CLOCK_LEEWAY_SECONDS,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise errors.rejected(self.title, f"id_token: {error.__class__.__name__}: {error}") from None
        claims = decoded.claims
        if "nonce" in claims:
            # Present is always checked, whatever the configuration: another flow's code is refused.
            if not same_secret(claims["nonce"], nonce):
                raise errors.rejected(self.title, "id_token nonce differs from this flow's")
        elif self.require_nonce:
            raise errors.rejected(self.title, "id_token without nonce (see id_token_nonce in docs/configuration.md)")
        subject_info = claims.get("urn:esia:sbj")
        if (
            isinstance(subject_info, dict)
            and "urn:esia:sbj:oid" in subject_info
            and str(subject_info["urn:esia:sbj:oid"]) != str(claims["sub"])
        ):
            raise errors.rejected(self.title, "urn:esia:sbj:oid differs from sub")
        return claims

    async def _person(self, http: httpx.AsyncClient, oid: str, access_token: str) -> dict[str, Any]:
        url = self.base_url.rstrip("/") + PERSON_PATH.format(oid=oid)
        try:
            response = await http.get(url, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as error:
            raise errors.unavailable(self.title, f"person data: {error.__class__.__name__}") from None
        if response.status_code != 200:
            raise errors.unavailable(self.title, f"person data HTTP {response.status_code}")
        person = json_object(response, self.title, "person data")
        if "oid" in person and str(person["oid"]) != oid:
            raise errors.rejected(self.title, "person data belongs to another oid")
        return person


async def _signature_work(key: AnyPrivateKey | AnyPublicKey, work: Callable[..., T], *arguments: object) -> T:
    """Run `work`, which signs or verifies with `key`, where it delays other requests least (issue 12).

    On OpenSSL's gost engine it takes about 0.1 ms: done in place, since a worker thread would cost more
    (a hop each way, and the event loop waiting up to a GIL switch interval to get back). On the slow
    fallbacks (gmpy2 arithmetic, about 5 ms; an RSA key) it goes to a worker thread, off the event loop.
    """
    if cheap_to_use(key):
        return work(*arguments)
    return await run_blocking(work, *arguments)


def build_esia_provider(fields: _Fields) -> EsiaProvider:
    signer = load_signer_file(fields.path("client_key_file"))
    provider_key = load_verifier_file(fields.path("provider_key_file"))
    allowed = fields.algorithms((provider_key.alg,))
    if provider_key.alg not in allowed:
        raise SettingsError(
            f"provider {fields.key()!r}: the provider key is {provider_key.alg}, not in id_token_algorithms {allowed}"
        )
    nonce_policy = fields.choice("id_token_nonce", (NONCE_REQUIRED, NONCE_NOT_ECHOED))
    if nonce_policy == NONCE_NOT_ECHOED:
        # Logged whenever the providers file is read, i.e. at every start of the bridge.
        logger.warning(RESIDUAL_RISK_WARNING, fields.key())
    return EsiaProvider(
        key=fields.key(),
        title=fields.text("title", "Госуслуги"),
        base_url=fields.text("base_url"),
        issuer=fields.text("issuer"),
        client_id=fields.text("client_id"),
        signer=signer,
        provider_key=provider_key,
        # Without a certificate, the client key's fingerprint stands for client_certificate_hash.
        certificate_hash=str(fields.entry.get("certificate_hash") or key_fingerprint(signer).upper()),
        scope=fields.text("scope", "openid fullname snils email"),
        scope_org=str(fields.entry.get("scope_org", "")),
        require_nonce=nonce_policy == NONCE_REQUIRED,
    )


def _as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, str) else []
