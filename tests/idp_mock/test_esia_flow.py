"""ESIA driven the way a relying party drives it: signed v2/ac, login, consent, v3/te, /rs/prns."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import pytest
from joserfc.errors import InvalidClaimError
from joserfc.jwt import JWTClaimsRegistry

from gost_jws import EsiaClaimsRegistry, GostPrivateKey, RsaPrivateKey, decode_jwt, load_verifier
from idp_mock import MockConfig, create_app

from .conftest import ESIA_CALLBACK
from .esia_rp import (
    KIM_NO_PATRONYMIC_EMAIL,
    MIKHAILOVA_UNTRUSTED_EMAIL,
    PASSWORD,
    POPOVA_TWO_ORGS_EMAIL,
    SMIRNOVA,
    EsiaRelyingParty,
    redirect_params,
    request_id,
)

pytestmark = pytest.mark.anyio


async def test_full_code_flow_with_gost(esia_gost: EsiaRelyingParty, mock_esia_key: GostPrivateKey) -> None:
    login_page = await esia_gost.start()
    assert login_page.status_code == 200
    assert 'autocomplete="username"' in login_page.text and 'autocomplete="current-password"' in login_page.text
    assert "Смирнова Елена Викторовна" in login_page.text

    consent_page = await esia_gost.login(login_page, login=SMIRNOVA["snils"])
    assert consent_page.status_code == 200
    for text in ("Разрешить", "Отказать", "СНИЛС", "Фамилия, имя и отчество", "rp-gost"):
        assert text in consent_page.text
    code_redirect = await esia_gost.consent(consent_page)
    params = redirect_params(code_redirect)
    assert code_redirect.headers["location"].startswith(esia_gost.redirect_uri + "?")
    fresh_state = str(uuid.uuid4())
    response = await esia_gost.exchange(params["code"], state=fresh_state)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == fresh_state
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["refresh_token"]

    token = await esia_gost.verify_id_token(body["id_token"])
    assert token.header["alg"] == "GOST3410_2012_256"
    assert decode_jwt(body["id_token"], mock_esia_key.public_key).claims == token.claims
    claims = token.claims
    EsiaClaimsRegistry(
        iss={"essential": True, "value": "http://idp.test/esia/"},
        aud={"essential": True, "value": "rp-gost"},
        sub={"essential": True, "value": SMIRNOVA["oid"]},
    ).validate(claims)
    assert claims["sub"] == int(SMIRNOVA["oid"])
    assert claims["urn:esia:sbj"]["urn:esia:sbj:oid"] == int(SMIRNOVA["oid"])
    assert claims["urn:esia:sbj"]["urn:esia:sbj:is_tru"] is True
    assert claims["urn:esia:sbj"]["urn:esia:sbj:nam"] == f"OID.{SMIRNOVA['oid']}"
    assert claims["amr"] == "PWD" and claims["urn:esia:sid"]
    assert "nonce" not in claims

    access = decode_jwt(body["access_token"], mock_esia_key.public_key).claims
    assert access["urn:esia:sbj_id"] == int(SMIRNOVA["oid"]) and access["client_id"] == "rp-gost"
    assert f"fullname?oid={SMIRNOVA['oid']}" in access["scope"]

    headers = {"Authorization": f"Bearer {body['access_token']}"}
    person = (await esia_gost.http.get(f"/esia/rs/prns/{SMIRNOVA['oid']}", headers=headers)).json()
    assert person["lastName"] == "Смирнова" and person["middleName"] == "Викторовна"
    assert person["birthDate"] == "14.03.1979" and person["snils"] == SMIRNOVA["snils"]
    assert person["trusted"] is True and person["gender"] == "F"

    urls = (await esia_gost.http.get(f"/esia/rs/prns/{SMIRNOVA['oid']}/ctts", headers=headers)).json()
    assert urls["size"] == 2 and all(url.startswith("http://idp.test/esia/rs/prns/") for url in urls["elements"])
    one = await esia_gost.http.get(urls["elements"][0].removeprefix("http://idp.test"), headers=headers)
    assert one.json()["type"] in ("EML", "MBT")
    ctts = (await esia_gost.http.get(f"/esia/rs/prns/{SMIRNOVA['oid']}/ctts?embed=(elements)",
                                     headers=headers)).json()
    assert {(c["type"], c["value"]) for c in ctts["elements"]} == {("EML", SMIRNOVA["email"]),
                                                                     ("MBT", SMIRNOVA["mobile"])}
    roles = (await esia_gost.http.get(f"/esia/rs/prns/{SMIRNOVA['oid']}/roles?embed=(elements)",
                                      headers=headers)).json()
    assert roles["size"] == 1 and roles["elements"][0]["shortName"] == "ГБОУ Школа № 1535"
    assert roles["elements"][0]["ogrn"] == "1027700084917"


async def test_rsa_client_and_rs256_option(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    body = await esia_rsa.tokens(login=POPOVA_TWO_ORGS_EMAIL)
    claims = (await esia_rsa.verify_id_token(body["id_token"])).claims
    assert claims["aud"] == "rp-rsa"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    roles = (await http.get(f"/esia/rs/prns/{claims['sub']}/roles", headers=headers)).json()
    assert roles["size"] == 2


async def test_rs256_signed_tokens(config: MockConfig, rp_rsa_key: RsaPrivateKey) -> None:
    app = create_app(replace(config, esia_signing_alg="RS256", esia_signing_key=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://idp.test") as http:
        party = EsiaRelyingParty(http, "rp-rsa", rp_rsa_key, ESIA_CALLBACK)
        body = await party.tokens()
        certificate = await http.get("/_mock/esia/certificate")
        assert certificate.text.startswith("-----BEGIN PUBLIC KEY-----")
        token = decode_jwt(body["id_token"], load_verifier(certificate.text))
        assert token.header["alg"] == "RS256"


async def test_untrusted_and_no_patronymic_persons(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    body = await esia_rsa.tokens(login=MIKHAILOVA_UNTRUSTED_EMAIL)
    claims = (await esia_rsa.verify_id_token(body["id_token"])).claims
    assert "urn:esia:sbj:is_tru" not in claims["urn:esia:sbj"]
    person = (await http.get(f"/esia/rs/prns/{claims['sub']}",
                             headers={"Authorization": f"Bearer {body['access_token']}"})).json()
    assert person["trusted"] is False

    http.cookies.clear()
    body = await esia_rsa.tokens(login=KIM_NO_PATRONYMIC_EMAIL)
    sub = (await esia_rsa.verify_id_token(body["id_token"])).claims["sub"]
    person = (await http.get(f"/esia/rs/prns/{sub}", headers={"Authorization": f"Bearer {body['access_token']}"})
              ).json()
    assert person["lastName"] == "Ким" and "middleName" not in person


async def test_login_by_phone_and_picking_a_person(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    page = await esia_rsa.start()
    wrong = await esia_rsa.login(page, login="8 (916) 123-45-01", password="wrong")
    assert wrong.status_code == 401 and "Неверный логин или пароль" in wrong.text
    consent = await esia_rsa.login(wrong, login="8 (916) 123-45-01", password=PASSWORD)
    assert "Разрешить" in consent.text

    http.cookies.clear()
    page = await esia_rsa.start()
    picked = await http.post("/esia/login", data={"request_id": request_id(page), "pick": KIM_NO_PATRONYMIC_EMAIL})
    assert "Ким Алина" in picked.text and "Разрешить" in picked.text


async def test_consent_refused_returns_access_denied(esia_rsa: EsiaRelyingParty) -> None:
    start = esia_rsa.authorize_params()
    page = await esia_rsa.http.get("/esia/aas/oauth2/v2/ac", params=start)
    refused = redirect_params(await esia_rsa.consent(await esia_rsa.login(page), decision="deny"))
    assert refused["error"] == "access_denied"
    assert refused["error_description"].startswith("ESIA-007004: ")
    assert refused["state"] == start["state"]


async def test_session_and_consent_are_remembered_until_logout(
    http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty
) -> None:
    await esia_rsa.obtain_code()
    again = redirect_params(await esia_rsa.start())  # signed in, consent given: straight back with a code
    assert again["code"]

    logout = await http.get("/esia/idp/ext/Logout", params={"client_id": "rp-rsa",
                                                            "redirect_url": esia_rsa.redirect_uri})
    assert logout.status_code == 302 and logout.headers["location"] == esia_rsa.redirect_uri
    assert "Вход" in (await esia_rsa.start()).text

    elsewhere = await http.get("/esia/idp/ext/Logout", params={"client_id": "rp-rsa",
                                                               "redirect_url": "https://evil.test/"})
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers


async def test_untrusted_refused_where_the_client_demands_it(config: MockConfig, rp_rsa_key: RsaPrivateKey) -> None:
    strict = replace(config.esia_clients[1], allow_untrusted=False)
    app = create_app(replace(config, esia_clients=(strict,)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://idp.test") as http:
        party = EsiaRelyingParty(http, "rp-rsa", rp_rsa_key, ESIA_CALLBACK)
        refused = redirect_params(await party.login(await party.start(), login=MIKHAILOVA_UNTRUSTED_EMAIL))
        assert refused["error_description"].startswith("ESIA-007055")


async def test_scope_org_for_a_foreign_organization(esia_rsa: EsiaRelyingParty) -> None:
    refused = redirect_params(await esia_rsa.login(await esia_rsa.start(scope_org="1000298811")))
    assert refused["error_description"].startswith("ESIA-007194")


async def test_person_data_needs_the_right_bearer(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    body = await esia_rsa.tokens()
    oid = SMIRNOVA["oid"]
    assert (await http.get(f"/esia/rs/prns/{oid}")).status_code == 401
    assert (await http.get(f"/esia/rs/prns/{oid}", headers={"Authorization": "Bearer nope"})).status_code == 401
    other = await http.get("/esia/rs/prns/1006233404", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert other.status_code == 403


async def test_refresh_token_grant(esia_rsa: EsiaRelyingParty) -> None:
    body = await esia_rsa.tokens()
    # The refresh token stands where the code stood, in the request and in the signed string.
    params = esia_rsa.token_params(body["refresh_token"], grant_type="refresh_token")
    params["refresh_token"] = params.pop("code")
    response = await esia_rsa.http.post("/esia/aas/oauth2/v3/te", data=params)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"] != body["access_token"]
    again = await esia_rsa.http.post("/esia/aas/oauth2/v3/te", data=params)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_jwt_claims_registry_alone_rejects_the_numeric_sub() -> None:
    """Why EsiaClaimsRegistry exists: ESIA's sub is a JSON number."""
    with pytest.raises(InvalidClaimError):
        JWTClaimsRegistry().validate({"sub": 1000299654})
