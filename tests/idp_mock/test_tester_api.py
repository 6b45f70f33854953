"""Tester controls: persons added and changed at run time, reset, the published ESIA key, clients."""

from __future__ import annotations

import httpx
import pytest

from gost_jws import key_fingerprint
from idp_mock.persons import PersonDirectory, read_persons_text, snils_checksum_ok

from .esia_rp import PASSWORD, SMIRNOVA, EsiaRelyingParty

pytestmark = pytest.mark.anyio

NEW_PERSON = {
    "oid": "1009999001",
    "last_name": "Белова",
    "first_name": "Дарья",
    "middle_name": "Романовна",
    "birth_date": "1991-12-01",
    "gender": "F",
    "snils": "112-233-445 95",
    "email": "belova@school.test",
    "mobile": "+7(999)0000001",
    "trusted": True,
    "organizations": [{"oid": "1000443710", "full_name": "ГБОУ Школа № 1535 (полное)",
                       "short_name": "ГБОУ Школа № 1535", "ogrn": "1027700084917", "position": "Библиотекарь"}],
}


def test_shipped_persons_are_realistic() -> None:
    persons = PersonDirectory.from_text(read_persons_text(None)).all()
    assert len(persons) >= 12
    assert all(snils_checksum_ok(p.snils) for p in persons)
    assert sum(not p.trusted for p in persons) >= 1
    assert any(p.middle_name is None for p in persons)
    assert sum(len(p.organizations) > 1 for p in persons) >= 3
    assert len({p.rsaa.sub for p in persons}) == len(persons)


async def test_add_a_person_and_sign_in_as_them(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    created = await http.post("/_mock/persons", json=NEW_PERSON)
    assert created.status_code == 201
    assert created.json()["rsaa"]["company"] == "ГБОУ Школа № 1535"
    body = await esia_rsa.tokens(login="+7 999 000-00-01")
    claims = (await esia_rsa.verify_id_token(body["id_token"])).claims
    assert claims["sub"] == 1009999001
    listed = (await http.get("/_mock/persons")).json()
    assert listed["password"] == PASSWORD and any(p["oid"] == "1009999001" for p in listed["persons"])


async def test_change_a_person(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    changed = await http.post("/_mock/persons", json={"oid": SMIRNOVA["oid"], "trusted": False,
                                                      "rsaa": {"position": "Завуч"}})
    assert changed.status_code == 200 and changed.json()["rsaa"]["position"] == "Завуч"
    body = await esia_rsa.tokens()
    assert "urn:esia:sbj:is_tru" not in (await esia_rsa.verify_id_token(body["id_token"])).claims["urn:esia:sbj"]

    await http.post("/_mock/reset")
    restored = {p["oid"]: p for p in (await http.get("/_mock/persons")).json()["persons"]}
    assert restored[SMIRNOVA["oid"]]["trusted"] is True


@pytest.mark.parametrize("bad", [{**NEW_PERSON, "snils": "112-233-445 96"}, {"oid": "1"}, {"last_name": "x"}])
async def test_invalid_person_is_refused(http: httpx.AsyncClient, bad: dict[str, object]) -> None:
    assert (await http.post("/_mock/persons", json=bad)).status_code == 400


async def test_clients_listing_shows_the_expected_certificate_hash(
    http: httpx.AsyncClient, esia_gost: EsiaRelyingParty
) -> None:
    listing = (await http.get("/_mock/clients")).json()
    gost = next(c for c in listing["esia"] if c["client_id"] == "rp-gost")
    assert gost["client_certificate_hash"] == key_fingerprint(esia_gost.key)
    assert {c["client_id"] for c in listing["rsaa"]} == {"rp", "rp-post"}
