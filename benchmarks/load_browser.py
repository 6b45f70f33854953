"""A scripted browser and relying app for benchmarks/signin_load.py: one person's sign-in through the pages.

The browser follows redirects itself and answers whatever page it meets the way a person would:
the mock provider's person picker and consent, the bridge's password (binding) page, the
workplace-data page and the role page, and the Node peer's login and consent pages. The relying
app's part is the code exchange at the token endpoint (client_secret_basic, PKCE) and one
userinfo call, so a «flow» is everything an app and a browser do for one sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.html_forms import Form, read_forms

MAX_STEPS = 25


@dataclass(frozen=True)
class RelyingApp:
    bridge_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str = "openid profile email roles"
    # Where the provider serves its endpoints: the bridge's and the Node peer's paths by default;
    # SATOSA's frontend has its own (benchmarks/satosa_peer.py).
    authorize_path: str = "/oidc/authorize"
    token_path: str = "/oidc/token"  # noqa: S105 - a path, not a password
    userinfo_path: str = "/oidc/userinfo"


@dataclass(frozen=True)
class Person:
    login: str
    password: str
    email: str


class FlowError(Exception):
    """A sign-in that did not end with the app holding the person's claims."""


async def sign_in(
    browser: httpx.AsyncClient, app: RelyingApp, person: Person, *, provider: str | None = "rsaa"
) -> float:
    """One whole sign-in; returns its wall time in seconds."""
    started = time.perf_counter()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code", "client_id": app.client_id, "redirect_uri": app.redirect_uri,
        "scope": app.scope, "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge, "code_challenge_method": "S256",
    }
    if provider:
        query["idp_hint"] = provider
    code = await _browse_to_code(browser, f"{app.bridge_url}{app.authorize_path}?{urlencode(query)}", app, person)
    token = await browser.post(
        f"{app.bridge_url}{app.token_path}",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri,
              "code_verifier": verifier},
        auth=(app.client_id, app.client_secret),
    )
    if token.status_code != 200:
        raise FlowError(f"token {token.status_code}: {token.text[:200]}")
    userinfo = await browser.get(
        f"{app.bridge_url}{app.userinfo_path}", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    if userinfo.status_code != 200 or "sub" not in userinfo.json():
        raise FlowError(f"userinfo {userinfo.status_code}: {userinfo.text[:200]}")
    return time.perf_counter() - started


async def _browse_to_code(browser: httpx.AsyncClient, url: str, app: RelyingApp, person: Person) -> str:
    response = await browser.get(url)
    for _ in range(MAX_STEPS):
        if response.status_code in (301, 302, 303, 307):
            target = str(response.url.join(response.headers["location"]))
            if target.startswith(app.redirect_uri):
                params = parse_qs(urlsplit(target).query)
                if "code" not in params:
                    raise FlowError(f"the app got no code: {target}")
                return params["code"][0]
            response = await browser.get(target)
            continue
        if response.status_code != 200:
            raise FlowError(f"{response.status_code} at {response.url.path}: {page_text(response.text)}")
        form, data = _answer(response, person)
        target = str(response.url.join(form.action))
        if form.method == "post":
            response = await browser.post(target, data=data)
        else:
            response = await browser.get(target, params=data)
    raise FlowError(f"no code after {MAX_STEPS} steps")


def _answer(page: httpx.Response, person: Person) -> tuple[Form, dict[str, str]]:
    """What a person submits on this page."""
    forms = read_forms(page.text)
    for form in forms:
        if any(button.name == "pick" for button in form.buttons):
            return form, {**form.fields, "pick": person.email}
    for form in forms:
        if "consent" in form.action:
            return form, {**form.fields, "decision": "allow"}
        if form.fields.get("prompt") == "consent":
            # oidc-provider's development consent page (the Node peer): one "Continue" button.
            return form, dict(form.fields)
        if "password" in form.fields and "login" in form.fields:
            return form, form.submission(login=person.login, password=person.password)
        if form.action.endswith("/login/profile"):
            data = dict(form.fields)
            for name, value in data.items():
                if name.startswith("position_") and not value:
                    data[name] = "учитель"
            data["email"] = data.get("email") or person.email
            return form, {**data, "action": "save"}
        if form.action.endswith("/login/role") and form.buttons:
            button = form.buttons[0]
            return form, {**form.fields, **({button.name: button.value} if button.name else {})}
    raise FlowError(f"no known form at {page.url}: {[f.action for f in forms]} {page.text[:300]}")


def page_text(html: str) -> str:
    """The words of a page's body, briefly: what a person would read in an error page."""
    body = html.split("<body", 1)[-1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())[:240]


def forget_bridge(browser: httpx.AsyncClient, bridge_host: str) -> None:
    """Drop the bridge's cookies (a returning person in a fresh browser), keep the provider's."""
    jar = browser.cookies.jar
    for cookie in list(jar):
        if cookie.domain.lstrip(".").startswith(bridge_host):
            jar.clear(cookie.domain, cookie.path, cookie.name)
