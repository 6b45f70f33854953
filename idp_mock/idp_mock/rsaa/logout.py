"""RP-initiated logout for the РСАА (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from gost_jws import decode_jwt

from ..pages import error_page, redirect_to, render
from ..signin import end_session
from ..state import mock_state

PROVIDER = "rsaa"


async def end_session_endpoint(request: Request) -> Response:
    state = mock_state(request)
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    client_id = params.get("client_id")
    hint = params.get("id_token_hint")
    if hint:
        try:
            audience = decode_jwt(hint, state.keys.rsaa.key).claims.get("aud")
        except (JoseError, ValueError):
            return error_page(request, PROVIDER, "Ошибка выхода", "id_token_hint не принят.", code="invalid_request")
        if client_id and client_id != audience:
            return error_page(request, PROVIDER, "Ошибка выхода", "client_id не совпадает с id_token_hint.",
                              code="invalid_request")
        client_id = str(audience)
    target = params.get("post_logout_redirect_uri")
    response: Response
    if target:
        client = state.config.rsaa_client(client_id or "")
        if client is None or target not in client.post_logout_redirect_uris:
            return error_page(request, PROVIDER, "Ошибка выхода",
                              "post_logout_redirect_uri не зарегистрирован для этой системы.", code="invalid_request")
        response = redirect_to(target, {"state": params.get("state")})
    else:
        response = render(request, "logged_out.html", PROVIDER)
    end_session(request, response, PROVIDER)
    return response
