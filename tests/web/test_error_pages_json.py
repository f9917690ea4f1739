"""Machine endpoints answer errors in JSON even to a client that also accepts HTML
(RFC 6749 5.2: the token endpoint's error response is JSON)."""

from __future__ import annotations

from fastapi.testclient import TestClient

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_token_errors_are_json_even_when_html_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/token", data={"grant_type": "password"}, headers={"accept": BROWSER_ACCEPT}
    )
    assert response.status_code in (400, 401)
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()


def test_userinfo_errors_are_json_even_when_html_is_accepted(client: TestClient) -> None:
    response = client.get(
        "/userinfo", headers={"accept": BROWSER_ACCEPT, "authorization": "Bearer nonsense"}
    )
    assert response.status_code == 401
    assert "invalid_token" in response.headers["www-authenticate"]
    assert not response.headers["content-type"].startswith("text/html")


def test_a_page_error_still_answers_html_to_a_browser(client: TestClient) -> None:
    response = client.get("/authorize?client_id=unknown", headers={"accept": BROWSER_ACCEPT})
    assert response.headers["content-type"].startswith("text/html")
