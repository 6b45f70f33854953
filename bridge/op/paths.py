"""Where the OpenID Provider's endpoints and the sign-in pages are: the route table's paths.

The OP knows no paths of its own. The route that builds it passes these, resolved by name, so a
path changes in one place (bridge/routes/) and discovery, tokens and redirects follow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderPaths:
    authorize: str
    token: str
    userinfo: str
    jwks: str
    end_session: str
    # The sign-in pages the authorization endpoint sends a person to (they bring them back).
    login: str
    role_choice: str
    # «Проверьте данные о месте работы»: a signed-in person whose required workplace data is missing.
    profile: str
