"""The Starlette side of Authlib's server: one request wrapper, read fully before the sync core runs.

Authlib's server is synchronous and runs in a worker thread, where the request body can no
longer be awaited; so the query, form and headers are read here once, on the event loop.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from starlette.datastructures import FormData, Headers, QueryParams
from starlette.requests import Request


class StarletteOAuth2Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, query: QueryParams, form: FormData | None) -> None:
        self._query = query
        self._form = form
        data: dict[str, Any] = dict(query)
        datalist: defaultdict[str, list[Any]] = defaultdict(list)
        for key, value in query.multi_items():
            datalist[key].append(value)
        if form is not None:
            for key, field in form.multi_items():
                if isinstance(field, str):
                    data[key] = field
                    datalist[key].append(field)
        self._data = data
        self._datalist = datalist

    @property
    def data(self) -> dict[str, Any]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[Any]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request whose URI is built on the issuer, so a TLS-terminating proxy changes nothing."""

    def __init__(
        self, method: str, uri: str, headers: Headers, query: QueryParams, form: FormData | None
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._query = query
        self._form = form
        self.payload = StarletteOAuth2Payload(query, form)

    @classmethod
    async def read(cls, request: Request, issuer: str) -> StarletteOAuth2Request:
        form = None
        if request.method == "POST":
            content_type = request.headers.get("content-type", "")
            if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                form = await request.form()
        uri = issuer + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return cls(request.method, uri, request.headers, request.query_params, form)

    @classmethod
    def parked(cls, issuer: str, path: str, headers: Headers, params: list[tuple[str, str]]) -> StarletteOAuth2Request:
        """A request rebuilt from parameters parked on the server, as if sent again by GET."""
        query = QueryParams(params)
        uri = issuer + path + (f"?{query}" if params else "")
        return cls("GET", uri, headers, query, None)

    def parameters(self) -> list[tuple[str, str]]:
        """Every parameter as sent (query and form), in order, repeated ones included."""
        return [(name, value) for name, values in self.payload.datalist.items() for value in values]

    @property
    def args(self) -> QueryParams:
        return self._query

    @property
    def raw_form(self) -> FormData | None:
        return self._form

    @property
    def form(self) -> dict[str, str]:
        if self._form is None:
            return {}
        return {key: value for key, value in self._form.items() if isinstance(value, str)}
