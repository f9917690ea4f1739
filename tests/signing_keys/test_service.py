"""Key lifecycle operations against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from idp.config import Settings
from idp.context import utc_now
from idp.signing_keys import service
from idp.signing_keys.algorithms import SigningAlgorithm
from idp.signing_keys.keyring import KeyRing
from idp.storage.database import Database
from idp.storage.models import KeyState, SigningKey

HOUR = timedelta(hours=1)


@pytest.fixture
def keyed(database_url: str, settings_factory: Callable[..., Settings]):
    settings = settings_factory(database_url)
    database = Database.from_settings(settings)
    store = service.key_store(settings)
    with database.transaction() as session:
        service.create_initial_keys(session, store=store, now=utc_now())
    yield settings, database, store
    database.dispose()


def states(database: Database) -> dict[str, tuple[str, str]]:
    with database.transaction() as session:
        return {key.kid: (key.alg, key.state) for key in service.list_keys(session)}


def snapshot(database: Database, settings: Settings) -> tuple[dict, list[str]]:
    files = sorted(p.name for p in settings.keys_dir.glob("*.pem"))
    with database.transaction() as session:
        rows = {
            key.kid: (key.state, key.activated_at, key.retired_at, key.revoked_at)
            for key in session.scalars(select(SigningKey))
        }
    return rows, files


def test_rotate_publishes_ahead_then_promotes_without_a_command(keyed) -> None:
    _settings, database, store = keyed
    now = utc_now()
    with database.transaction() as session:
        created = service.rotate(session, store=store, now=now, publish_ahead=HOUR)
    assert sorted(key.alg for key in created) == ["ES256", "RS256"]
    new_rsa = next(key.kid for key in created if key.alg == "RS256")

    clock = {"now": now + timedelta(minutes=59)}
    ring = KeyRing(
        database=database, store=store, refresh_seconds=3600, wall_clock=lambda: clock["now"]
    )
    assert new_rsa in {k["kid"] for k in ring.jwks()["keys"]}  # published ahead
    assert ring.signing_material("RS256").kid != new_rsa

    clock["now"] = now + HOUR + timedelta(seconds=1)
    ring.reload()
    assert ring.signing_material("RS256").kid == new_rsa
    assert len(ring.jwks()["keys"]) == 4  # two current, two retired: all still published


def test_rotate_if_older_than_does_nothing_for_young_keys(keyed) -> None:
    _, database, store = keyed
    with database.transaction() as session:
        assert (
            service.rotate(
                session,
                store=store,
                now=utc_now(),
                publish_ahead=HOUR,
                if_older_than=timedelta(days=90),
            )
            == []
        )
        created = service.rotate(
            session,
            store=store,
            now=utc_now() + timedelta(days=91),
            publish_ahead=HOUR,
            if_older_than=timedelta(days=90),
        )
    assert len(created) == 2


def test_a_second_rotation_while_one_is_pending_is_refused(keyed) -> None:
    settings, database, store = keyed
    with database.transaction() as session:
        service.rotate(session, store=store, now=utc_now(), publish_ahead=HOUR)
    before = snapshot(database, settings)
    with (
        pytest.raises(service.KeyOperationError, match="already waiting to become current"),
        database.transaction() as session,
    ):
        service.rotate(session, store=store, now=utc_now(), publish_ahead=HOUR)
    assert snapshot(database, settings) == before


def test_retiring_the_only_current_key_is_refused_and_changes_nothing(keyed) -> None:
    settings, database, _ = keyed
    rsa = next(kid for kid, (alg, _) in states(database).items() if alg == "RS256")
    before = snapshot(database, settings)
    with (
        pytest.raises(service.KeyOperationError, match="would leave no current RS256 key"),
        database.transaction() as session,
    ):
        service.retire(session, kid=rsa, now=utc_now())
    assert snapshot(database, settings) == before


def test_retire_with_a_successor_activates_it(keyed) -> None:
    _, database, store = keyed
    with database.transaction() as session:
        created = service.generate(
            session, store=store, algorithm=SigningAlgorithm.RS256, now=utc_now()
        )
    new = created.kid
    old = next(
        kid for kid, (alg, state) in states(database).items() if alg == "RS256" and kid != new
    )
    with database.transaction() as session:
        service.retire(session, kid=old, now=utc_now())
    assert states(database)[old] == ("RS256", KeyState.RETIRED)
    assert states(database)[new] == ("RS256", KeyState.CURRENT)


def test_revoke_refuses_unknown_and_last_current_keys(keyed) -> None:
    settings, database, _store = keyed
    before = snapshot(database, settings)
    with (
        pytest.raises(service.KeyOperationError, match="There is no key with kid nope"),
        database.transaction() as session,
    ):
        service.revoke(session, kid="nope", reason="test", now=utc_now())
    ec = next(kid for kid, (alg, _) in states(database).items() if alg == "ES256")
    with (
        pytest.raises(service.KeyOperationError, match="would leave no current ES256 key"),
        database.transaction() as session,
    ):
        service.revoke(session, kid=ec, reason="compromised", now=utc_now())
    assert snapshot(database, settings) == before


def test_revoked_keys_leave_the_jwks_at_once(keyed) -> None:
    _, database, store = keyed
    now = utc_now()
    with database.transaction() as session:
        service.rotate(session, store=store, now=now, publish_ahead=timedelta(0))
    old = [kid for kid, (_, state) in states(database).items() if state == KeyState.RETIRED]
    assert len(old) == 2
    with database.transaction() as session:
        service.revoke(session, kid=old[0], reason="leaked backup", now=now)
    ring = KeyRing(database=database, store=store, refresh_seconds=30)
    assert old[0] not in {k["kid"] for k in ring.jwks()["keys"]}
    assert ring.is_revoked(old[0])
    assert ring.published_key(old[0]) is None


def test_prune_removes_only_expired_retired_keys(keyed) -> None:
    settings, database, store = keyed
    now = utc_now()
    with database.transaction() as session:
        service.rotate(session, store=store, now=now, publish_ahead=timedelta(0))
    lifetime = timedelta(minutes=10)
    with database.transaction() as session:
        assert (
            service.prune(
                session,
                store=store,
                now=now + timedelta(minutes=9),
                longest_token_lifetime=lifetime,
            )
            == []
        )
    assert len(list(settings.keys_dir.glob("*.pem"))) == 4
    with database.transaction() as session:
        removed = service.prune(
            session,
            store=store,
            now=now + lifetime + timedelta(seconds=1),
            longest_token_lifetime=lifetime,
        )
    assert len(removed) == 2
    assert len(list(settings.keys_dir.glob("*.pem"))) == 2
    assert all(state == KeyState.CURRENT for _, state in states(database).values())


def test_key_files_never_overwritten_and_kid_is_a_thumbprint(keyed) -> None:
    from joserfc.jwk import JWKRegistry

    settings, database, _ = keyed
    with database.transaction() as session:
        for key in service.list_keys(session):
            assert JWKRegistry.import_key(key.public_jwk).thumbprint() == key.kid
            assert (settings.keys_dir / key.file_name).stat().st_mode & 0o777 == 0o600
