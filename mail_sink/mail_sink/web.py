"""The inbox page testers read (Russian) and its JSON API for tests."""

from __future__ import annotations

from jinja2 import Environment, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mail_sink.store import Mailbox, ReceivedMail

_PAGES = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

_LAYOUT = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem;
       line-height: 1.5 }
table { border-collapse: collapse; width: 100% }
td, th { text-align: left; padding: .4rem; border-bottom: 1px solid #ccc }
pre { white-space: pre-wrap; background: #f4f4f4; padding: .75rem }
iframe { width: 100%; height: 24rem; border: 1px solid #ccc }
a { color: #0b57d0 } .muted { color: #555 }
</style></head><body>
<h1>{{ title }}</h1>
{{ body }}
</body></html>"""

_INBOX = """<p class="muted">Почтовый ящик для тестирования: здесь все письма, которые отправил мост.
Писем: {{ messages|length }}.</p>
<form method="post" action="/clear"><button>Удалить все письма</button></form>
{% if messages %}<table><tr><th>Получено</th><th>Кому</th><th>Тема</th></tr>
{% for mail in messages %}<tr><td>{{ mail.received_at.strftime("%d.%m.%Y %H:%M:%S") }} UTC</td>
<td>{{ mail.envelope_to|join(", ") }}</td>
<td><a href="/messages/{{ mail.id }}">{{ mail.subject or "(без темы)" }}</a></td></tr>
{% endfor %}</table>{% else %}<p>Писем пока нет.</p>{% endif %}"""

_MESSAGE = """<p><a href="/">← Все письма</a></p>
<p><b>От:</b> {{ mail.sender }}<br><b>Кому:</b> {{ mail.envelope_to|join(", ") }}<br>
<b>Получено:</b> {{ mail.received_at.strftime("%d.%m.%Y %H:%M:%S") }} UTC</p>
<h2>Текст</h2><pre>{{ mail.text }}</pre>
{% if mail.html %}<h2>HTML</h2>
<iframe sandbox="" srcdoc="{{ mail.html }}" title="HTML-версия письма"></iframe>{% endif %}"""


def _page(title: str, body_template: str, status_code: int = 200, **values: object) -> HTMLResponse:
    body = _PAGES.from_string(body_template).render(**values)
    html = _PAGES.from_string(_LAYOUT).render(title=title, body=Markup(body))  # noqa: S704 - rendered with autoescape above
    response = HTMLResponse(html, status_code=status_code)
    # The HTML of a message is shown only in a sandboxed frame; nothing else runs on these pages.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'"
    return response


def _listing(messages: list[ReceivedMail]) -> JSONResponse:
    return JSONResponse({"total": len(messages), "messages": [mail.summary() for mail in messages]})


def build_sink_app(mailbox: Mailbox) -> Starlette:
    async def inbox(request: Request) -> Response:
        return _page("Письма", _INBOX, messages=mailbox.newest_first())

    async def message(request: Request) -> Response:
        mail = mailbox.get(int(request.path_params["message_id"]))
        if mail is None:
            return _page("Письмо не найдено", "<p>Такого письма нет: возможно, ящик очистили.</p>"
                         '<p><a href="/">← Все письма</a></p>', status_code=404)
        return _page(mail.subject or "(без темы)", _MESSAGE, mail=mail)

    async def clear(request: Request) -> Response:
        mailbox.clear()
        return RedirectResponse("/", status_code=303)

    async def api_messages(request: Request) -> Response:
        if request.method == "DELETE":
            mailbox.clear()
            return Response(status_code=200)
        return _listing(mailbox.newest_first())

    async def api_search(request: Request) -> Response:
        # Mailpit's search, the one filter tests use: `query=to:someone@school.test`.
        query = request.query_params.get("query", "")
        recipient = query.removeprefix("to:").strip() if query.startswith("to:") else None
        if recipient is None:
            return JSONResponse({"error": "only query=to:ADDRESS is supported"}, status_code=400)
        return _listing(mailbox.newest_first(recipient))

    async def api_message(request: Request) -> Response:
        raw_id = request.path_params["message_id"]
        mail = mailbox.get(int(raw_id)) if raw_id.isdigit() else None
        if mail is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(mail.as_json())

    return Starlette(routes=[
        Route("/", inbox, methods=["GET"]),
        Route("/messages/{message_id:int}", message, methods=["GET"]),
        Route("/clear", clear, methods=["POST"]),
        Route("/api/v1/messages", api_messages, methods=["GET", "DELETE"]),
        Route("/api/v1/search", api_search, methods=["GET"]),
        Route("/api/v1/message/{message_id}", api_message, methods=["GET"]),
    ])
