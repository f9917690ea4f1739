"""Database round trips of the hot paths (``idp.storage.token_grants``): UserInfo reads in one
statement outside a transaction, the refresh grant in three (read, rotate, insert), the code
exchange in three (consume and read the code, read the grant, insert the refresh token); the
connection UserInfo used goes back to the pool with its usual isolation. On both backends:
reading outside a transaction is a driver setting, and PostgreSQL's is psycopg's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from idp.config import Settings
from idp.storage.models import RevokedAccessToken
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.flow import obtain_code, redeem


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], database_url: str) -> Settings:
    return settings_factory(database_url)


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[str]]:
    engine = app.state.provider.database.engine
    seen: list[str] = []

    def on_execute(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(engine, "before_cursor_execute", on_execute)


def _tokens(client: TestClient, register) -> tuple[dict, object]:
    rp = register()
    code, verifier = obtain_code(
        client, rp.client_id, RP_REDIRECT_URI, scope="openid profile document"
    )
    return redeem(
        client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI
    ).json(), rp


def test_userinfo_reads_in_one_statement(
    client: TestClient, register, citizen_id: int, statements: list[str]
) -> None:
    issued, _ = _tokens(client, register)
    statements.clear()
    response = client.get(
        "/userinfo", headers={"authorization": f"Bearer {issued['access_token']}"}
    )
    assert response.status_code == 200
    assert response.json()["document_number"] == "12345672"
    assert len(statements) == 1
    assert statements[0].lstrip().upper().startswith("SELECT")


def test_a_refresh_reads_once_rotates_once_and_inserts_once(
    client: TestClient, register, citizen_id: int, statements: list[str]
) -> None:
    issued, rp = _tokens(client, register)
    statements.clear()
    response = client.post(
        "/token",
        auth=(rp.client_id, rp.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
    )
    assert response.status_code == 200
    kinds = [sql.lstrip().split(None, 1)[0].upper() for sql in statements]
    assert kinds == ["SELECT", "UPDATE", "INSERT"]


def test_a_code_exchange_consumes_and_reads_the_code_in_one_statement(
    client: TestClient, register, citizen_id: int, statements: list[str]
) -> None:
    rp = register()
    for exchange in range(2):  # the first one also loads the client and the key ring
        code, verifier = obtain_code(client, rp.client_id, RP_REDIRECT_URI, scope="openid profile")
        statements.clear()
        response = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI)
        assert response.status_code == 200, exchange
    kinds = [sql.lstrip().split(None, 1)[0].upper() for sql in statements]
    assert kinds == ["UPDATE", "SELECT", "INSERT"]
    assert "RETURNING" in statements[0].upper()


def test_the_connection_userinfo_used_still_rolls_back_afterwards(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    issued, _ = _tokens(client, register)
    for _ in range(3):
        assert (
            client.get(
                "/userinfo", headers={"authorization": f"Bearer {issued['access_token']}"}
            ).status_code
            == 200
        )
    database = app.state.provider.database

    def refused_write() -> None:
        with database.transaction() as session:
            session.add(RevokedAccessToken(jti="rolled-back", expires_at=datetime.now(UTC)))
            session.flush()
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        refused_write()
    with database.transaction() as session:
        found = session.scalars(
            select(RevokedAccessToken).where(RevokedAccessToken.jti == "rolled-back")
        ).all()
    assert found == []
