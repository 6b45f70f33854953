"""The real apps wired together in-process: the bridge, the mock ESIA/РСАА, and a browser.

The bridge's outbound HTTP goes to the mock through httpx's ASGI transport; the "browser" is one
httpx client whose requests are routed by host to the app that serves it, with a cookie jar per
browser, following redirects across the apps as a real browser would.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.app import create_app
from bridge.blocking import current_worker_threads, worker_threads
from bridge.config import Secret, Settings
from bridge.runtime import BridgeRuntime
from bridge.services.roles import Role
from bridge.storage.models import ExternalBinding, Organization, RoleAssignment, StaffMember
from bridge.upstream.esia import EsiaProvider
from bridge.upstream.oidc import OidcProvider
from bridge.upstream.registry import UpstreamRegistry
from gost_jws import GostPrivateKey, export_private, export_public, key_fingerprint
from idp_mock.app import create_app as create_mock_app
from idp_mock.config import EsiaClient, MockConfig, RsaaClient
from tests.support.factories import give_role, make_organization, make_staff
from tests.support.html_forms import Form, read_forms

BRIDGE = "https://bridge.test"
IDP = "http://idp.test"
CLIENT_ID = "edu-bridge"
RSAA_SECRET = "rsaa-client-secret-for-tests"
PASSWORD = "Qw7!rtyPass9"
BROWSER_ADDRESS = "203.0.113.7"


@dataclass(frozen=True)
class Keys:
    """GOST keys are slow to make in pure Python: one set per test run."""

    esia_provider: GostPrivateKey
    esia_client: GostPrivateKey


def mock_config(keys: Keys, bridge_url: str = BRIDGE, idp_url: str = IDP, **overrides: Any) -> MockConfig:
    return MockConfig(
        public_base_url=idp_url,
        esia_clients=(
            EsiaClient(
                client_id=CLIENT_ID,
                redirect_uris=(f"{bridge_url}/login/callback/esia",),
                public_key=export_public(keys.esia_client),
            ),
        ),
        rsaa_clients=(
            RsaaClient(
                client_id=CLIENT_ID,
                client_secret=RSAA_SECRET,
                redirect_uris=(f"{bridge_url}/login/callback/rsaa",),
            ),
        ),
        esia_signing_key=export_private(keys.esia_provider),
        **overrides,
    )


def upstream_registry(keys: Keys, config: MockConfig, *, rsaa_acr_values: tuple[str, ...] = ()) -> UpstreamRegistry:
    return UpstreamRegistry.of(
        [
            EsiaProvider(
                key="esia",
                title="Госуслуги",
                base_url=f"{config.public_base_url}/esia",
                issuer=config.esia_issuer,
                client_id=CLIENT_ID,
                signer=keys.esia_client,
                provider_key=keys.esia_provider.verifier(),
                certificate_hash=key_fingerprint(keys.esia_client).upper(),
            ),
            OidcProvider(
                key="rsaa",
                title="РСАА",
                issuer=config.rsaa_issuer,
                client_id=CLIENT_ID,
                client_secret=Secret(RSAA_SECRET),
                keys_refetch_interval=0.0,
                acr_values=rsaa_acr_values,
            ),
        ]
    )


class InWorkerThreads:
    """The bridge as `bridge serve` runs it: its blocking calls in the app's own worker threads
    (bridge/blocking.py), which the lifespan starts and this in-process world does not run. One set
    of threads while requests overlap; a test that opens its own set is served by that one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._requests = 0
        self._threads: AsyncExitStack | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if current_worker_threads() is not None and self._requests == 0:
            await self.app(scope, receive, send)
            return
        self._requests += 1
        if self._requests == 1:
            self._threads = AsyncExitStack()
            await self._threads.enter_async_context(worker_threads(4))
        try:
            await self.app(scope, receive, send)
        finally:
            self._requests -= 1
            if self._requests == 0 and self._threads is not None:
                threads, self._threads = self._threads, None
                await threads.aclose()


@dataclass
class World:
    settings: Settings
    db: sessionmaker[Session]
    runtime: BridgeRuntime
    bridge: Starlette
    mock: Starlette

    def browser(
        self,
        address: str = BROWSER_ADDRESS,
        headers: dict[str, str] | None = None,
        apps: dict[str, Any] | None = None,
    ) -> httpx.AsyncClient:
        """A fresh browser at `address` (the bridge's TCP peer): its own cookies, routed to the apps
        by host (plus `apps`: URL → ASGI app)."""
        return httpx.AsyncClient(
            mounts={
                BRIDGE: httpx.ASGITransport(app=InWorkerThreads(self.bridge), client=(address, 40000)),
                IDP: httpx.ASGITransport(app=self.mock),
                **{url: httpx.ASGITransport(app=app) for url, app in (apps or {}).items()},
            },
            follow_redirects=True,
            timeout=30,
            headers=headers,
        )

    async def fault(self, provider: str, fault: str) -> None:
        await self.tester("/_mock/faults", {"provider": provider, "fault": fault})

    async def tester(self, path: str, body: dict[str, Any]) -> None:
        """A call to the mock's tester API (faults, behaviour switches, persons)."""
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.mock), base_url=IDP) as tester:
            response = await tester.post(path, json=body)
            assert response.status_code in (200, 201), response.text

    def add_staff(
        self, *, roles: tuple[Role, ...] = (Role.SCHOOL_DIRECTOR,), password: str | None = PASSWORD, **fields: Any
    ) -> str:
        """A staff member holding an issued password and roles in fresh schools; returns the login."""
        with self.db() as db, db.begin():
            staff = make_staff(db, password=password, **fields)
            for role in roles:
                give_role(db, staff, make_organization(db), role)
            return staff.login

    def bindings(self) -> list[tuple[str, str, str]]:
        with self.db() as db:
            rows = db.execute(
                select(StaffMember.login, ExternalBinding.provider, ExternalBinding.subject).join(
                    StaffMember, StaffMember.id == ExternalBinding.staff_id
                )
            ).all()
            return [(login, provider, subject) for login, provider, subject in rows]

    def staff(self, login: str) -> StaffMember:
        with self.db() as db:
            staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
            db.expunge(staff)
            return staff

    def organization_of(self, assignment_id: int) -> str:
        with self.db() as db:
            assignment = db.get(RoleAssignment, assignment_id)
            assert assignment is not None
            organization = db.get(Organization, assignment.organization_id)
            assert organization is not None
            return organization.name


def build_world(
    settings: Settings, engine: Any, keys: Keys, *, upstream: UpstreamRegistry | None = None, **mock_overrides: Any
) -> World:
    """The apps wired together; `upstream` replaces the default providers (e.g. read from a providers file)."""
    from bridge.runtime import build_runtime

    config = mock_config(keys, **mock_overrides)
    mock = create_mock_app(config)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=mock), timeout=5)
    registry = upstream if upstream is not None else upstream_registry(keys, config)
    runtime = build_runtime(settings, engine=engine, http=http, upstream=registry)
    return World(settings, runtime.db, runtime, create_app(settings, runtime=runtime), mock)


# --- what a person does in the browser ------------------------------------------------------------


def only_form(page: httpx.Response, action_part: str) -> Form:
    forms = [form for form in read_forms(page.text) if action_part in form.action]
    assert forms, f"no form to {action_part!r} on {page.url}: {page.text[:500]}"
    return forms[0]


async def submit(browser: httpx.AsyncClient, page: httpx.Response, form: Form, data: dict[str, str]) -> httpx.Response:
    return await browser.post(str(page.url.join(form.action)), data=data)


async def choose_provider(browser: httpx.AsyncClient, page: httpx.Response, title: str) -> httpx.Response:
    """On a bridge page with provider buttons, press the one naming `title`."""
    form = only_form(page, "/login/start")
    return await submit(browser, page, form, form.submission(title))


async def sign_in_at_provider(
    browser: httpx.AsyncClient,
    page: httpx.Response,
    email: str,
    *,
    provider_host: str = "idp.test",
    through_profile: bool = True,
) -> httpx.Response:
    """At the mock's login page pick the test person; give consent when asked.

    Back at the bridge after a binding, the person confirms their workplace data (unless
    `through_profile` is False: the test looks at that page itself).
    """
    assert page.url.host == provider_host, f"expected the provider's login page, got {page.url}"
    persons = next(form for form in read_forms(page.text) if any(b.name == "pick" for b in form.buttons))
    page = await submit(browser, page, persons, {**persons.fields, "pick": email})
    consent = [form for form in read_forms(page.text) if "consent" in form.action]
    if consent:
        page = await submit(browser, page, consent[0], {**consent[0].fields, "decision": "allow"})
    return await past_profile(browser, page) if through_profile else page


PROFILE_PATH = "/login/profile"


async def confirm_profile(browser: httpx.AsyncClient, page: httpx.Response, **values: str) -> httpx.Response:
    """«Проверьте данные о месте работы»: keep what is there, fill what is missing, save and go on."""
    assert page.url.path == PROFILE_PATH, f"expected the profile page, got {page.url}: {page.text[:300]}"
    form = only_form(page, PROFILE_PATH)
    data = dict(form.fields)
    for name, value in data.items():
        if name.startswith("position_") and not value:
            data[name] = "учитель"
    if not data.get("email"):
        data["email"] = "staff@school.test"
    data.update(values)
    return await submit(browser, page, form, {**data, "action": "save"})


async def past_profile(browser: httpx.AsyncClient, page: httpx.Response) -> httpx.Response:
    return await confirm_profile(browser, page) if page.url.path == PROFILE_PATH else page


async def authorization_url(browser: httpx.AsyncClient, page: httpx.Response, title: str) -> str:
    """Press the provider button on a bridge page without following: the URL the bridge sends the browser to."""
    form = only_form(page, "/login/start")
    started = await browser.post(
        str(page.url.join(form.action)), data=form.submission(title), follow_redirects=False
    )
    assert started.status_code == 303, started.text[:500]
    return started.headers["location"]


async def answer_at_provider(browser: httpx.AsyncClient, url: str, email: str) -> dict[str, str]:
    """Sign in at the provider through `url` (login and consent as asked) and return its answer to the
    bridge (code, state, iss) without delivering it: what someone who got hold of the redirect has."""
    step = await browser.get(url, follow_redirects=False)
    for _ in range(10):
        if step.status_code in (302, 303):
            target = step.url.join(step.headers["location"])
            if target.host == "bridge.test":
                return dict(target.params)
            step = await browser.get(target, follow_redirects=False)
            continue
        forms = read_forms(step.text)
        persons = [form for form in forms if any(button.name == "pick" for button in form.buttons)]
        consent = [form for form in forms if "consent" in form.action]
        assert persons or consent, f"neither a login nor a consent page at {step.url}: {step.text[:500]}"
        form, data = (persons[0], {"pick": email}) if persons else (consent[0], {"decision": "allow"})
        step = await browser.post(step.url.join(form.action), data={**form.fields, **data}, follow_redirects=False)
    raise AssertionError("the provider never answered")


async def enter_password(
    browser: httpx.AsyncClient,
    page: httpx.Response,
    login: str,
    password: str = PASSWORD,
    *,
    through_profile: bool = True,
    **extra: str,
) -> httpx.Response:
    form = next(form for form in read_forms(page.text) if "password" in form.fields)
    answer = await submit(browser, page, form, form.submission(login=login, password=password, **extra))
    return await past_profile(browser, answer) if through_profile else answer


async def sign_in_through(browser: httpx.AsyncClient, title: str, email: str, next_url: str = "") -> httpx.Response:
    login_page = await browser.get(f"{BRIDGE}/login" + (f"?next={next_url}" if next_url else ""))
    at_provider = await choose_provider(browser, login_page, title)
    return await sign_in_at_provider(browser, at_provider, email)


SHORT_TTL = timedelta(seconds=0)
