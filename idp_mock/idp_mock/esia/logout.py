"""/idp/ext/Logout: ends the ESIA session and returns to a registered ``redirect_url``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..pages import error_page, render
from ..signin import end_session
from ..state import mock_state

PROVIDER = "esia"


async def logout(request: Request) -> Response:
    config = mock_state(request).config
    client_id = request.query_params.get("client_id")
    redirect_url = request.query_params.get("redirect_url")
    clients = [config.esia_client(client_id)] if client_id else list(config.esia_clients)
    allowed = {uri for client in clients if client for uri in client.redirect_uris + client.logout_redirect_uris}
    response: Response
    if redirect_url and redirect_url in allowed:
        response = RedirectResponse(redirect_url, status_code=302)
    elif redirect_url:
        response = error_page(request, PROVIDER, "Вы вышли из Госуслуг",
                              "Адрес возврата не зарегистрирован для этой системы, поэтому переход не выполнен.",
                              code="ESIA-007023")
    else:
        response = render(request, "logged_out.html", PROVIDER)
    end_session(request, response, PROVIDER)
    return response
