"""Back-Channel Logout 1.0: a relying app's endpoint on loopback hears of every ended session.

The app's endpoint is a real HTTP server (uvicorn on 127.0.0.1); the bridge runs with its lifespan,
so its dispatcher delivers after the commit, as in production. Tokens are checked with the
bridge's published JWKS, as an app would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.application.principals import ActingAs
from bridge.application.signin_recovery import end_staff_sessions, reset_password, unbind_external_identity
from bridge.application.staff_lifecycle import block_staff, deactivate_staff
from bridge.config import Settings
from bridge.runtime import BridgeRuntime
from bridge.services.clients import ClientChanges, disable_client, register_client, update_client
from bridge.services.logout_deliveries import BackchannelSettings, DeliveryStatus, delivery_counts
from bridge.services.roles import OrganizationKind, Role
from bridge.storage.models import AuditEvent, ExternalBinding, LogoutDelivery, Organization, SignInSession
from bridge.storage.types import utcnow
from tests.application.conftest import POLICY
from tests.op.conftest import App, Person, signed_in_tokens
from tests.support.factories import give_role, make_organization, make_staff
from tests.support.html_forms import read_forms
from tests.support.logout_receiver import LogoutReceiver, served_receiver

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def receiver() -> Iterator[LogoutReceiver]:
    with served_receiver() as served:
        yield served


def eventually(check: Callable[[], bool], seconds: float = 20.0) -> None:
    """Wait for the dispatcher (a background task) to get there: a bounded wait, not a timing assertion."""
    waited = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        waited.wait(0.02)
    raise AssertionError("the dispatcher never got there")


def counts(db_factory: sessionmaker[Session]) -> dict[DeliveryStatus, int]:
    with db_factory() as db:
        return delivery_counts(db)


def tell(db_factory: sessionmaker[Session], client_id: str, receiver: LogoutReceiver, *, sid: bool) -> None:
    with db_factory() as db, db.begin():
        update_client(db, client_id, ClientChanges(backchannel_logout_uri=receiver.url,
                                                   backchannel_logout_session_required=sid))


def verified(client: TestClient, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token checked as an app checks it: signature against the JWKS, then its claims."""
    keys = KeySet.import_key_set(client.get("/oidc/jwks").json())
    decoded = jwt.decode(token, keys)
    claims = dict(decoded.claims)
    now = utcnow().timestamp()
    assert decoded.header["typ"] == "logout+jwt"
    assert claims["iss"] == "https://bridge.test"
    assert claims["iat"] <= now + 5 and claims["exp"] > now
    assert claims["events"] == {EVENT: {}} and claims["jti"]
    assert "nonce" not in claims
    return decoded.header, claims


def id_token_claims(client: TestClient, tokens: dict[str, Any]) -> dict[str, Any]:
    keys = KeySet.import_key_set(client.get("/oidc/jwks").json())
    return dict(jwt.decode(tokens["id_token"], keys).claims)


def sign_out_at_the_bridge(client: TestClient) -> Any:
    account = client.get("/account")
    form = next(form for form in read_forms(account.text) if form.action.endswith("/logout"))
    return client.post(form.action, data=form.fields, follow_redirects=False)


def test_signing_out_at_the_bridge_tells_the_app_with_the_session(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, receiver: LogoutReceiver,
) -> None:
    tell(db_factory, "kontingent", receiver, sid=True)
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    assert sign_out_at_the_bridge(client).status_code == 303
    [token] = receiver.wait_for(1)
    _, claims = verified(client, token)
    assert claims["aud"] == "kontingent" and claims["sub"] == director.subject
    # The sid the app got in its id_token: it ends exactly that session.
    assert claims["sid"] == id_token_claims(client, tokens)["sid"]
    eventually(lambda: counts(db_factory)[DeliveryStatus.DELIVERED] == 1)
    with db_factory() as db:
        [delivery] = db.scalars(select(LogoutDelivery)).all()
        assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
        delivered = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.backchannel_logout.delivered"))
        assert delivered.one().subject_staff_id == director.staff_id


def test_rp_initiated_logout_tells_the_app_too(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, receiver: LogoutReceiver,
) -> None:
    tell(db_factory, "kontingent", receiver, sid=False)
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    client.cookies.clear()  # another browser: the session is found through the hint's sid
    ended = client.get("/oidc/logout", params={"id_token_hint": tokens["id_token"]}, follow_redirects=False)
    assert ended.status_code == 200
    [token] = receiver.wait_for(1)
    _, claims = verified(client, token)
    # The app did not ask for the session: the person is named, every session of theirs at the app ends.
    assert claims["sub"] == director.subject and "sid" not in claims


def _add_binding(db_factory: sessionmaker[Session], person: Person) -> None:
    with db_factory() as db, db.begin():
        db.add(ExternalBinding(staff_id=person.staff_id, provider="esia", issuer="https://esia.test",
                               subject="esia-1", flow="local_first"))


HEAD = ActingAs("nachalnik")

ACTIONS: dict[str, Callable[[BridgeRuntime, Person], Any]] = {
    "block": lambda runtime, person: block_staff(runtime.db, HEAD, person.login, "увольнение", POLICY),
    "deactivate": lambda runtime, person: deactivate_staff(runtime.db, HEAD, person.login, "left", POLICY),
    "reset": lambda runtime, person: reset_password(runtime.db, HEAD, person.login, POLICY),
    "unbind": lambda runtime, person: unbind_external_identity(runtime.db, HEAD, person.login, "esia", POLICY),
    "end_sessions": lambda runtime, person: end_staff_sessions(runtime.db, HEAD, person.login, POLICY),
}


@pytest.fixture
def department_head(db_factory: sessionmaker[Session], director: Person) -> ActingAs:
    """The head of the education department the director's school belongs to: they manage the director."""
    with db_factory() as db, db.begin():
        department = make_organization(
            db, name="Управление образования", kind=OrganizationKind.EDUCATION_DEPARTMENT, district="Дзержинский"
        )
        school = db.get(Organization, director.organization_id)
        assert school is not None
        school.parent_id = department.id
        head = make_staff(db, surname="Новиков", name="Пётр", patronymic=None, login="nachalnik")
        give_role(db, head, department, Role.EDUCATION_DEPARTMENT)
    return HEAD


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_an_administrators_action_tells_every_app_of_every_session(
    action: str, client: TestClient, runtime: BridgeRuntime, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person, department_head: ActingAs, receiver: LogoutReceiver,
) -> None:
    tell(db_factory, "kontingent", receiver, sid=True)
    _add_binding(db_factory, director)
    first = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    client.cookies.clear()
    second = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    ACTIONS[action](runtime, director)
    tokens = receiver.wait_for(2)
    eventually(lambda: counts(db_factory)[DeliveryStatus.DELIVERED] == 2)
    sids = {verified(client, token)[1]["sid"] for token in tokens}
    assert sids == {id_token_claims(client, first)["sid"], id_token_claims(client, second)["sid"]}
    assert all(verified(client, token)[1]["sub"] == director.subject for token in tokens)
    # And the tokens the app holds are dead at the bridge.
    introspected = client.post(
        "/oidc/introspect", data={"token": first["access_token"]},
        auth=(confidential_app.client_id, confidential_app.client_secret or ""),
    )
    assert introspected.json() == {"active": False}


def test_ending_other_sessions_on_the_personal_page_tells_the_app_of_those_only(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, receiver: LogoutReceiver,
) -> None:
    tell(db_factory, "kontingent", receiver, sid=True)
    other = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    client.cookies.clear()
    this = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    cabinet = client.get("/cabinet")
    form = next(form for form in read_forms(cabinet.text) if form.action.endswith("/sessions/end-others"))
    assert client.post(form.action, data=form.fields, follow_redirects=False).status_code == 303
    [token] = receiver.wait_for(1)
    assert verified(client, token)[1]["sid"] == id_token_claims(client, other)["sid"]
    eventually(lambda: counts(db_factory)[DeliveryStatus.DELIVERED] == 1)
    assert id_token_claims(client, this)["sid"] != id_token_claims(client, other)["sid"]


def test_only_apps_used_in_the_session_are_told_and_a_refusal_queues_nothing(
    client: TestClient, runtime: BridgeRuntime, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person, department_head: ActingAs, receiver: LogoutReceiver,
) -> None:
    with db_factory() as db, db.begin():
        register_client(db, settings.secret_key, name="ИС Питание", redirect_uris=["https://food.test/cb"],
                        client_id="food", backchannel_logout_uri=receiver.url)
    signed_in_tokens(client, settings, db_factory, confidential_app, director)
    # A reset refused (unbinding a provider the person is not bound to) rolls back, queuing nothing.
    with pytest.raises(Exception, match="нет привязки"):
        unbind_external_identity(runtime.db, department_head, director.login, "esia", POLICY)
    end_staff_sessions(runtime.db, department_head, director.login, POLICY)
    with db_factory() as db:
        # kontingent registered no URI; food has one but was never used in the session.
        assert db.scalars(select(LogoutDelivery)).all() == []
        assert delivery_counts(db) == dict.fromkeys(DeliveryStatus, 0)


def test_a_session_is_announced_once_however_often_it_ends(
    client: TestClient, runtime: BridgeRuntime, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person, department_head: ActingAs, receiver: LogoutReceiver,
) -> None:
    tell(db_factory, "kontingent", receiver, sid=True)
    signed_in_tokens(client, settings, db_factory, confidential_app, director)
    assert sign_out_at_the_bridge(client).status_code == 303
    # Already ended: ending every session of the person afterwards owes the app nothing more.
    end_staff_sessions(runtime.db, department_head, director.login, POLICY)
    assert len(receiver.wait_for(1)) == 1
    eventually(lambda: counts(db_factory)[DeliveryStatus.DELIVERED] == 1)
    assert sum(counts(db_factory).values()) == 1


def test_a_disabled_app_is_not_told(
    client: TestClient, runtime: BridgeRuntime, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person, department_head: ActingAs, receiver: LogoutReceiver,
) -> None:
    tell(db_factory, "kontingent", receiver, sid=True)
    signed_in_tokens(client, settings, db_factory, confidential_app, director)
    with db_factory() as db, db.begin():
        disable_client(db, "kontingent")
    end_staff_sessions(runtime.db, department_head, director.login, POLICY)
    assert sum(counts(db_factory).values()) == 0


def test_a_failing_app_is_retried_then_given_up_and_retried_by_the_operator(
    client: TestClient, runtime: BridgeRuntime, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person, receiver: LogoutReceiver,
    bridge_cli: Callable[..., tuple[int, str, str]],
) -> None:
    dispatcher = runtime.logout
    assert dispatcher is not None
    dispatcher.settings = BackchannelSettings(max_attempts=2)
    tell(db_factory, "kontingent", receiver, sid=True)
    signed_in_tokens(client, settings, db_factory, confidential_app, director)
    receiver.status = 500
    assert sign_out_at_the_bridge(client).status_code == 303

    def last_error() -> str | None:
        with db_factory() as db:
            return db.scalars(select(LogoutDelivery)).one().last_error

    # The lifespan's dispatcher tried once right after the commit; the app answered 500.
    eventually(lambda: receiver.arrived == 1 and last_error() == "HTTP 500")
    later = utcnow() + timedelta(hours=1)
    report = client.portal.call(partial(dispatcher.dispatch_due, now=later))  # type: ignore[union-attr]
    assert report.failed == 1 and receiver.tokens == []
    code, out, _ = bridge_cli("--json", "logout-deliveries", "status")
    assert code == 0 and '"failed": 1' in out and "HTTP 500" in out

    # The app is fixed; the operator queues the failure again and the next pass delivers it.
    receiver.status = 200
    code, out, _ = bridge_cli("logout-deliveries", "retry", "--client", "kontingent")
    assert code == 0 and "Снова в очереди: 1" in out
    report = client.portal.call(dispatcher.dispatch_due)  # type: ignore[union-attr]
    assert report.delivered == 1
    [token] = receiver.wait_for(1)
    assert verified(client, token)[1]["aud"] == "kontingent"
    with db_factory() as db:
        assert delivery_counts(db)[DeliveryStatus.DELIVERED] == 1
        events = [event.event for event in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "oidc.backchannel_logout.failed" in events and "oidc.backchannel_logout.retried" in events


def test_a_retry_after_a_failure_delivers(
    client: TestClient, runtime: BridgeRuntime, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person, receiver: LogoutReceiver,
) -> None:
    dispatcher = runtime.logout
    assert dispatcher is not None
    tell(db_factory, "kontingent", receiver, sid=False)
    signed_in_tokens(client, settings, db_factory, confidential_app, director)
    receiver.status = 503
    assert sign_out_at_the_bridge(client).status_code == 303

    def failed_once() -> bool:
        with db_factory() as db:
            return db.scalars(select(LogoutDelivery)).one().last_error is not None

    eventually(failed_once)
    receiver.status = 200
    # Not before its backoff: nothing is due yet...
    with db_factory() as db:
        delivery = db.scalars(select(LogoutDelivery)).one()
    assert delivery.status == DeliveryStatus.QUEUED and delivery.last_error == "HTTP 503"
    assert client.portal.call(dispatcher.dispatch_due).total == 0  # type: ignore[union-attr]
    # ...and delivered once it is.
    report = client.portal.call(partial(dispatcher.dispatch_due, now=delivery.next_attempt_at))  # type: ignore[union-attr]
    assert report.delivered == 1 and len(receiver.wait_for(1)) == 1


def test_a_hanging_app_does_not_hold_up_signing_out(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, receiver: LogoutReceiver,
) -> None:
    tell(db_factory, "kontingent", receiver, sid=True)
    signed_in_tokens(client, settings, db_factory, confidential_app, director)
    receiver.hold = threading.Event()
    # The sign-out is answered while the app has not answered (it is still held below).
    assert sign_out_at_the_bridge(client).status_code == 303
    with db_factory() as db:
        assert db.scalars(select(SignInSession)).one().ended_at is not None
    eventually(lambda: receiver.arrived == 1)
    assert receiver.tokens == []
    receiver.hold.set()
    assert len(receiver.wait_for(1)) == 1
    eventually(lambda: counts(db_factory)[DeliveryStatus.DELIVERED] == 1)


def test_client_commands_set_and_show_the_logout_uri(
    bridge_cli: Callable[..., tuple[int, str, str]],
) -> None:
    code, out, _ = bridge_cli(
        "client", "add", "--name", "ИС Контингент", "--client-id", "kontingent",
        "--redirect-uri", "https://kontingent.test/cb",
        "--backchannel-logout-uri", "https://kontingent.test/backchannel", "--backchannel-logout-session-required",
    )
    assert code == 0
    code, out, _ = bridge_cli("--json", "client", "list")
    assert '"backchannel_logout_uri": "https://kontingent.test/backchannel"' in out
    assert '"backchannel_logout_session_required": true' in out
    code, _, err = bridge_cli("client", "update", "kontingent", "--backchannel-logout-uri", "http://app.example/bc")
    assert code == 1 and "https" in err
    code, out, _ = bridge_cli("client", "update", "kontingent", "--no-backchannel-logout", "--introspect-any")
    assert code == 0 and "не отправляются" in out and "любых приложений" in out
    code, out, _ = bridge_cli("--json", "client", "list")
    assert '"backchannel_logout_uri": null' in out and '"introspect_any": true' in out
