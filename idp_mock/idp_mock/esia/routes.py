"""ESIA's routes, mounted under /esia."""

from __future__ import annotations

from starlette.routing import Route

from . import authorization, logout, resources, token

routes = [
    Route("/aas/oauth2/v2/ac", authorization.authorize, methods=["GET"]),
    Route("/login", authorization.show_login, methods=["GET"]),
    Route("/login", authorization.login, methods=["POST"]),
    Route("/consent", authorization.consent, methods=["POST"]),
    Route("/aas/oauth2/v3/te", token.token, methods=["POST"]),
    Route("/rs/prns/{oid}", resources.person, methods=["GET"]),
    Route("/rs/prns/{oid}/ctts", resources.contacts, methods=["GET"]),
    Route("/rs/prns/{oid}/ctts/{contact_id}", resources.contact, methods=["GET"]),
    Route("/rs/prns/{oid}/roles", resources.roles, methods=["GET"]),
    Route("/idp/ext/Logout", logout.logout, methods=["GET"]),
]
