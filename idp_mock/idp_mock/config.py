"""The mock's one configuration value, shared by ``create_app``, the CLI and test fixtures."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from gost_jws import key_fingerprint, load_signer, load_verifier

DEFAULT_PUBLIC_URL = "http://127.0.0.1:9000"
DEFAULT_BRIDGE_URL = "http://127.0.0.1:8000"
DEMO_CLIENT_ID = "bridge-demo"
DEMO_RSAA_SECRET = "bridge-demo-secret"  # noqa: S105 - a published test secret

ESIA_DEFAULT_SCOPES = ("openid", "fullname", "birthdate", "gender", "snils", "inn", "email", "mobile",
                       "contacts", "usr_org")
RSAA_DEFAULT_SCOPES = ("openid", "profile", "email", "phone", "employee", "groups")
RSAA_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

EsiaAlg = Literal["GOST3410_2012_256", "RS256"]


@dataclass(frozen=True)
class EsiaClient:
    """An information system registered in the mock ESIA.

    ``public_key`` is the text form of the key its ``client_secret`` is checked against: GOST JSON
    (``{"kty": "GOST", "crv": ..., "x": ..., "y": ...}``) or an RSA public key / certificate PEM.
    ``certificate_hash`` is what ``client_certificate_hash`` must equal; by default
    ``gost_jws.key_fingerprint`` of the key.
    """

    client_id: str
    redirect_uris: tuple[str, ...]
    public_key: str
    scopes: tuple[str, ...] = ESIA_DEFAULT_SCOPES
    certificate_hash: str | None = None
    # Where /idp/ext/Logout may send the browser back to (redirect_uris are always allowed).
    logout_redirect_uris: tuple[str, ...] = ()
    # False: a simplified (unconfirmed) account is refused with ESIA-007055, as some systems demand.
    allow_untrusted: bool = True

    def __post_init__(self) -> None:
        load_verifier(self.public_key)  # fail at start-up, not at the first request

    @property
    def expected_certificate_hash(self) -> str:
        return (self.certificate_hash or key_fingerprint(load_verifier(self.public_key))).upper()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base_dir: Path | None = None) -> EsiaClient:
        key = data.get("public_key")
        if key is None and "public_key_file" in data:
            key = _read_relative(data["public_key_file"], base_dir)
        if not isinstance(key, str):
            raise ValueError(f"ESIA client {data.get('client_id')!r}: 'public_key' or 'public_key_file' is required")
        return cls(
            client_id=str(data["client_id"]),
            redirect_uris=tuple(data["redirect_uris"]),
            public_key=key,
            scopes=tuple(data.get("scopes", ESIA_DEFAULT_SCOPES)),
            certificate_hash=data.get("certificate_hash"),
            logout_redirect_uris=tuple(data.get("logout_redirect_uris", ())),
            allow_untrusted=bool(data.get("allow_untrusted", True)),
        )


@dataclass(frozen=True)
class RsaaClient:
    """A relying party registered in the mock РСАА (standard OIDC)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_methods: tuple[str, ...] = RSAA_AUTH_METHODS
    post_logout_redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = RSAA_DEFAULT_SCOPES
    require_pkce: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.token_endpoint_auth_methods) - set(RSAA_AUTH_METHODS)
        if unknown or not self.token_endpoint_auth_methods:
            raise ValueError(f"RSAA client {self.client_id!r}: auth methods must be among {RSAA_AUTH_METHODS}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RsaaClient:
        methods = data.get("token_endpoint_auth_methods")
        if methods is None and "token_endpoint_auth_method" in data:
            methods = [data["token_endpoint_auth_method"]]
        return cls(
            client_id=str(data["client_id"]),
            client_secret=str(data["client_secret"]),
            redirect_uris=tuple(data["redirect_uris"]),
            token_endpoint_auth_methods=tuple(methods or RSAA_AUTH_METHODS),
            post_logout_redirect_uris=tuple(data.get("post_logout_redirect_uris", ())),
            scopes=tuple(data.get("scopes", RSAA_DEFAULT_SCOPES)),
            require_pkce=bool(data.get("require_pkce", False)),
        )


@dataclass(frozen=True)
class MockConfig:
    """Everything the mock needs; nothing is read from the environment behind its back."""

    public_base_url: str = DEFAULT_PUBLIC_URL
    # None: the persons.json shipped in the package.
    persons_path: Path | None = None
    esia_clients: tuple[EsiaClient, ...] = ()
    rsaa_clients: tuple[RsaaClient, ...] = ()
    # The id_token / access_token signature alg of the mock ESIA (production: GOST only).
    esia_signing_alg: EsiaAlg = "GOST3410_2012_256"
    # Private keys as text (GOST JSON or RSA PEM; RSAA: RSA PEM). None: generated at start-up.
    esia_signing_key: str | None = field(default=None, repr=False)
    rsaa_signing_key: str | None = field(default=None, repr=False)
    # How far ESIA's `timestamp` may be from the mock's clock, either way.
    timestamp_tolerance_seconds: int = 300
    code_lifetime_seconds: int = 120
    token_lifetime_seconds: int = 3600
    # How long the token_timeout fault holds the answer.
    token_timeout_delay_seconds: float = 30.0
    # Faults queued at start-up: "provider:fault" or "fault" (both providers).
    faults: tuple[str, ...] = ()
    # False: ESIA leaves `nonce` out of the id_token, as production has done since November 2022.
    esia_echo_nonce: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_base_url", self.public_base_url.rstrip("/"))
        if self.esia_signing_key is not None and load_signer(self.esia_signing_key).alg != self.esia_signing_alg:
            raise ValueError("esia_signing_key does not match esia_signing_alg")
        if self.rsaa_signing_key is not None and load_signer(self.rsaa_signing_key).alg != "RS256":
            raise ValueError("rsaa_signing_key must be an RSA private key PEM")
        for clients in (self.esia_clients, self.rsaa_clients):
            ids = [client.client_id for client in clients]
            if len(ids) != len(set(ids)):
                raise ValueError(f"duplicate client_id in {ids}")

    @property
    def esia_issuer(self) -> str:
        return f"{self.public_base_url}/esia/"

    @property
    def rsaa_issuer(self) -> str:
        return f"{self.public_base_url}/rsaa"

    def esia_client(self, client_id: str) -> EsiaClient | None:
        return next((c for c in self.esia_clients if c.client_id == client_id), None)

    def rsaa_client(self, client_id: str) -> RsaaClient | None:
        return next((c for c in self.rsaa_clients if c.client_id == client_id), None)

    def with_clients_file(self, path: Path) -> MockConfig:
        esia, rsaa = load_clients_file(path)
        return replace(self, esia_clients=self.esia_clients + esia, rsaa_clients=self.rsaa_clients + rsaa)

    def with_demo_clients(self, bridge_url: str = DEFAULT_BRIDGE_URL) -> MockConfig:
        esia, rsaa = demo_clients(bridge_url)
        return replace(self, esia_clients=(*self.esia_clients, esia), rsaa_clients=(*self.rsaa_clients, rsaa))


def _read_relative(name: str, base_dir: Path | None) -> str:
    path = Path(name)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path.read_text(encoding="utf-8")


def load_clients_file(path: Path) -> tuple[tuple[EsiaClient, ...], tuple[RsaaClient, ...]]:
    """Read ``{"esia": [...], "rsaa": [...]}``; see docs/idp-mock.md for the fields."""
    data = json.loads(path.read_text(encoding="utf-8"))
    esia = tuple(EsiaClient.from_json(item, path.parent) for item in data.get("esia", ()))
    rsaa = tuple(RsaaClient.from_json(item) for item in data.get("rsaa", ()))
    return esia, rsaa


def demo_esia_public_key() -> str:
    """The demo client's GOST public key. Its private half belongs to the demo (``bridge_demo``), not here."""
    return resources.files("idp_mock").joinpath("demo/bridge-demo-esia-public.json").read_text(encoding="utf-8")


def demo_clients(bridge_url: str = DEFAULT_BRIDGE_URL) -> tuple[EsiaClient, RsaaClient]:
    """``bridge-demo`` in both providers, calling back to ``{bridge_url}/login/callback/{esia|rsaa}``."""
    base = bridge_url.rstrip("/")
    esia = EsiaClient(
        client_id=DEMO_CLIENT_ID,
        redirect_uris=(f"{base}/login/callback/esia",),
        public_key=demo_esia_public_key(),
        logout_redirect_uris=(f"{base}/", f"{base}/logout/done"),
    )
    rsaa = RsaaClient(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_RSAA_SECRET,
        redirect_uris=(f"{base}/login/callback/rsaa",),
        post_logout_redirect_uris=(f"{base}/", f"{base}/logout/done"),
    )
    return esia, rsaa
