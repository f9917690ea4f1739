"""The per-worker cache of client registrations (``idp.oidc.client_cache``): a hit costs no
database statement, an entry older than ``IDP_CLIENT_CACHE_SECONDS`` is read again, and a
change made by an operator applies within that bound (a new secret at once)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from idp.oidc.client_cache import ClientCache, ClientRegistration
from idp.oidc.clients import hash_client_secret
from idp.storage.models import OAuthClient
from tests.oidc.conftest import RegisteredClient

Register = Callable[..., RegisteredClient]
TTL = 30.0


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Statements:
    """Every statement the engine sends, and every connection taken from its pool."""

    sql: list[str] = field(default_factory=list)
    checkouts: int = 0

    def reset(self) -> None:
        self.sql.clear()
        self.checkouts = 0

    def reading_clients(self) -> list[str]:
        return [sql for sql in self.sql if "oauth_client" in sql.lower()]


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    clock = Clock()
    app.state.provider.clients = ClientCache(ttl_seconds=TTL, monotonic=clock)
    return clock


@pytest.fixture
def statements(app: FastAPI) -> Iterator[Statements]:
    engine = app.state.provider.database.engine
    seen = Statements()

    def on_execute(*args: Any) -> None:
        seen.sql.append(args[2])

    def on_checkout(*args: Any) -> None:
        seen.checkouts += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine.pool, "checkout", on_checkout)
    yield seen
    event.remove(engine, "before_cursor_execute", on_execute)
    event.remove(engine.pool, "checkout", on_checkout)


def client_credentials(client: TestClient, client_id: str, secret: str) -> httpx.Response:
    return client.post(
        "/token", auth=(client_id, secret), data={"grant_type": "client_credentials"}
    )


def machine_client(register: Register) -> RegisteredClient:
    rp = register(grant_types=["client_credentials"], redirect_uris=[], scopes=["profile"])
    assert rp.client_secret is not None
    return rp


def change_client(app: FastAPI, client_id: str, change: Callable[[Any, OAuthClient], None]) -> None:
    with app.state.provider.database.transaction() as session:
        change(session, session.get(OAuthClient, client_id))


def test_a_hit_sends_no_statement_and_takes_no_connection(
    app: FastAPI, client: TestClient, register: Register, clock: Clock, statements: Statements
) -> None:
    rp = machine_client(register)
    statements.reset()
    assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    assert len(statements.reading_clients()) == 1
    statements.reset()
    clock.now += TTL - 1
    for _ in range(3):
        assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    assert statements.sql == []
    assert statements.checkouts == 0


def test_an_expired_entry_is_read_again(
    app: FastAPI, client: TestClient, register: Register, clock: Clock, statements: Statements
) -> None:
    rp = machine_client(register)
    assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    clock.now += TTL
    statements.reset()
    assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    assert len(statements.reading_clients()) == 1
    statements.reset()
    assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    assert statements.sql == []


def test_a_deleted_client_is_refused_once_its_entry_expires(
    app: FastAPI, client: TestClient, register: Register, clock: Clock
) -> None:
    rp = machine_client(register)
    assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    change_client(app, rp.client_id, lambda session, row: session.delete(row))
    clock.now += TTL - 1  # within the stated bound the worker may still accept it
    assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    clock.now += 1
    response = client_credentials(client, rp.client_id, rp.client_secret or "")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_rotated_secret_works_at_once_and_the_old_one_stops_within_the_bound(
    app: FastAPI, client: TestClient, register: Register, clock: Clock
) -> None:
    rp = machine_client(register)
    old = rp.client_secret or ""
    assert client_credentials(client, rp.client_id, old).status_code == 200

    def rotate(session: Any, row: OAuthClient) -> None:
        row.secret_hash = hash_client_secret("the new secret")

    change_client(app, rp.client_id, rotate)
    assert client_credentials(client, rp.client_id, "the new secret").status_code == 200
    # the new secret's read refreshed the entry: the old secret is refused from now on
    assert client_credentials(client, rp.client_id, old).status_code == 401
    clock.now += TTL
    assert client_credentials(client, rp.client_id, old).status_code == 401
    assert client_credentials(client, rp.client_id, "the new secret").status_code == 200


def test_a_withdrawn_grant_type_applies_within_the_bound(
    app: FastAPI, client: TestClient, register: Register, clock: Clock
) -> None:
    rp = register(grant_types=["client_credentials", "authorization_code"], scopes=["profile"])
    secret = rp.client_secret or ""
    assert client_credentials(client, rp.client_id, secret).status_code == 200

    def withdraw(session: Any, row: OAuthClient) -> None:
        row.grant_types = ["authorization_code"]

    change_client(app, rp.client_id, withdraw)
    assert client_credentials(client, rp.client_id, secret).status_code == 200
    clock.now += TTL
    response = client_credentials(client, rp.client_id, secret)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_a_wrong_secret_is_refused_and_checked_against_the_database(
    app: FastAPI, client: TestClient, register: Register, clock: Clock, statements: Statements
) -> None:
    rp = machine_client(register)
    assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    statements.reset()
    assert client_credentials(client, rp.client_id, "wrong").status_code == 401
    assert len(statements.reading_clients()) == 1


def test_unknown_clients_are_not_cached(
    app: FastAPI, client: TestClient, clock: Clock, statements: Statements
) -> None:
    for _ in range(2):
        assert client_credentials(client, "no-such-client", "secret").status_code == 401
    assert len(statements.reading_clients()) == 2
    assert app.state.provider.clients.cached("no-such-client") is None


def test_zero_seconds_reads_the_client_on_every_request(
    app: FastAPI, client: TestClient, register: Register, statements: Statements
) -> None:
    app.state.provider.clients = ClientCache(ttl_seconds=0)
    rp = machine_client(register)
    statements.reset()
    for _ in range(2):
        assert client_credentials(client, rp.client_id, rp.client_secret or "").status_code == 200
    assert len(statements.reading_clients()) == 2


def test_introspection_authenticates_from_the_cache(
    app: FastAPI, client: TestClient, register: Register, clock: Clock, statements: Statements
) -> None:
    rp = machine_client(register)
    token = client_credentials(client, rp.client_id, rp.client_secret or "").json()
    statements.reset()
    response = client.post(
        "/introspect",
        auth=(rp.client_id, rp.client_secret or ""),
        data={"token": token["access_token"]},
    )
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert statements.reading_clients() == []


def test_the_cache_holds_at_most_max_entries_and_drops_the_oldest(
    app: FastAPI, register: Register
) -> None:
    cache = ClientCache(ttl_seconds=TTL, max_entries=2)
    ids = [machine_client(register).client_id for _ in range(3)]
    with app.state.provider.database.transaction() as session:
        for client_id in ids:
            assert isinstance(cache.read(session, client_id), ClientRegistration)
    assert cache.cached(ids[0]) is None
    assert [cache.cached(client_id) is not None for client_id in ids[1:]] == [True, True]


def test_the_snapshot_is_immutable_and_carries_no_secret(register: Register) -> None:
    rp = machine_client(register)
    registration = ClientRegistration.of(rp.row)
    assert registration.secret_hash == rp.row.secret_hash
    assert rp.client_secret not in repr(registration)
    with pytest.raises(AttributeError):
        registration.client_id = "other"  # type: ignore[misc]
