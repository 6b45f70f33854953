"""Nothing secret in the logs: `bridge serve` and `idp-mock` as real processes on loopback ports.

Sign-ins through Gosuslugi and РСАА (first sign-in with binding, a later one, a wrong password,
a forged callback) and a relying app's whole code flow (token, userinfo, refresh, logout with
id_token_hint) run against the two servers; then every line both processes wrote is searched for
every code, state, nonce, token, hint, password, cookie and СНИЛС seen in the run. The bridge runs
once with each BRIDGE_LOG_FORMAT: in `json` every line it writes is one JSON object, the request's
lines carry its id; and its /metrics, scraped before it stops, counted the run's sign-ins.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, quote_plus, urlsplit

import httpx
import pytest
from mail_sink.smtp import free_ports
from sqlalchemy import Engine

from bridge.config import Secret
from bridge.services.clients import register_client
from bridge.services.roles import Role
from bridge.storage.database import build_sessionmaker
from gost_jws import export_private, export_public
from idp_mock.persons import read_persons_text
from tests.e2e.world import Keys, choose_provider, enter_password, sign_in_at_provider
from tests.support.factories import give_role, make_organization, make_staff
from tests.support.html_forms import read_forms

pytestmark = pytest.mark.anyio

SMIRNOVA_EMAIL = "e.smirnova@school1535.ru"
KUZNETSOV_EMAIL = "a.kuznetsov@school1535.ru"
CLIENT_ID = "edu-bridge"
APP_ID = "kontingent"
# Query parameters whose values are secrets wherever they appear in a URL of the run.
SECRET_PARAMETERS = frozenset(
    {"code", "state", "nonce", "client_secret", "id_token_hint", "login_hint", "session_state", "code_verifier",
     "access_token", "refresh_token", "id_token", "token"}
)
ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "log-test-secret-key-" + "k" * 32



@dataclass
class Served:
    """A server process whose stdout and stderr go to files."""

    name: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    # The mock prints a banner of its test persons (СНИЛС, password) on stdout before it serves:
    # that is its documented start-up output, not a log line.
    has_banner: bool = False
    banner: str = ""

    def wait_until_serving(self, url: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited: {self.stderr.read_text(encoding='utf-8')[-3000:]}")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{self.name} did not start"
            time.sleep(0.1)
        if self.has_banner:
            # Printed and flushed before uvicorn starts, so complete once the port answers.
            self.banner = self.stdout.read_text(encoding="utf-8")
            assert "Test persons" in self.banner

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_text(self) -> str:
        """Every line it logged: all of stderr, and stdout after the banner."""
        out = self.stdout.read_text(encoding="utf-8")
        assert out.startswith(self.banner)
        return out[len(self.banner):] + self.stderr.read_text(encoding="utf-8")


def start(name: str, argv: list[str], folder: Path, env: dict[str, str], *, has_banner: bool = False) -> Served:
    stdout, stderr = folder / f"{name}.out", folder / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, *argv], stdout=out, stderr=err, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **env},
        )
    return Served(name, process, stdout, stderr, has_banner)


@dataclass
class Stack:
    bridge_url: str
    mock_url: str
    app_url: str
    app_secret: str
    esia_login: str
    rsaa_login: str
    staff_password: str
    person_password: str
    servers: list[Served] = field(default_factory=list)
    log_format: str = "text"


@pytest.fixture(params=["text", "json"])
def stack(
    request: pytest.FixtureRequest, engine: Engine, database_url: str, keys: Keys, tmp_path: Path
) -> Iterator[Stack]:
    bridge_port, mock_port, app_port = free_ports(3)
    bridge_url, mock_url, app_url = (f"http://127.0.0.1:{port}" for port in (bridge_port, mock_port, app_port))
    staff_password, person_password, rsaa_secret = (secrets.token_urlsafe(12) for _ in range(3))

    factory = build_sessionmaker(engine)
    with factory() as db, db.begin():
        logins = []
        for surname, name in (("Смирнова", "Елена"), ("Кузнецов", "Андрей")):
            staff = make_staff(db, surname=surname, name=name, patronymic=None, password=staff_password)
            give_role(db, staff, make_organization(db), Role.SCHOOL_DIRECTOR)
            logins.append(staff.login)
        app = register_client(
            db, Secret(SECRET_KEY), name="ИС Контингент",
            client_id=APP_ID, redirect_uris=[f"{app_url}/callback"], post_logout_redirect_uris=[f"{app_url}/bye"],
        )
    assert app.client_secret is not None

    (tmp_path / "esia-client.json").write_text(export_private(keys.esia_client), encoding="utf-8")
    (tmp_path / "esia-provider.json").write_text(export_public(keys.esia_provider), encoding="utf-8")
    (tmp_path / "mock-esia-key.json").write_text(export_private(keys.esia_provider), encoding="utf-8")
    (tmp_path / "providers.toml").write_text(
        f"""
[[provider]]
key = "esia"
kind = "esia"
title = "Госуслуги"
base_url = "{mock_url}/esia"
issuer = "{mock_url}/esia/"
client_id = "{CLIENT_ID}"
client_key_file = "esia-client.json"
provider_key_file = "esia-provider.json"

[[provider]]
key = "rsaa"
kind = "oidc"
title = "РСАА"
issuer = "{mock_url}/rsaa"
client_id = "{CLIENT_ID}"
client_secret = "{rsaa_secret}"
""",
        encoding="utf-8",
    )
    (tmp_path / "clients.json").write_text(
        json.dumps(
            {
                "esia": [{"client_id": CLIENT_ID, "redirect_uris": [f"{bridge_url}/login/callback/esia"],
                          "public_key": export_public(keys.esia_client)}],
                "rsaa": [{"client_id": CLIENT_ID, "client_secret": rsaa_secret,
                          "redirect_uris": [f"{bridge_url}/login/callback/rsaa"]}],
            }
        ),
        encoding="utf-8",
    )
    persons = json.loads(read_persons_text(None))
    persons["password"] = person_password
    (tmp_path / "persons.json").write_text(json.dumps(persons, ensure_ascii=False), encoding="utf-8")

    servers = [
        start(
            "idp-mock",
            ["-m", "idp_mock", "--host", "127.0.0.1", "--port", str(mock_port), "--no-demo-clients",
             "--clients", str(tmp_path / "clients.json"), "--esia-key", str(tmp_path / "mock-esia-key.json"),
             "--persons", str(tmp_path / "persons.json")],
            tmp_path, {}, has_banner=True,
        ),
        start(
            "bridge",
            ["-m", "bridge.cli.main", "serve", "--host", "127.0.0.1", "--port", str(bridge_port)],
            tmp_path,
            {"BRIDGE_ENV": "development", "BRIDGE_SECRET_KEY": SECRET_KEY, "BRIDGE_DATABASE_URL": database_url,
             "BRIDGE_PUBLIC_URL": bridge_url, "BRIDGE_PROVIDERS_FILE": str(tmp_path / "providers.toml"),
             "BRIDGE_LOG_FORMAT": request.param},
        ),
    ]
    try:
        servers[0].wait_until_serving(f"{mock_url}/_mock/faults")
        servers[1].wait_until_serving(f"{bridge_url}/healthz")
        yield Stack(bridge_url, mock_url, app_url, app.client_secret, logins[0], logins[1], staff_password,
                    person_password, servers, request.param)
    finally:
        for server in servers:
            server.stop()


class Witness:
    """Every secret value the run showed: harvested from URLs, cookies and token responses."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def add(self, what: str, value: object) -> None:
        if isinstance(value, str) and len(value) >= 8:
            self.values.setdefault(value, what)
            if value.count(".") == 2:  # a JWT: its signature alone is a secret too
                self.values.setdefault(value.rsplit(".", 1)[1], f"{what} (signature)")

    def add_url(self, url: str) -> None:
        for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
            if name in SECRET_PARAMETERS:
                self.add(f"{name} in {url[:60]}", value)
            elif name == "next":
                self.add_url(value)

    async def on_response(self, response: httpx.Response) -> None:
        self.add_url(str(response.request.url))
        if "location" in response.headers:
            self.add_url(str(response.url.join(response.headers["location"])))
        for cookie in response.cookies.jar:
            self.add(f"cookie {cookie.name}", cookie.value)

    def browser(self, stack: Stack) -> httpx.AsyncClient:
        # The relying app's redirect URI answers in-process: the code and state stay in the URL.
        app = httpx.MockTransport(lambda request: httpx.Response(200, text="app"))
        return httpx.AsyncClient(
            mounts={stack.app_url: app}, follow_redirects=True, timeout=60,
            event_hooks={"response": [self.on_response]},
        )

    def found_in(self, text: str) -> list[str]:
        leaks = []
        for value, what in self.values.items():
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                if form in text:
                    leaks.append(f"{what}: {value[:12]}…")
                    break
        return leaks


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


async def relying_app_session(
    browser: httpx.AsyncClient, stack: Stack, witness: Witness, sign_in: Any
) -> None:
    """The app's code flow: authorize (signing in on the way), token, userinfo, refresh, logout."""
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    verifier, challenge = pkce()
    for what, value in (("app state", state), ("app nonce", nonce), ("code_verifier", verifier)):
        witness.add(what, value)
    login_page = await browser.get(
        f"{stack.bridge_url}/oidc/authorize",
        params={"response_type": "code", "client_id": APP_ID, "redirect_uri": f"{stack.app_url}/callback",
                "scope": "openid profile email roles", "state": state, "nonce": nonce,
                "code_challenge": challenge, "code_challenge_method": "S256", "login_hint": "director-hint-value"},
    )
    at_app = await sign_in(login_page)
    assert str(at_app.url).startswith(f"{stack.app_url}/callback"), at_app.url
    answer = dict(parse_qsl(at_app.url.query.decode()))
    assert answer["state"] == state

    auth = (APP_ID, stack.app_secret)
    tokens = (await browser.post(
        f"{stack.bridge_url}/oidc/token", auth=auth,
        data={"grant_type": "authorization_code", "code": answer["code"], "code_verifier": verifier,
              "redirect_uri": f"{stack.app_url}/callback"},
    )).json()
    assert "access_token" in tokens, tokens
    for name in ("access_token", "refresh_token", "id_token"):
        witness.add(name, tokens[name])
    userinfo = await browser.get(
        f"{stack.bridge_url}/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 200, userinfo.text
    refreshed = (await browser.post(
        f"{stack.bridge_url}/oidc/token", auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )).json()
    for name in ("access_token", "refresh_token", "id_token"):
        witness.add(f"refreshed {name}", refreshed[name])

    confirm = await browser.get(
        f"{stack.bridge_url}/oidc/logout",
        params={"id_token_hint": refreshed["id_token"], "post_logout_redirect_uri": f"{stack.app_url}/bye",
                "state": secrets.token_urlsafe(16)},
    )
    forms = [form for form in read_forms(confirm.text) if "/oidc/logout" in form.action]
    if forms:
        confirm = await browser.post(str(confirm.url.join(forms[0].action)), data=forms[0].fields)
    assert str(confirm.url).startswith(f"{stack.app_url}/bye"), confirm.url


async def test_no_code_state_token_hint_password_or_snils_in_any_log(stack: Stack) -> None:
    witness = Witness()
    for what, value in (("staff password", stack.staff_password), ("mock person password", stack.person_password),
                        ("app client_secret", stack.app_secret), ("login_hint", "director-hint-value")):
        witness.add(what, value)
    persons = json.loads(read_persons_text(None))["persons"]
    for person in persons:
        if person["email"] in (SMIRNOVA_EMAIL, KUZNETSOV_EMAIL):
            witness.add(f"СНИЛС of {person['email']}", person["snils"])
            witness.add(f"СНИЛС digits of {person['email']}", "".join(ch for ch in person["snils"] if ch.isdigit()))

    async def esia_first(page: httpx.Response) -> httpx.Response:
        at_mock = await choose_provider(browser, page, "Госуслуги")
        bind = await sign_in_at_provider(browser, at_mock, SMIRNOVA_EMAIL, provider_host="127.0.0.1")
        assert bind.url.path == "/login/bind", bind.url
        wrong = await enter_password(browser, bind, stack.esia_login, "wrong-" + stack.staff_password)
        assert wrong.status_code == 400
        witness.add("wrong password", "wrong-" + stack.staff_password)
        return await enter_password(browser, wrong, stack.esia_login, stack.staff_password)

    # Gosuslugi: first sign-in with binding, from a relying app, then the app's whole code flow.
    async with witness.browser(stack) as browser:
        await relying_app_session(browser, stack, witness, esia_first)

    # РСАА: first sign-in with binding, the person typing the provider password.
    async with witness.browser(stack) as browser:
        at_mock = await choose_provider(browser, await browser.get(f"{stack.bridge_url}/login"), "РСАА")
        [form] = [form for form in read_forms(at_mock.text) if "password" in form.fields]
        page = await browser.post(
            str(at_mock.url.join(form.action)),
            data=form.submission(login=KUZNETSOV_EMAIL, password=stack.person_password),
        )
        consent = [form for form in read_forms(page.text) if "consent" in form.action]
        if consent:
            page = await browser.post(str(page.url.join(consent[0].action)),
                                      data={**consent[0].fields, "decision": "allow"})
        assert page.url.path == "/login/bind", page.url
        account = await enter_password(browser, page, stack.rsaa_login, stack.staff_password)
        assert account.url.path == "/account", account.url

    # Later sign-ins: the provider only, from fresh browsers, one of them through the app.
    async def esia_later(page: httpx.Response) -> httpx.Response:
        return await sign_in_at_provider(browser, await choose_provider(browser, page, "Госуслуги"),
                                         SMIRNOVA_EMAIL, provider_host="127.0.0.1")

    async with witness.browser(stack) as browser:
        await relying_app_session(browser, stack, witness, esia_later)
    async with witness.browser(stack) as browser:
        at_mock = await choose_provider(browser, await browser.get(f"{stack.bridge_url}/login"), "РСАА")
        account = await sign_in_at_provider(browser, at_mock, KUZNETSOV_EMAIL, provider_host="127.0.0.1")
        assert account.url.path == "/account", account.url

    # A forged code with the waiting flow's own state: the step is found, the provider refuses
    # the code, and the failure is logged — without the code or the state.
    async with witness.browser(stack) as browser:
        at_mock = await choose_provider(browser, await browser.get(f"{stack.bridge_url}/login"), "Госуслуги")
        started = next(step for step in at_mock.history if "state=" in step.headers.get("location", ""))
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        forged_code = secrets.token_urlsafe(20)
        witness.add("forged code", forged_code)
        witness.add("waiting state", state)
        refused = await browser.get(
            f"{stack.bridge_url}/login/callback/esia",
            params={"code": forged_code, "state": state, "error_description": forged_code},
        )
        assert refused.status_code >= 400

    # The run's outcomes, as Prometheus sees them (the test scrapes from the loopback: allowed by default).
    metrics = scrape(httpx.get(f"{stack.bridge_url}/metrics", timeout=10).text)
    signins = "bridge_signins_total"
    assert metrics[(signins, (("outcome", "needs_local_password"), ("provider", "esia"), ("reason", "")))] >= 1
    assert metrics[(signins, (("outcome", "signed_in"), ("provider", "esia"), ("reason", "")))] >= 1
    assert metrics[(signins, (("outcome", "signed_in"), ("provider", "rsaa"), ("reason", "")))] >= 1
    assert metrics[("bridge_bindings_total", (("order", "external_first"), ("outcome", "bound"), ("reason", "")))] == 2
    assert sum(value for (name, labels), value in metrics.items()
               if name == "bridge_upstream_errors_total" and ("provider", "esia") in labels) >= 1
    assert metrics[("bridge_token_requests_total", (("grant_type", "authorization_code"), ("outcome", "issued")))] == 2
    assert metrics[("bridge_token_requests_total", (("grant_type", "refresh_token"), ("outcome", "issued")))] == 2
    assert metrics[("bridge_upstream_seconds_count", (("provider", "rsaa"), ("step", "finish")))] >= 2

    for server in stack.servers:
        server.stop()
    bridge_log, mock_log = (server.log_text() for server in stack.servers[::-1])
    if stack.log_format == "json":
        events = [json.loads(line) for line in bridge_log.splitlines() if line.strip()]
        access = [event for event in events if event["logger"] == "bridge.access"]
        assert access and all(len(event["request_id"]) == 32 for event in access)
        assert len({event["request_id"] for event in access}) == len(access), "one id per request"
        # Secrets are looked for in what the lines say as well as in their JSON form.
        bridge_log = "\n".join(event["message"] + event.get("exception", "") for event in events) + bridge_log

    # The logs are there (a search of nothing would prove nothing) and name what happened.
    # A callback answers with a redirect: to our next page (303), or straight to the waiting app (302).
    callback = '"GET /login/callback/esia?code=…&state=… HTTP/1.1" {}'
    callbacks = sum(bridge_log.count(callback.format(status)) for status in (302, 303))
    assert callbacks >= 2, bridge_log[-3000:]
    assert '"GET /oidc/logout?id_token_hint=…&post_logout_redirect_uri=' in bridge_log
    assert "upstream esia failed" in bridge_log
    assert '"GET /esia/aas/oauth2/v2/ac?…" 200' in mock_log, mock_log[-3000:]
    assert len(witness.values) > 30

    assert witness.found_in(bridge_log) == [], "secrets in the bridge's logs"
    assert witness.found_in(mock_log) == [], "secrets in the mock's logs"


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus' text format: (name, sorted labels) → value."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
