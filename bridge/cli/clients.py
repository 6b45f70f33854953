"""`bridge client ...` and `bridge keys ...`: relying apps and the OpenID Provider's signing keys."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from bridge.application import relying_apps, signing_keys
from bridge.application.relying_apps import NewRelyingApp, RelyingApp
from bridge.application.signing_keys import SigningKeyView
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit, visible
from bridge.config import Settings
from bridge.services.clients import CONFIDENTIAL_AUTH_METHODS, DEFAULT_SCOPE, ID_TOKEN_ALGORITHMS, ClientChanges
from bridge.services.key_encryption import KeyEncryptionKey
from bridge.services.signing_keys import (
    DEFAULT_PUBLISH_AFTER_ROTATION,
    SUPPORTED_ALGORITHMS,
    KeyState,
    SigningKeyPolicy,
)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    client = commands.add_parser("client", help="relying apps that sign people in through the bridge")
    actions = client.add_subparsers(dest="client_command", required=True)

    add = actions.add_parser("add", help="register an app; prints its client_id and secret once")
    add.add_argument("--name", required=True)
    add.add_argument("--redirect-uri", action="append", required=True, metavar="URI", dest="redirect_uris")
    add.add_argument(
        "--post-logout-redirect-uri", action="append", default=[], metavar="URI", dest="post_logout_redirect_uris"
    )
    add.add_argument("--public", action="store_true", help="a public app (no secret; PKCE only)")
    add.add_argument("--auth-method", choices=CONFIDENTIAL_AUTH_METHODS, default="client_secret_basic")
    add.add_argument("--client-id", help="choose the client_id (default: a random one)")
    add.add_argument("--scope", default=DEFAULT_SCOPE, help=f"allowed scopes (default: {DEFAULT_SCOPE!r})")
    add.add_argument(
        "--id-token-alg", choices=ID_TOKEN_ALGORITHMS, default=None,
        help="how the app's id_tokens are signed (default: BRIDGE_SIGNING_ALG)",
    )
    add.add_argument(
        "--web-origin", action="append", default=[], metavar="ORIGIN", dest="web_origins",
        help="an origin whose browser scripts may call the token and userinfo endpoints "
        "(the redirect URIs' origins always may)",
    )
    _backchannel_options(add)
    add.add_argument(
        "--introspect-any", action="store_true",
        help="a resource server: may introspect tokens issued to any app (default: only its own)",
    )
    add.set_defaults(handler=run_add)

    update = actions.add_parser("update", help="change an app's back-channel logout or introspection settings")
    update.add_argument("client_id")
    _backchannel_options(update)
    update.add_argument(
        "--no-backchannel-logout", action="store_const", const="", dest="backchannel_logout_uri",
        help="stop telling the app of ended sessions",
    )
    update.add_argument(
        "--no-session-required", action="store_false", dest="backchannel_logout_session_required",
        help="logout tokens name the person only (sub), not the session",
    )
    update.add_argument("--introspect-any", action="store_true", default=None, dest="introspect_any")
    update.add_argument("--no-introspect-any", action="store_false", dest="introspect_any")
    update.set_defaults(handler=run_update)

    listing = actions.add_parser("list", help="list registered apps")
    listing.set_defaults(handler=run_list)

    secret = actions.add_parser("secret", help="a new client secret, printed once; the old one stops working")
    secret.add_argument("client_id")
    secret.set_defaults(handler=run_secret)

    uris = actions.add_parser("redirect-uris", help="replace an app's redirect URIs (compared exactly)")
    uris.add_argument("client_id")
    uris.add_argument("--redirect-uri", action="append", required=True, metavar="URI", dest="redirect_uris")
    uris.add_argument(
        "--post-logout-redirect-uri", action="append", default=[], metavar="URI", dest="post_logout_redirect_uris"
    )
    uris.set_defaults(handler=run_redirect_uris)

    remove = actions.add_parser("remove", help="disable an app and revoke its refresh tokens")
    remove.add_argument("client_id")
    remove.set_defaults(handler=run_remove)

    keys = commands.add_parser("keys", help="the OpenID Provider's token-signing keys")
    key_actions = keys.add_subparsers(dest="keys_command", required=True)
    rotate = key_actions.add_parser("rotate", help="start signing with a new key; the old one stays published")
    rotate.add_argument(
        "--keep-days", type=int, default=DEFAULT_PUBLISH_AFTER_ROTATION.days,
        help="how long the old key stays in JWKS (days)",
    )
    rotate.add_argument(
        "--alg", choices=SUPPORTED_ALGORITHMS, action="append", dest="algorithms",
        help="rotate only the key of this algorithm (default: every algorithm)",
    )
    rotate.set_defaults(handler=run_rotate)
    key_list = key_actions.add_parser("list", help="list signing keys and the configured key-encryption keys")
    key_list.set_defaults(handler=run_key_list)
    rewrap = key_actions.add_parser(
        "rewrap", help="re-encrypt every signing key under one configured key-encryption key (one transaction)"
    )
    rewrap.add_argument("--to-kek", required=True, metavar="KEK_ID", help="the id shown by `bridge keys list`")
    rewrap.set_defaults(handler=run_rewrap)
    new_kek = key_actions.add_parser("new-kek", help="print a fresh key-encryption key and its id")
    new_kek.set_defaults(handler=run_new_kek)


def _backchannel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backchannel-logout-uri", metavar="URI",
        help="where the bridge POSTs a logout token when a session the app was used in ends",
    )
    parser.add_argument(
        "--backchannel-logout-session-required", action="store_true", default=None,
        help="name the session (sid) in every logout token",
    )


def client_json(app: RelyingApp) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "name": app.name,
        "token_endpoint_auth_method": app.token_endpoint_auth_method,
        "public": app.public,
        "redirect_uris": list(app.redirect_uris),
        "post_logout_redirect_uris": list(app.post_logout_redirect_uris),
        "scope": app.scope,
        "id_token_signed_response_alg": app.id_token_signed_response_alg,
        "web_origins": list(app.web_origins),
        "backchannel_logout_uri": app.backchannel_logout_uri,
        "backchannel_logout_session_required": app.backchannel_logout_session_required,
        "introspect_any": app.introspect_any,
        "created_at": app.created_at.isoformat(),
        "disabled_at": app.disabled_at.isoformat() if app.disabled_at else None,
    }


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    new = NewRelyingApp(
        name=args.name,
        redirect_uris=tuple(args.redirect_uris),
        post_logout_redirect_uris=tuple(args.post_logout_redirect_uris),
        public=args.public,
        auth_method=args.auth_method,
        client_id=args.client_id,
        scope=args.scope,
        id_token_alg=args.id_token_alg,
        web_origins=tuple(args.web_origins),
        backchannel_logout_uri=args.backchannel_logout_uri,
        backchannel_logout_session_required=bool(args.backchannel_logout_session_required),
        introspect_any=args.introspect_any,
    )
    with directory_database(settings) as database:
        registered = relying_apps.register_relying_app(
            database, acting_as(args), new, secret_key=settings.secret_key
        )
    app = registered.app
    lines = [
        f"Приложение «{args.name}» зарегистрировано.",
        f"client_id:     {app.client_id}",
    ]
    if registered.client_secret:
        lines += [
            f"client_secret: {registered.client_secret}",
            "Секрет показывается один раз и нигде не хранится в открытом виде — сохраните его сейчас.",
        ]
    else:
        lines.append("Публичное приложение: без секрета, вход только с PKCE (S256).")
    lines.append(f"Адреса возврата: {', '.join(app.redirect_uris)}")
    emit(args, {"client": client_json(app), "client_secret": registered.client_secret}, "\n".join(lines))
    return 0


def run_update(args: argparse.Namespace, settings: Settings) -> int:
    changes = ClientChanges(
        backchannel_logout_uri=args.backchannel_logout_uri,
        backchannel_logout_session_required=args.backchannel_logout_session_required,
        introspect_any=args.introspect_any,
    )
    with directory_database(settings) as database:
        app = relying_apps.update_relying_app(database, acting_as(args), args.client_id, changes)
    lines = [f"Приложение {app.client_id} изменено."]
    if app.backchannel_logout_uri:
        lines.append(
            f"Уведомления о выходе: {visible(app.backchannel_logout_uri)}"
            + (" (с sid сеанса)" if app.backchannel_logout_session_required else "")
        )
    else:
        lines.append("Уведомления о выходе не отправляются.")
    lines.append("Проверяет токены любых приложений." if app.introspect_any else "Проверяет только свои токены.")
    emit(args, {"client": client_json(app)}, "\n".join(lines))
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        apps = relying_apps.list_relying_apps(database, acting_as(args))
    lines = [
        f"{app.client_id}\t{app.name}\t{app.token_endpoint_auth_method}\t"
        f"{'отключено' if app.disabled_at else 'активно'}\t{' '.join(app.redirect_uris)}"
        for app in apps
    ]
    text = "\n".join(lines) if lines else "Зарегистрированных приложений нет."
    emit(args, {"clients": [client_json(app) for app in apps]}, text)
    return 0


def run_secret(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        renewed = relying_apps.renew_client_secret(
            database, acting_as(args), args.client_id, secret_key=settings.secret_key
        )
    emit(
        args, {"client": client_json(renewed.app), "client_secret": renewed.client_secret},
        f"Новый секрет приложения {renewed.app.client_id}: {renewed.client_secret}\n"
        "Прежний секрет больше не действует. Новый показывается один раз — сохраните его сейчас.",
    )
    return 0


def run_redirect_uris(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        app = relying_apps.change_redirect_uris(
            database, acting_as(args), args.client_id, tuple(args.redirect_uris), tuple(args.post_logout_redirect_uris)
        )
    emit(args, {"client": client_json(app)}, f"Адреса возврата {app.client_id}: {', '.join(app.redirect_uris)}")
    return 0


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        disabled = relying_apps.disable_relying_app(database, acting_as(args), args.client_id)
    revoked = disabled.revoked_refresh_tokens
    emit(
        args, {"client": client_json(disabled.app), "revoked_refresh_tokens": revoked},
        f"Приложение {disabled.app.client_id} отключено; отозвано токенов обновления: {revoked}.",
    )
    return 0


def signing_key_policy(settings: Settings) -> SigningKeyPolicy:
    """BRIDGE_KEY_ENCRYPTION_KEY(_FILE) and BRIDGE_SIGNING_KEY_ROTATION_DAYS, as Settings read them."""
    return settings.signing_keys.policy(settings)


def key_json(key: SigningKeyView) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state,
        "created_at": key.created_at.isoformat(),
        "retired_at": key.retired_at.isoformat() if key.retired_at else None,
        "published_until": key.published_until.isoformat() if key.published_until else None,
        # NULL only for a key stored before encryption at rest, until the next start or `keys rewrap`.
        "kek_id": key.kek_id,
    }


_KEY_STATES = {KeyState.ACTIVE: "подписывает", KeyState.PUBLISHED: "опубликован", KeyState.DROPPED: "снят"}


def run_rotate(args: argparse.Namespace, settings: Settings) -> int:
    keep = timedelta(days=max(args.keep_days, 0))
    algorithms = tuple(dict.fromkeys(args.algorithms or SUPPORTED_ALGORITHMS))
    with directory_database(settings) as database:
        keys = signing_keys.rotate_signing_keys(
            database, acting_as(args), algorithms, keyring=signing_key_policy(settings).keyring, keep_published=keep
        )
    lines = [f"Новый ключ {key.kid} ({key.alg}) подписывает токены." for key in keys]
    lines.append(
        f"Прежние ключи остаются в JWKS {keep.days} дн. Работающие экземпляры моста переключатся в течение минуты."
    )
    emit(args, {"keys": [key_json(key) for key in keys]}, "\n".join(lines))
    return 0


def run_key_list(args: argparse.Namespace, settings: Settings) -> int:
    keyring = signing_key_policy(settings).keyring
    with directory_database(settings) as database:
        keys = signing_keys.list_signing_keys(database, acting_as(args))
    data = [key_json(key) for key in keys]
    for key in data:
        key["kek_configured"] = key["kek_id"] in keyring if key["kek_id"] else None
    keks = [{"id": kek, "primary": kek == keyring.primary_id} for kek in keyring.ids]
    lines = [
        f"{key['kid']}\t{key['alg']}\t{_KEY_STATES[key['state']]}\tсоздан {key['created_at']}"
        + f"\tKEK {key['kek_id'] or 'нет: хранится открыто'}"
        + (" (не настроен)" if key["kek_configured"] is False else "")
        + (f"\tв JWKS до {key['published_until']}" if key["state"] == KeyState.PUBLISHED else "")
        for key in data
    ] or ["Ключей ещё нет: первый создаётся при первом входе."]
    if keyring.development:
        lines.append(f"Ключ шифрования ключей: {keyring.primary_id} — учебный (BRIDGE_KEY_ENCRYPTION_KEY не задан).")
    else:
        lines.append("Ключи шифрования ключей: " + ", ".join(
            f"{kek['id']} (основной)" if kek["primary"] else str(kek["id"]) for kek in keks
        ))
    emit(args, {"keys": data, "key_encryption_keys": keks, "development_kek": keyring.development},
         "\n".join(lines))
    return 0


def run_rewrap(args: argparse.Namespace, settings: Settings) -> int:
    keyring = signing_key_policy(settings).keyring
    with directory_database(settings) as database:
        result = signing_keys.rewrap_signing_keys(database, acting_as(args), keyring, args.to_kek)
    data = {"kek_id": result.kek_id, "rewrapped": result.rewrapped, "unchanged": result.unchanged,
            "primary": result.kek_id == keyring.primary_id}
    lines = [
        f"Перешифровано ключей подписи: {len(result.rewrapped)}; уже под ключом {result.kek_id}: "
        f"{len(result.unchanged)}."
    ]
    if result.kek_id != keyring.primary_id:
        lines.append(
            f"Внимание: новые ключи по-прежнему шифруются ключом {keyring.primary_id} — поставьте {result.kek_id} "
            "первым в BRIDGE_KEY_ENCRYPTION_KEY(_FILE)."
        )
    else:
        lines.append("Прежний ключ шифрования можно убрать из настройки, но не уничтожать, пока живы резервные "
                     "копии, сделанные до перешифрования.")
    emit(args, data, "\n".join(lines))
    return 0


def run_new_kek(args: argparse.Namespace, settings: Settings) -> int:
    kek = KeyEncryptionKey.generate()
    emit(
        args, {"key_encryption_key": kek.to_base64(), "kek_id": kek.id},
        f"{kek.to_base64()}\nИдентификатор: {kek.id}. Храните ключ вне базы данных и вне её резервных копий.",
    )
    return 0
