"""Failed-login throttling is shared by app instances (workers) through the database."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from idp.app import create_app
from idp.config import Settings
from tests.helpers import DEMO_PASSWORD, add_citizen, log_in


def test_failures_on_two_instances_add_up_and_block_both(
    database_url: str, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(database_url)
    first, second = create_app(settings), create_app(settings)
    provider = first.state.provider
    add_citizen(provider.database, provider.hasher)
    try:
        with (
            TestClient(first, base_url="http://127.0.0.1:8000") as one,
            TestClient(second, base_url="http://127.0.0.1:8000") as two,
        ):
            for attempt in range(4):
                client = one if attempt % 2 == 0 else two
                assert log_in(client, password=f"wrong {attempt}").status_code == 401

            fifth = log_in(two, password="wrong 5")
            assert fifth.status_code == 429
            assert int(fifth.headers["retry-after"]) == settings.login_backoff_base_seconds

            # Blocked on the other instance too, even with the right password.
            blocked = log_in(one, password=DEMO_PASSWORD)
            assert blocked.status_code == 429
            assert "Hubo demasiados intentos fallidos" in blocked.text
            assert "30 segundos" in blocked.text
            assert one.get("/account", follow_redirects=False).headers["location"] == "/login"
    finally:
        first.state.provider.database.dispose()
        second.state.provider.database.dispose()


def test_one_accounts_failures_do_not_block_another_account_on_the_same_address(
    database_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app = create_app(settings_factory(database_url))
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    add_citizen(provider.database, provider.hasher, username="2.345.678-3", given_name="Juan")
    try:
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            for attempt in range(6):
                log_in(client, password=f"wrong {attempt}")
            assert log_in(client, password=DEMO_PASSWORD).status_code == 429
            other = log_in(client, username="2.345.678-3")
            assert other.status_code == 303
    finally:
        provider.database.dispose()
