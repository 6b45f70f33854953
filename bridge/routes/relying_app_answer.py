"""The OpenID Provider as the routes share it, and the upstream callback's answer to a waiting app.

A returning sign-in that a relying app started (its request parked under a tab id, the sign-in's
`next` naming that tab) needs no second visit to /oidc/authorize when no page of ours is due:
the callback takes the parked request and runs the endpoint's own authorization decision
(bridge.op.authorization.authorize) in the sign-in's transaction, and redirects to the app.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bridge.application.signin import SessionStarted
from bridge.flows import authorization_request
from bridge.flows.signin import AnswerApp
from bridge.op.openid_provider import OpenIDProvider
from bridge.op.outcomes import Outcome, Page
from bridge.op.paths import ProviderPaths
from bridge.op.requests import StarletteOAuth2Request
from bridge.routes.dependencies import signin_dependencies
from bridge.services.grantees import AuthorizingSignIn
from bridge.services.signin_sessions import ActiveRoles
from bridge.web.browser import browser_id
from bridge.web.context import client_address, runtime_of
from bridge.web.templating import render
from bridge.web.urls import path_for

_PROVIDER_KEY = "openid_provider"


def provider_of(request: Request) -> OpenIDProvider:
    runtime = runtime_of(request)
    provider = runtime.extras.get(_PROVIDER_KEY)
    if not isinstance(provider, OpenIDProvider):
        provider = OpenIDProvider(runtime.settings, runtime.db, _paths(request), runtime.signing_keys)
        runtime.extras[_PROVIDER_KEY] = provider
    return provider


def _paths(request: Request) -> ProviderPaths:
    return ProviderPaths(
        authorize=path_for(request, "oidc_authorize"),
        token=path_for(request, "oidc_token"),
        userinfo=path_for(request, "oidc_userinfo"),
        jwks=path_for(request, "oidc_jwks"),
        end_session=path_for(request, "oidc_logout"),
        revocation=path_for(request, "oidc_revoke"),
        introspection=path_for(request, "oidc_introspect"),
        login=path_for(request, "login"),
        role_choice=path_for(request, "login_role"),
        profile=path_for(request, "login_profile"),
    )


def render_page(request: Request, page: Page) -> Response:
    return render(request, page.template, page.context, status_code=page.status_code)


def as_response(request: Request, outcome: Outcome) -> Response:
    """The provider's answer for the browser: its page, or its redirect (never cached)."""
    if outcome.page is not None:
        return render_page(request, outcome.page)
    assert outcome.response is not None
    outcome.response.headers["Cache-Control"] = "no-store"
    return outcome.response


def as_response_to_post(request: Request, outcome: Outcome) -> Response:
    """`as_response` answering a form: its redirect a 303, so the browser follows it with a GET."""
    response = as_response(request, outcome)
    if response.status_code == 302:
        response.status_code = 303
    return response


def parked_tab(authorize_path: str, next_url: str) -> str | None:
    """The tab id when `next` is the authorization endpoint resuming a parked request, else None."""
    parts = urlsplit(next_url)
    query = parse_qsl(parts.query)
    if parts.path != authorize_path or len(query) != 1:
        return None
    name, value = query[0]
    return value if name == authorization_request.TAB_PARAMETER else None


def answering_app(request: Request) -> AnswerApp:
    """What the upstream callback hands the sign-in flow: the app's answer, in its transaction.

    Takes the parked request (the same single DELETE … RETURNING as the endpoint's return) and
    decides as the endpoint would for the session just opened; a page still due (select_account)
    parks the request again under its tab, as the endpoint does. None when `next` is not a parked
    request or the request is gone: the browser goes on to `next` as before.
    """
    answer = _answer(request)

    def answer_started(db: Session, started: SessionStarted, next_url: str) -> Outcome | None:
        # The session just opened, as its transaction wrote it: decided on without reading it back.
        return answer(db, started.signin_session_id, next_url, None, started.authorizing)

    # Keys are loaded (or created) in a transaction of their own, before the sign-in's begins.
    return AnswerApp(prepare=provider_of(request).ready, answer=answer_started)


# (db, the signed-in session's id, the parked `next`, the person's active roles when the caller's
# transaction has just read them, else None) → the app's answer, or None to go on to `next`.
AppAnswer = Callable[[Session, str, str, ActiveRoles | None], Outcome | None]


def app_answer(request: Request) -> AppAnswer:
    """`answering_app` for the signed-in session named: also what a page of ours the person leaves
    signed in (the workplace-data page) runs in its own transaction, rather than a redirect back to
    the endpoint (`next`) that would take the same parked request and decide the same.

    The caller runs `provider_of(request).ready()` first, before its transaction begins.
    """
    answer = _answer(request)

    def answer_signed_in(
        db: Session, signin_session_id: str, next_url: str, roles: ActiveRoles | None
    ) -> Outcome | None:
        return answer(db, signin_session_id, next_url, roles, None)

    return answer_signed_in


def _answer(
    request: Request,
) -> Callable[[Session, str, str, ActiveRoles | None, AuthorizingSignIn | None], Outcome | None]:
    """`app_answer`'s work; `opened` is the session the caller's transaction has just opened, as
    it wrote it (`grantees.opened_signin`), else None and the session is read in that transaction."""
    provider = provider_of(request)
    dependencies = signin_dependencies(request)
    browser = browser_id(request)
    address = client_address(request)
    authorize_path = path_for(request, "oidc_authorize")

    def answer(
        db: Session, signin_session_id: str, next_url: str, roles: ActiveRoles | None, opened: AuthorizingSignIn | None
    ) -> Outcome | None:
        tab_id = parked_tab(authorize_path, next_url)
        parked = authorization_request.take_within(db, browser, tab_id) if tab_id is not None else None
        if tab_id is None or parked is None:
            return None
        oauth_request = StarletteOAuth2Request.parked(provider.issuer, authorize_path, request.headers, parked.params)
        outcome = provider.authorize_within(
            db, oauth_request, address, return_path=next_url, signin_session_id=signin_session_id,
            done=parked.done, roles=roles, opened=opened,
        )
        if outcome.pending is not None:
            waiting = authorization_request.ParkedAuthorization(parked.params, outcome.pending, parked.until)
            authorization_request.keep_within(db, dependencies, browser, tab_id, waiting)
        return outcome

    return answer
