"""A stranger guessing a login through the real password form, for tests of lifting the lock."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.testclient import TestClient

THROTTLED = "Слишком много неудачных попыток ввода пароля"
REFUSED_PASSWORD = "Неверный логин или пароль"


def guess_password(app: Starlette, login: str, guesses: int = 1) -> list[str]:
    """POST wrong passwords for `login` at /login/first from a fresh browser; returns each page's text."""
    pages = []
    with TestClient(app, base_url="https://bridge.test") as stranger:
        token = re.search(r'name="csrf_token" value="([^"]+)"', stranger.get("/login/first").text)
        assert token is not None
        for guess in range(guesses):
            data = {"csrf_token": token.group(1), "login": login, "password": f"Wrong-{guess}", "next": ""}
            pages.append(stranger.post("/login/first", data=data).text)
    return pages


def lock_out(app: Starlette, login: str) -> None:
    """Guess until the throttle refuses; the login is then locked for this address."""
    pages = guess_password(app, login, guesses=6)
    assert all(REFUSED_PASSWORD in page for page in pages[:5])
    assert THROTTLED in pages[5]


def is_locked(app: Starlette, login: str) -> bool:
    [page] = guess_password(app, login)
    return THROTTLED in page
