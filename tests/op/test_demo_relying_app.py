"""The demo relying app signs a director in through the bridge, in-process, and signs her out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.runtime import BridgeRuntime
from bridge.services.clients import register_client
from bridge_demo.relying_app import BACKCHANNEL_LOGOUT_PATH, create_relying_app
from tests.op.conftest import Person, query_of
from tests.support.browser import sign_in_browser
from tests.support.html_forms import read_forms

DEMO = "https://kontingent.test"


@pytest.fixture
def demo(
    app: Starlette, runtime: BridgeRuntime, settings: Settings, db_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    with db_factory() as db, db.begin():
        registered = register_client(
            db, settings.secret_key, name="Демо: ИС Контингент", redirect_uris=[f"{DEMO}/callback"],
            post_logout_redirect_uris=[f"{DEMO}/logged-out"], client_id="demo-kontingent",
            backchannel_logout_uri=f"{DEMO}{BACKCHANNEL_LOGOUT_PATH}", backchannel_logout_session_required=True,
        )
    assert registered.client_secret is not None
    to_bridge = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://bridge.test")
    relying_app = create_relying_app(
        issuer="https://bridge.test", client_id="demo-kontingent", client_secret=registered.client_secret,
        redirect_uri=f"{DEMO}/callback", http=to_bridge, secret_key="demo-secret-" + "y" * 32,
    )
    # The bridge's logout tokens reach the demo in-process.
    assert runtime.logout is not None
    runtime.logout.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=relying_app))
    with TestClient(relying_app, base_url=DEMO) as browser_at_demo:
        yield browser_at_demo


def _local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_demo_app_signs_in_and_out_through_the_bridge(
    demo: TestClient, client: TestClient, settings: Settings, db_factory: sessionmaker[Session], director: Person,
) -> None:
    start = demo.get("/")
    assert "Демо: ИС Контингент" in start.text and "Войти через единый вход" in start.text

    # The person is already signed in at the bridge (in the same browser: `client` holds its cookies).
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    to_bridge = demo.get("/login", follow_redirects=False)
    assert to_bridge.status_code == 302
    authorize_url = to_bridge.headers["location"]
    assert authorize_url.startswith("https://bridge.test/oidc/authorize?")
    sent = query_of(authorize_url)
    assert sent["code_challenge_method"] == "S256" and sent["nonce"] and sent["state"]

    back = client.get(_local(authorize_url), follow_redirects=False)
    assert back.headers["location"].startswith(f"{DEMO}/callback?")
    done = demo.get(_local(back.headers["location"]), follow_redirects=False)
    assert done.status_code == 303, done.text

    shown = demo.get("/")
    assert "Иванова Мария Петровна" in shown.text
    assert "Директор школы (руководитель)" in shown.text
    # What a person reads names the role and the provider in Russian; the URNs stay in the claims' dump.
    readable = shown.text.split("<pre>", 1)[0]
    assert "через Госуслуги (ЕСИА)" in readable and "urn:" not in readable and "school_director" not in readable
    assert "МБОУ СОШ № 7" in shown.text
    assert "Ответ userinfo" in shown.text

    # "Выйти": the demo sends the browser to the bridge's logout with id_token_hint and comes back.
    to_logout = demo.get("/logout", follow_redirects=False)
    assert to_logout.headers["location"].startswith("https://bridge.test/oidc/logout?")
    at_bridge = client.get(_local(to_logout.headers["location"]), follow_redirects=False)
    assert at_bridge.status_code == 303
    assert at_bridge.headers["location"].startswith(f"{DEMO}/logged-out?state=")
    landed = demo.get(_local(at_bridge.headers["location"]))
    assert "Вы вышли" in landed.text and "Войти через единый вход" in landed.text

    # The bridge session is over: signing in again starts at the bridge's sign-in page.
    again = client.get(_local(demo.get("/login", follow_redirects=False).headers["location"]), follow_redirects=False)
    assert urlsplit(again.headers["location"]).path == "/login"


def test_demo_app_shows_a_refusal_instead_of_crashing(demo: TestClient, client: TestClient) -> None:
    authorize_url = demo.get("/login", follow_redirects=False).headers["location"]
    # A forged callback (wrong state) and an error answer from the bridge are both refused calmly.
    assert demo.get("/callback?code=abc&state=forged").status_code == 400
    state = query_of(authorize_url)["state"]
    response = demo.get(f"/callback?error=login_required&state={state}")
    assert response.status_code == 400 and "login_required" in response.text


def _signed_in_at_demo(
    demo: TestClient, client: TestClient, settings: Settings, db_factory: sessionmaker[Session], person: Person
) -> None:
    sign_in_browser(client, settings, db_factory, person.staff_id, person.role)
    authorize_url = demo.get("/login", follow_redirects=False).headers["location"]
    back = client.get(_local(authorize_url), follow_redirects=False)
    assert demo.get(_local(back.headers["location"]), follow_redirects=False).status_code == 303
    assert "Иванова Мария Петровна" in demo.get("/").text


def test_signing_out_at_the_bridge_signs_the_person_out_of_the_demo(
    demo: TestClient, client: TestClient, settings: Settings, db_factory: sessionmaker[Session], director: Person,
) -> None:
    _signed_in_at_demo(demo, client, settings, db_factory, director)
    account = client.get("/account")
    form = next(form for form in read_forms(account.text) if form.action.endswith("/logout"))
    assert client.post(form.action, data=form.fields, follow_redirects=False).status_code == 303
    # The bridge's dispatcher delivers the logout token after the commit; the demo ends its session.
    for _ in range(1000):
        if "Войти через единый вход" in demo.get("/").text:
            break
        threading.Event().wait(0.02)
    assert "Иванова" not in demo.get("/").text


def test_demo_refuses_a_forged_logout_token(
    demo: TestClient, client: TestClient, settings: Settings, db_factory: sessionmaker[Session], director: Person,
) -> None:
    _signed_in_at_demo(demo, client, settings, db_factory, director)
    assert demo.post(BACKCHANNEL_LOGOUT_PATH, data={"logout_token": "not-a-jwt"}).status_code == 400
    forger = ECKey.generate_key("P-256", parameters={"kid": "forged"})
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "ES256", "typ": "logout+jwt"},
        {"iss": "https://bridge.test", "aud": "demo-kontingent", "iat": now, "exp": now + 60, "jti": "j1",
         "sub": director.subject, "events": {"http://schemas.openid.net/event/backchannel-logout": {}}},
        forger,
    )
    assert demo.post(BACKCHANNEL_LOGOUT_PATH, data={"logout_token": forged}).status_code == 400
    assert "Иванова Мария Петровна" in demo.get("/").text
