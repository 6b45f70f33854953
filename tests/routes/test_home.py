from __future__ import annotations

from starlette.testclient import TestClient


def test_front_page_sends_a_stranger_to_sign_in(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_unknown_page_is_a_calm_russian_404(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Страница не найдена" in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
