"""The demo: the bridge, the mock Gosuslugi/РСАА and a relying app, seeded and wired together.

`prepare_demo` builds everything from scratch in a work folder (a fresh SQLite database, fresh
keys, a providers file) and returns the three ASGI apps, the mail sink and what a newcomer needs to try a first
sign-in. `bridge-demo` (`./dev demo`) serves them with uvicorn; the browser test serves them on free
ports. The mock is a testing tool: it is imported here and in tests, never by the bridge proper.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from mail_sink.store import Mailbox
from mail_sink.web import build_sink_app
from starlette.applications import Starlette
from starlette.routing import Router

from bridge.app import collect_routes, create_app
from bridge.application.registration import RequestForm, submit_registration_request
from bridge.config import OperatorSettings, Secret, Settings
from bridge.mail.settings import MailSettings, SmtpSecurity
from bridge.services.actors import actor_for_login, cli_support_actor
from bridge.services.clients import register_client
from bridge.services.credentials import IssuedCredential
from bridge.services.organizations import NewOrganization, create_organization
from bridge.services.registration_requests import RequestedPosition
from bridge.services.roles import OrganizationKind, Role
from bridge.services.staff import NewStaff, RoleGrant, register_staff
from bridge.storage.database import build_engine, build_sessionmaker, transaction
from bridge.storage.migrate import upgrade
from bridge_demo.relying_app import BACKCHANNEL_LOGOUT_PATH, create_relying_app

if TYPE_CHECKING:
    from idp_mock.persons import Person

DEMO_APP_CLIENT_ID = "kontingent-demo"


@dataclass(frozen=True)
class DemoPerson:
    """A test person of the mock provider, as the newcomer picks them there."""

    full_name: str
    email: str
    password: str


@dataclass(frozen=True)
class DemoStack:
    bridge: Starlette
    mock: Starlette
    relying_app: Starlette
    # The mail sink: every letter the bridge sends lands here (SMTP on `smtp_port`, read at `mail_url`).
    mail_sink: Starlette
    mailbox: Mailbox
    bridge_url: str
    mock_url: str
    app_url: str
    mail_url: str
    smtp_port: int
    director: IssuedCredential = field(repr=False)
    department_head: IssuedCredential = field(repr=False)
    person: DemoPerson
    # A registration request waiting for the director's decision, filed as the public form does.
    applicant: DemoPerson
    requests_url: str
    # The mock's test person whose card the department head's account is.
    head_person: DemoPerson
    # Technical support: the top of the hierarchy (organizations, apps, keys, the audit log).
    support: IssuedCredential = field(repr=False)
    support_person: DemoPerson
    support_url: str
    database_url: str = ""

    def banner(self) -> str:
        return "\n".join(
            [
                "",
                "Демо запущено. Откройте в браузере приложение:",
                f"  «Демо: ИС Контингент»    {self.app_url}",
                f"  Мост (единый вход)       {self.bridge_url}",
                f"  Тестовые Госуслуги/РСАА  {self.mock_url}/_mock/",
                f"  Почта (тестовый ящик)    {self.mail_url}/   (SMTP 127.0.0.1:{self.smtp_port})",
                "",
                "Первый вход директора школы (логин и пароль ИС показываются один раз):",
                f"  логин   {self.director.login}",
                f"  пароль  {self.director.password}",
                "На странице тестовых Госуслуг (или РСАА) выберите человека:",
                f"  {self.person.full_name} — {self.person.email}, пароль {self.person.password}",
                "",
                "Администратор управления образования (выдаёт логины директорам):",
                f"  логин   {self.department_head.login}",
                f"  пароль  {self.department_head.password}",
                f"  на тестовых Госуслугах (РСАА) выберите: {self.head_person.full_name} — {self.head_person.email}, "
                f"пароль {self.head_person.password}",
                f"  страница сотрудников: {self.bridge_url}/admin/staff (после первого входа)",
                "",
                "Техническая поддержка (организации, приложения, ключи, журнал событий):",
                f"  логин   {self.support.login}",
                f"  пароль  {self.support.password}",
                f"  на тестовых Госуслугах (РСАА) выберите: {self.support_person.full_name} — "
                f"{self.support_person.email}, пароль {self.support_person.password}",
                f"  рабочее место поддержки: {self.support_url} (после первого входа)",
                "",
                "Заявка на подключение ждёт решения директора (письмо о ней — в тестовом ящике):",
                f"  {self.applicant.full_name} просит учётную запись сотрудника школы",
                f"  «Заявки»: {self.requests_url} — войдите директором (логин {self.director.login})",
                f"  и одобрите её; ссылка активации придёт в тестовый ящик на {self.applicant.email}",
                "",
                "Командная строка моста (bridge …) работает с базой демо так:",
                f"  BRIDGE_DATABASE_URL={self.database_url} .venv/bin/bridge org list",
                "",
                "Остановить: Ctrl+C",
            ]
        )


def prepare_demo(
    workdir: Path, *, host: str = "127.0.0.1", bridge_port: int = 8000, mock_port: int = 9000, app_port: int = 8001,
    mail_port: int = 8025, smtp_port: int = 1025,
) -> DemoStack:
    from gost_jws import GostPrivateKey, export_private, export_public
    from idp_mock.app import create_app as create_mock_app
    from idp_mock.config import DEMO_CLIENT_ID, DEMO_RSAA_SECRET, MockConfig
    from idp_mock.persons import PersonDirectory, read_persons_text

    bridge_url, mock_url, app_url, mail_url = (
        f"http://{host}:{port}" for port in (bridge_port, mock_port, app_port, mail_port)
    )
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "demo.db"
    for stale in workdir.glob("demo.db*"):
        stale.unlink()

    # ESIA publishes no JWKS: relying systems ship its certificate key, so the demo writes one.
    mock_esia_key = GostPrivateKey.generate()
    (workdir / "esia-provider.json").write_text(export_public(mock_esia_key), encoding="utf-8")
    (workdir / "esia-client.json").write_text(demo_esia_private_key(), encoding="utf-8")
    (workdir / "providers.toml").write_text(
        _providers_toml(mock_url, DEMO_CLIENT_ID, DEMO_RSAA_SECRET), encoding="utf-8"
    )
    mock_config = MockConfig(
        public_base_url=mock_url, esia_signing_key=export_private(mock_esia_key)
    ).with_demo_clients(bridge_url)

    settings = Settings(
        environment="development",
        secret_key=Secret(secrets.token_urlsafe(48)),
        database_url=f"sqlite:///{database}",
        public_url=bridge_url,
        providers_file=workdir / "providers.toml",
        mail=MailSettings(host=host, port=smtp_port, security=SmtpSecurity.NONE,
                          sender="Мост идентификации (демо) <no-reply@bridge.demo>"),
        # The footer every page shows in production, filled so the demo shows it too.
        operator=OperatorSettings(
            name="Демонстрационный оператор моста", support_phone="+7 495 000-00-00",
            support_email="support@bridge.demo",
            privacy_text="Это демонстрационный стенд: все люди и организации в нём вымышлены.\n\n"
                         "В настоящей установке здесь — уведомление оператора об обработке персональных данных.",
        ),
    )
    engine = build_engine(settings.database_url)
    upgrade(engine)
    factory = build_sessionmaker(engine)
    persons = PersonDirectory.from_text(read_persons_text(None))
    morozov = next(p for p in persons.all() if p.email == "a.morozov@sosh12-podolsk.ru")
    popova = next(p for p in persons.all() if p.email == "popova.os@sosh12-podolsk.ru")
    novikov = next(p for p in persons.all() if p.email == "novikov@uo-podolsk.ru")
    belova = next(p for p in persons.all() if p.email == "belova.sn@bridge.demo")
    with transaction(factory) as db:
        support = cli_support_actor()
        operator = create_organization(
            db,
            support.audit_context,
            NewOrganization(name="Техническая поддержка моста (демо)", kind=OrganizationKind.SUPPORT.value),
        )
        support_account = register_staff(
            db,
            support,
            _card_of(belova, RoleGrant(operator.id, Role.SUPPORT.value, date.today())),
            credential_ttl=settings.credential_ttl,
        )
        department = create_organization(
            db,
            support.audit_context,
            NewOrganization(
                name="Управление образования г. Подольска",
                kind=OrganizationKind.EDUCATION_DEPARTMENT.value,
                district="Подольск",
            ),
        )
        school = create_organization(
            db,
            support.audit_context,
            NewOrganization(
                name="МОУ «СОШ № 12» г. Подольска",
                kind=OrganizationKind.SCHOOL.value,
                district="Подольск",
                parent_id=department.id,
            ),
        )
        head = register_staff(
            db,
            support,
            _card_of(novikov, RoleGrant(department.id, Role.EDUCATION_DEPARTMENT.value, date.today())),
            credential_ttl=settings.credential_ttl,
        )
        # The department issues its director's login, as the hierarchy says.
        director = register_staff(
            db,
            actor_for_login(db, head.credential.login),
            _card_of(morozov, RoleGrant(school.id, Role.SCHOOL_DIRECTOR.value, date.today())),
            credential_ttl=settings.credential_ttl,
        )
        school_id = school.id
        app_client = register_client(
            db,
            settings.secret_key,
            name="Демо: ИС Контингент",
            client_id=DEMO_APP_CLIENT_ID,
            redirect_uris=[f"{app_url}/callback"],
            post_logout_redirect_uris=[f"{app_url}/logged-out"],
            scope="openid profile email phone roles",
            # The demo hears of sign-outs, blocks and resets at the bridge (Back-Channel Logout 1.0).
            backchannel_logout_uri=f"{app_url}{BACKCHANNEL_LOGOUT_PATH}",
            backchannel_logout_session_required=True,
        )
    routes = Router(routes=collect_routes())
    requests_url = bridge_url + str(routes.url_path_for("admin_requests"))
    support_url = bridge_url + str(routes.url_path_for("support_queue"))
    # Through the public form's use case: the director's letter about it waits in the outbox and
    # reaches the demo mailbox once the bridge starts.
    submit_registration_request(
        factory, None,
        RequestForm(
            surname=popova.last_name, name=popova.first_name, patronymic=popova.middle_name,
            no_patronymic=popova.middle_name is None, organization_id=school_id, position="учитель математики",
            email=popova.email, requested=RequestedPosition.EMPLOYEE.value,
        ),
        requests_page=requests_url,
    )
    engine.dispose()
    assert app_client.client_secret is not None
    mailbox = Mailbox()

    return DemoStack(
        bridge=create_app(settings),
        mock=create_mock_app(mock_config),
        relying_app=create_relying_app(
            issuer=bridge_url,
            client_id=DEMO_APP_CLIENT_ID,
            client_secret=app_client.client_secret,
            redirect_uri=f"{app_url}/callback",
            secret_key=secrets.token_urlsafe(32),
        ),
        mail_sink=build_sink_app(mailbox),
        mailbox=mailbox,
        bridge_url=bridge_url,
        mock_url=mock_url,
        app_url=app_url,
        mail_url=mail_url,
        smtp_port=smtp_port,
        director=director.credential,
        department_head=head.credential,
        person=DemoPerson(
            full_name=morozov.full_name,
            email=morozov.email,
            password=persons.default_password,
        ),
        applicant=DemoPerson(full_name=popova.full_name, email=popova.email, password=persons.default_password),
        requests_url=requests_url,
        head_person=DemoPerson(
            full_name=novikov.full_name, email=novikov.email, password=persons.default_password,
        ),
        support=support_account.credential,
        support_person=DemoPerson(full_name=belova.full_name, email=belova.email, password=persons.default_password),
        support_url=support_url,
        database_url=settings.database_url,
    )


def demo_esia_private_key() -> str:
    """The demo bridge's ESIA client key (GOST, test only, published on purpose).

    The mock registers its public half (``idp_mock.config.demo_esia_public_key``); it lives in this
    distribution so that neither the bridge's image nor the mock holds a private key.
    """
    return resources.files("bridge_demo").joinpath("keys/bridge-demo-esia-key.json").read_text(encoding="utf-8")


def _card_of(person: Person, grant: RoleGrant) -> NewStaff:
    """A staff card for a mock test person, so their Gosuslugi identity matches the card."""
    return NewStaff(
        surname=person.last_name,
        name=person.first_name,
        patronymic=person.middle_name,
        no_patronymic=person.middle_name is None,
        grant=grant,
        # Notices (a new binding, say) reach the demo's mailbox; the position is left for the person.
        email=person.email,
    )


def _providers_toml(mock_url: str, client_id: str, rsaa_secret: str) -> str:
    return f"""# Written by `bridge-demo`: the mock Gosuslugi and РСАА on {mock_url}.
[[provider]]
key = "esia"
kind = "esia"
title = "Госуслуги"
base_url = "{mock_url}/esia"
issuer = "{mock_url}/esia/"
client_id = "{client_id}"
scope = "openid fullname snils email"
client_key_file = "esia-client.json"
provider_key_file = "esia-provider.json"

[[provider]]
key = "rsaa"
kind = "oidc"
title = "РСАА"
issuer = "{mock_url}/rsaa"
client_id = "{client_id}"
client_secret = "{rsaa_secret}"
auth_method = "client_secret_basic"
scope = "openid profile email"
"""
