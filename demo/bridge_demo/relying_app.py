"""«Демо: ИС Контингент»: a tiny relying app that signs in through the bridge with Authlib's OIDC client.

It does what a real app should: discovery, PKCE S256, state, nonce, id_token checks (signature
against JWKS, iss, aud, exp, nonce), userinfo, RP-initiated logout, and Back-Channel Logout 1.0:
the bridge POSTs a logout token to `/backchannel-logout` when the person's session ends there
(sign-out, block, reset…), and the demo ends its own session of that person. Everything it needs is
built inside `create_relying_app`; the outbound HTTP client can be injected (tests route it to
the bridge in-process).
"""

from __future__ import annotations

import json
import secrets
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

with warnings.catch_warnings():
    # Authlib 1.9 asks for httpx2 and warns, in English, at the first import of its httpx
    # integration; the project's client is httpx (its stack), so `./dev demo` stays quiet. Authlib
    # puts an "always" filter first when its `deprecate` module loads: ours goes in after that.
    import authlib.deprecate  # noqa: F401

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.starlette_client import OAuth, OAuthError

TITLE = "Демо: ИС Контингент"
_SESSION_KEY = "demo_user"
BACKCHANNEL_LOGOUT_PATH = "/backchannel-logout"
_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"

_TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# How the bridge says a person was authenticated (`acr`), as a person reads it: never the raw URN.
_ACR_TITLES = {
    "urn:edu-bridge:idp:esia": "через Госуслуги (ЕСИА)",
    "urn:edu-bridge:idp:rsaa": "через РСАА",
}


def _role_title(role: object) -> str | None:
    """The role's Russian name from the `role` claim (the bridge sends it as `title`), never its code."""
    if not isinstance(role, dict):
        return None
    title = role.get("title")
    if not isinstance(title, str) or not title or title == role.get("code"):
        return "роль без названия"
    return title + (" (руководитель)" if role.get("is_head") else "")


class _ClientTransport(httpx.AsyncBaseTransport):
    """Sends Authlib's requests through an injected httpx client (and whatever transport it has)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._client.send(request, stream=True)


def create_relying_app(
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    http: httpx.AsyncClient | None = None,
    secret_key: str,
    post_logout_redirect_uri: str | None = None,
    scope: str = "openid profile email phone roles",
) -> Starlette:
    issuer = issuer.rstrip("/")
    parts = urlsplit(redirect_uri)
    post_logout_redirect_uri = post_logout_redirect_uri or f"{parts.scheme}://{parts.netloc}/logged-out"
    client_kwargs: dict[str, Any] = {"scope": scope, "code_challenge_method": "S256"}
    if http is not None:
        client_kwargs["transport"] = _ClientTransport(http)
    oauth = OAuth()
    bridge = oauth.register(
        name="bridge",
        client_id=client_id,
        client_secret=client_secret or None,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    templates = Environment(loader=FileSystemLoader(_TEMPLATES_DIR), autoescape=select_autoescape(["html"]))
    # Who is signed in, per browser: kept here rather than in the cookie (tokens are large).
    signed_in: dict[str, dict[str, Any]] = {}

    def page(request: Request, status_code: int = 200, **values: Any) -> HTMLResponse:
        html = templates.get_template("page.html").render(title=TITLE, **values)
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})

    def current(request: Request) -> dict[str, Any] | None:
        key = request.session.get(_SESSION_KEY)
        return signed_in.get(key) if isinstance(key, str) else None

    async def home(request: Request) -> Response:
        user = current(request)
        if user is None:
            return page(request, logged_out=request.query_params.get("logged_out") == "1")
        return page(
            request,
            user=user["claims"],
            acr_title=_ACR_TITLES.get(str(user["claims"].get("acr", "")), user["claims"].get("acr")),
            role_title=_role_title(user["claims"].get("role")),
            claims_json=json.dumps(user["claims"], ensure_ascii=False, indent=2),
            userinfo_json=json.dumps(user["userinfo"], ensure_ascii=False, indent=2) if user["userinfo"] else "",
        )

    async def login(request: Request) -> Response:
        try:
            response: Response = await bridge.authorize_redirect(request, redirect_uri)
        except (httpx.HTTPError, OAuthError, ValueError):
            return page(request, 502, error="Единый вход сейчас недоступен. Попробуйте позже.")
        return response

    async def callback(request: Request) -> Response:
        try:
            token = await bridge.authorize_access_token(request)
        except OAuthError as error:
            message = "Вход не выполнен"
            if error.error in ("login_required", "interaction_required"):
                message = "Нужно войти в единый вход."
            elif error.error == "access_denied":
                message = "Вход отклонён."
            return page(request, 400, error=f"{message} ({error.error})")
        except (httpx.HTTPError, ValueError):
            return page(request, 502, error="Единый вход не ответил. Попробуйте ещё раз.")
        claims = dict(token.get("userinfo") or {})
        if not claims:
            return page(request, 400, error="Единый вход не прислал id_token.")
        try:
            userinfo: dict[str, Any] = dict(await bridge.userinfo(token=token))
        except (httpx.HTTPError, OAuthError, ValueError):
            userinfo = {}
        key = secrets.token_urlsafe(24)
        signed_in[key] = {"claims": claims, "userinfo": userinfo, "id_token": token["id_token"]}
        request.session[_SESSION_KEY] = key
        return RedirectResponse("/", status_code=303)

    seen_jti: set[str] = set()

    async def backchannel_logout(request: Request) -> Response:
        """Back-Channel Logout 1.0 §2.6: validate the logout token, then end the person's sessions here."""
        form = await request.form()
        token = form.get("logout_token")
        try:
            if not isinstance(token, str):
                raise ValueError("no logout_token")
            claims = await _validated_logout_token(token)
        except (JoseError, ValueError, httpx.HTTPError):
            return Response(status_code=400, headers={"Cache-Control": "no-store"})
        sid = claims.get("sid")
        for key, user in list(signed_in.items()):
            if user["claims"].get("sub") == claims.get("sub") and (sid is None or user["claims"].get("sid") == sid):
                signed_in.pop(key, None)
        return Response(status_code=200, headers={"Cache-Control": "no-store"})

    async def _validated_logout_token(token: str) -> dict[str, Any]:
        metadata = await bridge.load_server_metadata()
        try:
            decoded = jwt.decode(token, KeySet.import_key_set(await bridge.fetch_jwk_set()))
        except JoseError:
            # Perhaps a key rotated since we fetched them.
            decoded = jwt.decode(token, KeySet.import_key_set(await bridge.fetch_jwk_set(force=True)))
        claims = dict(decoded.claims)
        audience = claims.get("aud")
        checks = (
            decoded.header.get("typ") == "logout+jwt",
            claims.get("iss") == metadata.get("issuer"),
            audience == client_id or (isinstance(audience, list) and client_id in audience),
            isinstance(claims.get("exp"), int) and claims["exp"] > time.time(),
            isinstance(claims.get("iat"), int),
            isinstance(claims.get("events"), dict) and _LOGOUT_EVENT in claims["events"],
            "nonce" not in claims,
            isinstance(claims.get("sub"), str) or isinstance(claims.get("sid"), str),
            isinstance(claims.get("jti"), str) and claims["jti"] not in seen_jti,
        )
        if not all(checks):
            raise ValueError("not a valid logout token")
        seen_jti.add(claims["jti"])
        return claims

    async def logout(request: Request) -> Response:
        key = request.session.pop(_SESSION_KEY, None)
        user = signed_in.pop(key, None) if isinstance(key, str) else None
        if user is None:
            return RedirectResponse("/", status_code=303)
        response: Response = await bridge.logout_redirect(
            request,
            post_logout_redirect_uri=post_logout_redirect_uri,
            id_token_hint=user["id_token"],
            client_id=client_id,
        )
        return response

    async def logged_out(request: Request) -> Response:
        try:
            await bridge.validate_logout_response(request)
        except OAuthError:
            return page(request, 400, error="Ответ о выходе не прошёл проверку.")
        return RedirectResponse("/?logged_out=1", status_code=303)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route(urlsplit(redirect_uri).path or "/callback", callback),
            Route("/logout", logout),
            Route(BACKCHANNEL_LOGOUT_PATH, backchannel_logout, methods=["POST"]),
            Route(urlsplit(post_logout_redirect_uri).path or "/logged-out", logged_out),
        ],
        middleware=[
            Middleware(
                SessionMiddleware, secret_key=secret_key, session_cookie="demo_session", same_site="lax",
                https_only=parts.scheme == "https",
            )
        ],
    )
