"""Relying apps registered with the bridge's OpenID Provider, and their secrets.

A client secret is checked on every token call, so it is stored as a keyed HMAC-SHA256
(fast, constant-time comparable), never with the password hash and never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bridge.config import Secret
from bridge.services.errors import Conflict, InvalidInput, NotFound
from bridge.storage.models import OAuthClient
from bridge.storage.types import utcnow

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
SUPPORTED_SCOPES = ("openid", "profile", "email", "phone", "roles")
ID_TOKEN_ALGORITHMS = ("ES256", "RS256")
DEFAULT_SCOPE = "openid profile email phone roles"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,99}$")
# Minted client ids: letters and digits only, so every one passes `check_client_id` (24 × ~5.95 bits).
_MINTED_ID_ALPHABET = string.ascii_letters + string.digits
_MINTED_ID_LENGTH = 24


@dataclass(frozen=True)
class RegisteredClient:
    """A newly registered client; `client_secret` is shown once and never stored."""

    client: OAuthClient
    client_secret: str | None


@dataclass(frozen=True)
class RelyingApp:
    """An enabled relying app as the OpenID Provider reads it at a request."""

    client_id: str
    name: str
    # "client_secret_basic", "client_secret_post" or "none" (public client).
    token_endpoint_auth_method: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    scope: str
    id_token_signed_response_alg: str | None
    secret_hash: str | None = field(repr=False)
    # A resource server: may introspect tokens issued to any app.
    introspect_any: bool = False


def client_secret_digest(secret_key: Secret, client_secret: str) -> str:
    # A key of its own, derived from the bridge's secret, so no other use of the secret collides.
    key = hmac.new(str(secret_key).encode(), b"bridge.oauth-client-secret", hashlib.sha256).digest()
    return hmac.new(key, client_secret.encode(), hashlib.sha256).hexdigest()


def client_secret_matches(secret_key: Secret, client: RelyingApp, client_secret: str) -> bool:
    if client.secret_hash is None:
        return False
    return hmac.compare_digest(client.secret_hash, client_secret_digest(secret_key, client_secret))


def check_redirect_uri(uri: str) -> str:
    """Absolute, no fragment, https unless the app runs on this very machine."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise InvalidInput("bad_redirect_uri", f"Адрес возврата не разобран: {uri}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("bad_redirect_uri", f"Адрес возврата должен быть абсолютным (https://…): {uri}")
    if parts.fragment or "#" in uri:
        raise InvalidInput("bad_redirect_uri", f"В адресе возврата не может быть фрагмента (#): {uri}")
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise InvalidInput(
            "bad_redirect_uri", f"http разрешён только для localhost и 127.0.0.1, иначе https: {uri}"
        )
    return uri


def check_backchannel_logout_uri(uri: str) -> str:
    """Where logout tokens are POSTed: the rules of a redirect URI (Back-Channel Logout 1.0 §2.2)."""
    try:
        return check_redirect_uri(uri)
    except InvalidInput as error:
        raise InvalidInput(
            "bad_backchannel_logout_uri", error.message.replace("Адрес возврата", "Адрес для уведомлений о выходе")
        ) from None


def web_origin(uri: str) -> str | None:
    """The origin (scheme://host[:port]) a browser sends for pages at `uri`; None if it has none."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def check_web_origin(origin: str) -> str:
    """An origin exactly as browsers send it: scheme and host (and port), nothing else."""
    normalized = web_origin(origin)
    if normalized is None or origin.rstrip("/") != normalized:
        raise InvalidInput(
            "bad_web_origin",
            f"Источник (origin) — только схема, хост и порт, например https://app.example.ru: {origin}",
        )
    check_redirect_uri(normalized)
    return normalized


def client_web_origins(client: OAuthClient) -> frozenset[str]:
    """Origins whose scripts may read this app's token and userinfo answers (CORS)."""
    derived = (web_origin(uri) for uri in client.redirect_uris)
    return frozenset(origin for origin in (*derived, *(client.web_origins or [])) if origin)


def cors_origin_allowed(db: Session, origin: str, client_id: str | None) -> bool:
    """Whether `origin` is registered for the app at hand; for a preflight (no app named yet),
    for any enabled app."""
    if client_id:
        client = find_enabled_client(db, client_id)
        if client is not None:
            return origin in client_web_origins(client)
    enabled = db.scalars(select(OAuthClient).where(OAuthClient.disabled_at.is_(None)))
    return any(origin in client_web_origins(client) for client in enabled)


def mint_client_id() -> str:
    """A random client id. (token_urlsafe may start with "-" or "_", which the check refuses.)"""
    return "".join(secrets.choice(_MINTED_ID_ALPHABET) for _ in range(_MINTED_ID_LENGTH))


def check_client_id(client_id: str) -> str:
    if not _CLIENT_ID_PATTERN.fullmatch(client_id):
        raise InvalidInput(
            "bad_client_id", "client_id: от 3 до 100 латинских букв, цифр, точек, дефисов и подчёркиваний."
        )
    return client_id


def register_client(
    db: Session,
    secret_key: Secret,
    *,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    public: bool = False,
    auth_method: str = "client_secret_basic",
    client_id: str | None = None,
    scope: str = DEFAULT_SCOPE,
    id_token_alg: str | None = None,
    web_origins: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    backchannel_logout_session_required: bool = False,
    introspect_any: bool = False,
) -> RegisteredClient:
    if not name.strip():
        raise InvalidInput("bad_client_name", "Укажите название приложения.")
    if not redirect_uris:
        raise InvalidInput("bad_redirect_uri", "Укажите хотя бы один адрес возврата (--redirect-uri).")
    uris = [check_redirect_uri(uri) for uri in redirect_uris]
    logout_uris = [check_redirect_uri(uri) for uri in post_logout_redirect_uris or []]
    if public:
        auth_method = "none"
    elif auth_method not in CONFIDENTIAL_AUTH_METHODS:
        raise InvalidInput(
            "bad_auth_method", "Способ входа приложения: client_secret_basic или client_secret_post."
        )
    unknown_scopes = set(scope.split()) - set(SUPPORTED_SCOPES)
    if unknown_scopes or "openid" not in scope.split():
        raise InvalidInput(
            "bad_scope", f"Области доступа: openid и любые из {', '.join(SUPPORTED_SCOPES[1:])}."
        )
    if id_token_alg is not None and id_token_alg not in ID_TOKEN_ALGORITHMS:
        raise InvalidInput("bad_id_token_alg", "Подпись id_token: ES256 или RS256.")
    origins = list(dict.fromkeys(check_web_origin(origin) for origin in web_origins or []))
    logout_uri = check_backchannel_logout_uri(backchannel_logout_uri) if backchannel_logout_uri else None
    if introspect_any and public:
        raise InvalidInput("public_introspection", "Публичное приложение (без секрета) не может проверять токены.")
    client_id = check_client_id(client_id or mint_client_id())
    if db.scalar(select(OAuthClient.id).where(OAuthClient.client_id == client_id)) is not None:
        raise Conflict("client_exists", f"Приложение с client_id {client_id} уже зарегистрировано.")
    client_secret = None if public else secrets.token_urlsafe(32)
    client = OAuthClient(
        client_id=client_id,
        name=name.strip(),
        secret_hash=client_secret_digest(secret_key, client_secret) if client_secret else None,
        token_endpoint_auth_method=auth_method,
        redirect_uris=uris,
        post_logout_redirect_uris=logout_uris,
        scope=" ".join(dict.fromkeys(scope.split())),
        id_token_signed_response_alg=id_token_alg,
        web_origins=origins,
        backchannel_logout_uri=logout_uri,
        backchannel_logout_session_required=backchannel_logout_session_required,
        introspect_any=introspect_any,
    )
    db.add(client)
    db.flush()
    return RegisteredClient(client=client, client_secret=client_secret)


def find_enabled_client(db: Session, client_id: str) -> OAuthClient | None:
    if not _CLIENT_ID_PATTERN.fullmatch(client_id):
        # No registered id looks like this; and PostgreSQL refuses NUL bytes in a query (a 500).
        return None
    client = db.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None or client.disabled_at is not None:
        return None
    return client


# The columns a RelyingApp holds, of an enabled client: read at every OpenID Provider request,
# so one Core statement built once, its row made into the value directly (no ORM object).
_ENABLED_RELYING_APP = select(
    OAuthClient.client_id,
    OAuthClient.name,
    OAuthClient.token_endpoint_auth_method,
    OAuthClient.redirect_uris,
    OAuthClient.post_logout_redirect_uris,
    OAuthClient.scope,
    OAuthClient.id_token_signed_response_alg,
    OAuthClient.secret_hash,
    OAuthClient.introspect_any,
).where(OAuthClient.client_id == bindparam("client_id"), OAuthClient.disabled_at.is_(None))


def find_relying_app(db: Session, client_id: str) -> RelyingApp | None:
    """An enabled app by its client_id, as the OpenID Provider reads it (nothing cached)."""
    if not _CLIENT_ID_PATTERN.fullmatch(client_id):
        # No registered id looks like this; and PostgreSQL refuses NUL bytes in a query (a 500).
        return None
    row = db.connection().execute(_ENABLED_RELYING_APP, {"client_id": client_id}).first()
    if row is None:
        return None
    return RelyingApp(
        client_id=row.client_id,
        name=row.name,
        token_endpoint_auth_method=row.token_endpoint_auth_method,
        redirect_uris=tuple(row.redirect_uris),
        post_logout_redirect_uris=tuple(row.post_logout_redirect_uris or ()),
        scope=row.scope,
        id_token_signed_response_alg=row.id_token_signed_response_alg,
        secret_hash=row.secret_hash,
        introspect_any=bool(row.introspect_any),
    )


def list_clients(db: Session) -> list[OAuthClient]:
    return list(db.scalars(select(OAuthClient).order_by(OAuthClient.id)))


@dataclass(frozen=True)
class ClientChanges:
    """What `bridge client update` changes; None leaves a value as it is."""

    # "" removes the URI (the app is no longer told of ended sessions).
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool | None = None
    introspect_any: bool | None = None


def update_client(db: Session, client_id: str, changes: ClientChanges) -> OAuthClient:
    client = get_client(db, client_id)
    if changes.backchannel_logout_uri is not None:
        uri = changes.backchannel_logout_uri.strip()
        client.backchannel_logout_uri = check_backchannel_logout_uri(uri) if uri else None
    if changes.backchannel_logout_session_required is not None:
        client.backchannel_logout_session_required = changes.backchannel_logout_session_required
    if changes.introspect_any is not None:
        if changes.introspect_any and client.secret_hash is None:
            raise InvalidInput("public_introspection", "Публичное приложение (без секрета) не может проверять токены.")
        client.introspect_any = changes.introspect_any
    db.flush()
    return client


def get_client(db: Session, client_id: str) -> OAuthClient:
    client = (
        db.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if _CLIENT_ID_PATTERN.fullmatch(client_id) else None
    )
    if client is None:
        raise NotFound("client_not_found", f"Приложение с client_id {client_id} не найдено.")
    return client


def renew_client_secret(db: Session, secret_key: Secret, client_id: str) -> tuple[OAuthClient, str]:
    """A fresh secret for an enabled confidential app; the stored digest replaced, the old secret dead."""
    client = get_client(db, client_id)
    if client.secret_hash is None:
        raise InvalidInput("public_client", "У публичного приложения нет секрета: оно входит только с PKCE.")
    if client.disabled_at is not None:
        raise InvalidInput("client_disabled", "Приложение отключено: новый секрет ему не нужен.")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = client_secret_digest(secret_key, secret)
    db.flush()
    return client, secret


def change_redirect_uris(
    db: Session, client_id: str, redirect_uris: list[str], post_logout_redirect_uris: list[str]
) -> OAuthClient:
    client = get_client(db, client_id)
    if not redirect_uris:
        raise InvalidInput("bad_redirect_uri", "Укажите хотя бы один адрес возврата.")
    client.redirect_uris = list(dict.fromkeys(check_redirect_uri(uri) for uri in redirect_uris))
    client.post_logout_redirect_uris = list(dict.fromkeys(check_redirect_uri(uri) for uri in post_logout_redirect_uris))
    db.flush()
    return client


def disable_client(db: Session, client_id: str, now: datetime | None = None) -> OAuthClient:
    client = get_client(db, client_id)
    if client.disabled_at is None:
        client.disabled_at = now or utcnow()
        db.flush()
    return client
