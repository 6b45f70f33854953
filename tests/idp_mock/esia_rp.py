"""An ESIA relying party as tests need it: builds signed v2/ac and v3/te requests, plays the browser."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc.jwt import Token

from gost_jws import AnyPrivateKey, client_secret, decode_jwt, esia_timestamp, key_fingerprint, load_verifier

AUTHORIZE = "/esia/aas/oauth2/v2/ac"
TOKEN = "/esia/aas/oauth2/v3/te"
PASSWORD = "Test-12345"
SMIRNOVA = {"oid": "1005515483", "email": "e.smirnova@school1535.ru", "snils": "773-563-247 31",
            "mobile": "+7(916)1234501"}
MIKHAILOVA_UNTRUSTED_EMAIL = "mikhailova.ap@ds45-podolsk.ru"
KIM_NO_PATRONYMIC_EMAIL = "alina.kim@ks54.ru"
POPOVA_TWO_ORGS_EMAIL = "popova.os@sosh12-podolsk.ru"


def request_id(page: httpx.Response) -> str:
    found = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


@dataclass
class EsiaRelyingParty:
    http: httpx.AsyncClient
    client_id: str
    key: AnyPrivateKey
    redirect_uri: str
    scope: str = "openid fullname birthdate gender snils inn email mobile usr_org"

    def authorize_params(self, **overrides: Any) -> dict[str, str]:
        params = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "scope_org": "",
            "response_type": "code",
            "state": str(uuid.uuid4()),
            "access_type": "online",
            "timestamp": esia_timestamp(),
            "client_certificate_hash": key_fingerprint(self.key),
        }
        params.update({key: value for key, value in overrides.items() if key != "client_secret"})
        params["client_secret"] = overrides.get("client_secret") or client_secret(
            self.key, params["client_id"], params["scope"], params["scope_org"], params["timestamp"],
            params["state"], params["redirect_uri"],
        )
        if not params["scope_org"]:
            del params["scope_org"]
        return params

    async def start(self, **overrides: Any) -> httpx.Response:
        return await self.http.get(AUTHORIZE, params=self.authorize_params(**overrides))

    async def login(self, page: httpx.Response, login: str = SMIRNOVA["email"], password: str = PASSWORD
                    ) -> httpx.Response:
        return await self.http.post("/esia/login", data={"request_id": request_id(page), "login": login,
                                                         "password": password})

    async def consent(self, page: httpx.Response, decision: str = "allow") -> httpx.Response:
        return await self.http.post("/esia/consent", data={"request_id": request_id(page), "decision": decision})

    async def obtain_code(self, login: str = SMIRNOVA["email"], **overrides: Any) -> tuple[str, str]:
        """The browser part: v2/ac, login, consent. Returns (code, state)."""
        consent_page = await self.login(await self.start(**overrides), login=login)
        params = redirect_params(await self.consent(consent_page))
        assert "error" not in params, params
        return params["code"], params["state"]

    def token_params(self, code: str, **overrides: Any) -> dict[str, str]:
        params = {
            "client_id": self.client_id,
            "code": code,
            "grant_type": "authorization_code",
            "state": str(uuid.uuid4()),
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "scope_org": "",
            "timestamp": esia_timestamp(),
            "token_type": "Bearer",
            "client_certificate_hash": key_fingerprint(self.key),
        }
        params.update({key: value for key, value in overrides.items() if key != "client_secret"})
        params["client_secret"] = overrides.get("client_secret") or client_secret(
            self.key, params["client_id"], params["scope"], params["scope_org"], params["timestamp"],
            params["state"], params["redirect_uri"], params["code"],
        )
        if not params["scope_org"]:
            del params["scope_org"]
        return params

    async def exchange(self, code: str, **overrides: Any) -> httpx.Response:
        return await self.http.post(TOKEN, data=self.token_params(code, **overrides))

    async def tokens(self, login: str = SMIRNOVA["email"]) -> dict[str, Any]:
        code, _ = await self.obtain_code(login=login)
        response = await self.exchange(code)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def verify_id_token(self, id_token: str) -> Token:
        """Check the signature against the key the mock publishes, as ESIA clients ship its certificate."""
        certificate = await self.http.get("/_mock/esia/certificate")
        return decode_jwt(id_token, load_verifier(certificate.text))
