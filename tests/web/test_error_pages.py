"""One error family: JSON for API callers, a page for browsers, no 500 for client input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers import csrf_token_of


def test_unknown_path_as_json_and_as_html(client: TestClient) -> None:
    api = client.get("/nope", headers={"accept": "application/json"})
    assert api.status_code == 404
    assert api.json() == {"error": "not_found", "error_description": "The page does not exist."}
    page = client.get("/nope", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "<code>not_found</code>" in page.text


def test_wrong_method_is_405(client: TestClient) -> None:
    response = client.delete("/login")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize(
    "form",
    [
        {"username": "x" * 5000, "password": "p"},
        {"username": ["a", "b"], "password": "p"},
        {"password": "\x00\x01"},
    ],
)
def test_odd_login_input_never_gives_a_server_error(client: TestClient, form: dict) -> None:
    token = csrf_token_of(client.get("/login"))
    response = client.post("/login", data={"csrf_token": token, **form})
    assert response.status_code < 500
    assert response.status_code in (400, 401)


def test_non_form_body_is_refused_cleanly(client: TestClient) -> None:
    client.get("/login")
    response = client.post(
        "/login", content=b"\xff\xfe not a form", headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 403)
    assert response.json()["error"] in ("invalid_request", "csrf_failed")


def test_validation_errors_name_the_parameter_without_echoing_it(client: TestClient) -> None:
    token = csrf_token_of(client.get("/login"))
    secret = "s3cr3t-" + "x" * 2000
    response = client.post(
        "/login", data={"csrf_token": token, "username": "u", "password": secret}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "password" in body["error_description"]
    assert "s3cr3t" not in response.text
