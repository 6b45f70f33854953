"""РСАА routes, mounted under /rsaa."""

from __future__ import annotations

from starlette.routing import Route

from . import authorization, discovery, logout, token, userinfo

routes = [
    Route("/.well-known/openid-configuration", discovery.openid_configuration, methods=["GET"]),
    Route("/jwks", discovery.jwks, methods=["GET"]),
    Route("/authorize", authorization.authorize, methods=["GET"]),
    Route("/login", authorization.login, methods=["POST"]),
    Route("/token", token.token, methods=["POST"]),
    Route("/userinfo", userinfo.userinfo, methods=["GET", "POST"]),
    Route("/logout", logout.end_session_endpoint, methods=["GET", "POST"]),
]
