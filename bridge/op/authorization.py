"""The authorization endpoint: Authlib validates the request; we decide whether the person must
sign in, re-authenticate or choose a role first, and send the browser to the sign-in pages.

Contract with the sign-in pages (they bring the browser back to `next` when done; their paths
come from the route table, see bridge/op/paths.py):
  <login>?next=<path+query>[&provider=<key>][&login_hint=<hint>][&reauth=1][&max_age=<seconds>]
  (reauth=1 and max_age reach the upstream provider: prompt=login / max_age, see bridge/upstream)
  <role choice>?next=<path+query>
  <profile>?next=<path+query>   (the person's required workplace data is missing)
An authorization request that needs a page first is parked on the server (the route's
business, bridge.flows.authorization_request) with the interactions already asked for, and `next`
names only its tab id; so coming back cannot loop, and nothing of the request rides in a cookie.
A sign-in is described by `Outcome.sign_in` too: with a configured provider named by the app the
route sends the browser straight upstream instead of to the login page, and the upstream callback
runs this same decision for the session it has just opened (bridge/routes/relying_app_answer.py).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oidc.core.errors import InteractionRequiredError, LoginRequiredError
from starlette.responses import RedirectResponse

from bridge.op.context import ProviderContext
from bridge.op.error_messages import russian_message
from bridge.op.outcomes import Outcome, Page, SignInNeeded
from bridge.op.request_checks import check_id_token_hint, check_parameters, check_sizes
from bridge.op.requests import StarletteOAuth2Request
from bridge.services import audit
from bridge.services.grantees import AuthorizingSignIn
from bridge.services.staff_profile import missing_fields

# auth_time is the upstream's, in whole seconds and by its clock: an upstream authentication this
# close before we asked still counts as after (the upstream connector holds it to the same leeway).
_AUTH_TIME_LEEWAY_SECONDS = 60


def authorize(
    context: ProviderContext,
    request: StarletteOAuth2Request,
    *,
    return_path: str,
    active: AuthorizingSignIn | None,
    done: dict[str, float],
) -> Outcome:
    server = context.server
    try:
        check_sizes(request)
        grant = server.get_consent_grant(request)
        redirect_uri: str = grant.redirect_uri
        try:
            check_parameters(request)
            check_id_token_hint(context, request, active)
            kind = _interaction_needed(request, active, done, context)
        except OAuth2Error as error:
            # The client and its redirect_uri are known good by now: the app hears of it.
            error.redirect_uri = redirect_uri
            raise
    except OAuth2Error as error:
        error.state = request.payload.state
        _audit_refusal(context, request, error, active)
        if error.redirect_uri:
            return Outcome(response=server.handle_error_response(request, error))
        return Outcome(page=error_page(error))

    if kind is not None:
        prompts = _prompts(request)
        if "none" in prompts or kind in done:
            # prompt=none forbids showing pages; and an interaction we already asked for that
            # came back unfinished is not asked for again (no redirect loop): tell the app.
            error_cls = InteractionRequiredError if kind in ("role", "profile") else LoginRequiredError
            refusal = error_cls(redirect_uri=redirect_uri, state=request.payload.state)
            _audit_refusal(context, request, refusal, active)
            return Outcome(response=server.handle_error_response(request, refusal))
        now = time.time()
        # Whatever the person does on the page we send them to also satisfies what follows it:
        # a fresh sign-in is a re-authentication, and choosing a role is choosing an account.
        satisfied = {"login": ("login", "reauth"), "reauth": ("reauth",), "role": ("role", "select_account")}
        sign_in = _sign_in_needed(request, kind, active) if kind in ("login", "reauth") else None
        return Outcome(
            response=RedirectResponse(_interaction_url(context, return_path, kind, sign_in), status_code=303),
            pending={**done, **dict.fromkeys(satisfied.get(kind, (kind,)), now)},
            sign_in=sign_in,
        )

    # No interaction due: a live session with a current role of the person's, judged in this transaction.
    assert active is not None and active.role is not None
    return Outcome(response=server.create_authorization_response(request, grant_user=active.grantee, grant=grant))


def _prompts(request: StarletteOAuth2Request) -> set[str]:
    return set(str(request.payload.data.get("prompt") or "").split())


def _interaction_needed(
    request: StarletteOAuth2Request,
    active: AuthorizingSignIn | None,
    done: dict[str, float],
    context: ProviderContext,
) -> str | None:
    """Which interaction the person must go through first (its kind); None if a code can be issued."""
    prompts = _prompts(request)
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("'prompt=none' cannot be combined with other values.")
    max_age = _max_age(request)
    if active is None:
        return "login"
    auth_time = active.session.auth_time.timestamp()
    too_old = max_age is not None and context.now.timestamp() - auth_time > max_age
    if "login" in prompts or too_old:
        asked_at = done.get("reauth")
        # Satisfied once the person has signed in again since we asked (a new session), and the
        # upstream authenticated them then rather than from an older session of its own.
        if (
            asked_at is None
            or active.created_at.timestamp() < asked_at
            or auth_time < asked_at - _AUTH_TIME_LEEWAY_SECONDS
        ):
            return "reauth"
    if active.role is None:
        return "role"
    # An app gets no code while the workplace data it would receive as claims is incomplete
    # (a position per active role, a work e-mail): the person completes it and comes back here.
    if missing_fields(context.db, active.staff, context.now, roles=active.grantee.active_roles):
        return "profile"
    if "select_account" in prompts and "select_account" not in done:
        return "select_account"
    return None


def _max_age(request: StarletteOAuth2Request) -> int | None:
    value = request.payload.data.get("max_age")
    if value in (None, ""):
        return None
    try:
        max_age = int(value)
    except (TypeError, ValueError):
        raise InvalidRequestError("'max_age' must be a whole number of seconds.") from None
    if max_age < 0:
        raise InvalidRequestError("'max_age' must not be negative.")
    return max_age


def sign_in_without_session(request: StarletteOAuth2Request) -> SignInNeeded | None:
    """The sign-in `authorize` asks of a browser with no sign-in session (None: it will refuse the
    request): what the route may prepare before the decision, to park it with the decision."""
    try:
        return _sign_in_needed(request, "login", None)
    except OAuth2Error:
        return None


def _sign_in_needed(request: StarletteOAuth2Request, kind: str, active: AuthorizingSignIn | None) -> SignInNeeded:
    """What a sign-in for this request passes on to the upstream (and the login page)."""
    data = request.payload.data
    provider = data.get("idp_hint") or data.get("kc_idp_hint")
    # A fresh login asked for by the app is asked of the upstream too, at the first sign-in as well.
    force_login = kind == "reauth" or "login" in _prompts(request)
    return SignInNeeded(
        provider=str(provider) if provider else None,
        force_login=force_login,
        max_age=_max_age(request),
        login_hint=str(data["login_hint"]) if data.get("login_hint") else None,
        replaces_session=active.session.id if active is not None and force_login else None,
    )


def _interaction_url(context: ProviderContext, return_path: str, kind: str, sign_in: SignInNeeded | None) -> str:
    """The page for an interaction: signing in (again) is the login page, a role the role page,
    missing workplace data the profile page."""
    params: dict[str, str] = {"next": return_path}
    pages = {"profile": context.paths.profile}
    if sign_in is None:
        return f"{pages.get(kind, context.paths.role_choice)}?{urlencode(params)}"
    if sign_in.provider:
        params["provider"] = sign_in.provider
    if sign_in.login_hint:
        params["login_hint"] = sign_in.login_hint
    if sign_in.force_login:
        params["reauth"] = "1"
    if sign_in.max_age is not None:
        params["max_age"] = str(sign_in.max_age)
    return f"{context.paths.login}?{urlencode(params)}"


def error_page(error: OAuth2Error) -> Page:
    # Authlib's description is English, for the app's developer: it is audited, not shown.
    return Page("provider/authorize_error.html", {"message": russian_message(error), "error_code": error.error}, 400)


def _audit_refusal(
    context: ProviderContext, request: StarletteOAuth2Request, error: OAuth2Error, active: AuthorizingSignIn | None
) -> None:
    data = request.payload.data
    audit.record(
        context.db,
        context.audit,
        "oidc.authorize.refused",
        "refused",
        subject_staff_id=active.staff.id if active else None,
        # Truncated: whatever the request carried must not bloat the audit log.
        client_id=str(data.get("client_id") or "")[:100] or None,
        redirect_uri=str(data.get("redirect_uri") or "")[:300] or None,
        error=error.error,
        reason=error.description,
        redirected=bool(error.redirect_uri),
    )
