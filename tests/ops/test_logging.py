"""Structured logs and request ids: one JSON object per line, the request id on every record
of a request (event loop and thread pool alike), route templates instead of URLs, and no
passwords, client secrets, codes, tokens or cookies anywhere in the log."""

from __future__ import annotations

import base64
import io
import json
import logging
import logging.config
import re
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.config import Environment, Settings
from idp.ops.logging import (
    JsonFormatter,
    accepted_request_id,
    log_format_of,
    logging_config,
    request_id_var,
)
from tests.helpers import DEMO_PASSWORD, add_citizen, log_in
from tests.ops.conftest import JsonLog

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def test_an_access_line_per_request_with_its_request_id(
    client: TestClient, json_log: JsonLog
) -> None:
    response = client.get(
        "/login?login_hint=12345672&code=abc", headers={"x-request-id": "lb-7.x_Y"}
    )
    assert response.headers["x-request-id"] == "lb-7.x_Y"

    [line] = [line for line in json_log.access() if line["path"] == "/login"]
    assert line["request_id"] == "lb-7.x_Y"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO"
    assert set(line) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "status",
        "duration_ms",
    }
    assert "12345672" not in json_log.text  # the query string is never logged
    assert "code=" not in json_log.text


@pytest.mark.parametrize(
    "incoming",
    [
        "x" * 65,
        "has space",
        "semi;colon",
        "new\\nline",
        "ünïcode",
        "",
        "<script>",
    ],
)
def test_an_unusable_request_id_is_replaced(
    client: TestClient, json_log: JsonLog, incoming: str
) -> None:
    response = client.get("/healthz", headers={"x-request-id": incoming.encode("utf-8")})
    echoed = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(echoed)
    assert json_log.access()[-1]["request_id"] == echoed


def test_request_ids_are_generated_and_distinct(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(GENERATED_ID.fullmatch(value) for value in ids)


def test_accepted_request_ids() -> None:
    assert accepted_request_id(b"a" * 64) == "a" * 64
    assert accepted_request_id(b"A-z_0.9") == "A-z_0.9"
    assert accepted_request_id(b"a" * 65) is None
    assert accepted_request_id(None) is None
    assert accepted_request_id(b"a/b") is None


def test_no_secret_of_a_request_reaches_the_log(
    app: FastAPI, client: TestClient, json_log: JsonLog
) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    secrets_sent = [DEMO_PASSWORD, "wrong-password-4711"]
    assert log_in(client).status_code == 303
    assert log_in(client, password="wrong-password-4711").status_code == 401
    session_cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    secrets_sent += [value for value in client.cookies.values() if len(value) > 8]

    # an unknown client with a secret, and a code and verifier in the body
    credentials = base64.b64encode(b"unknown-client:client-secret-0815").decode()
    secrets_sent += ["client-secret-0815", credentials]
    client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": "code-value-1234",
            "code_verifier": "v" * 43,
        },
        headers={"authorization": f"Basic {credentials}"},
    )
    secrets_sent += ["code-value-1234", "v" * 43]
    client.get("/userinfo", headers={"authorization": "Bearer access-token-9999"})
    secrets_sent.append("access-token-9999")
    client.get("/authorize?client_id=x&code_challenge=challenge-5555&state=state-6666")
    secrets_sent += ["challenge-5555", "state-6666"]

    lines = json_log.lines()
    assert {line["path"] for line in json_log.access()} >= {"/login", "/token", "/userinfo"}
    # every record logged while a request ran carries that request's id
    assert all(line["request_id"] for line in lines if line["logger"].startswith("idp."))
    for secret in secrets_sent:
        assert secret not in json_log.text, secret
    assert session_cookie == "" or session_cookie not in json_log.text


def test_records_logged_inside_a_request_carry_its_id(
    client: TestClient, json_log: JsonLog
) -> None:
    """The token endpoint runs in the thread pool; its error log has the request's id."""
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"authorization": "Basic " + base64.b64encode(b"nobody:nothing").decode()},
    )
    assert response.status_code == 401
    request_id = response.headers["x-request-id"]
    mine = [line for line in json_log.lines() if line["request_id"] == request_id]
    assert {line["logger"] for line in mine} >= {"idp.access", "idp.errors"}


def test_the_formatter_outside_a_request() -> None:
    record = logging.LogRecord("idp.test", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    document = json.loads(JsonFormatter().format(record))
    assert document["message"] == "a b"
    assert document["request_id"] is None
    assert document["time"].endswith("+00:00")
    token = request_id_var.set("from-context")
    try:
        assert json.loads(JsonFormatter().format(record))["request_id"] == "from-context"
    finally:
        request_id_var.reset(token)


def test_exceptions_are_one_line_too() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "idp.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: boom" in json.loads(text)["exception"]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_uvicorn_log_config(log_format: str) -> None:
    """The document ``idp serve`` hands uvicorn configures logging as asked."""
    config = logging_config(log_format, level="info")  # type: ignore[arg-type]
    stream = io.StringIO()
    config["handlers"]["default"]["stream"] = stream
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logging.config.dictConfig(config)
        token = request_id_var.set("req-1")
        try:
            logging.getLogger("uvicorn.error").info("started")
        finally:
            request_id_var.reset(token)
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    output = stream.getvalue().strip()
    if log_format == "json":
        assert json.loads(output) | {"time": None} == {
            "time": None,
            "level": "INFO",
            "logger": "uvicorn.error",
            "message": "started",
            "request_id": "req-1",
        }
    else:
        assert output.endswith("INFO uvicorn.error [req-1] started")


def test_log_format_defaults_by_environment(settings: Settings) -> None:
    assert log_format_of(settings) == "text"
    assert log_format_of(settings.model_copy(update={"log_format": "json"})) == "json"
    production = settings.model_copy(update={"env": Environment.PRODUCTION})
    assert log_format_of(production) == "json"


def test_an_unexpected_error_is_logged_with_the_request_id(app: FastAPI, json_log: JsonLog) -> None:
    @app.get("/broken/{item_id}")
    def broken(item_id: str) -> None:
        raise RuntimeError("database exploded")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken/42?token=t-123", headers={"x-request-id": "req-500"})
    assert response.status_code == 500
    assert "database exploded" not in response.text
    lines = [line for line in json_log.lines() if line["request_id"] == "req-500"]
    [access] = [line for line in lines if line["logger"] == "idp.access"]
    assert access["status"] == 500
    assert access["path"] == "/broken/{item_id}"
    [error] = [line for line in lines if line["logger"] == "idp.errors"]
    assert "RuntimeError: database exploded" in error["exception"]
    assert "t-123" not in json_log.text
