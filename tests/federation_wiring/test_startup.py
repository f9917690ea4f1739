"""Start-up with federation on: development creates a federation key apart from the OpenID
Connect keys; production never creates one and refuses to start without it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from idp.config import Environment, Settings
from idp.context import ProviderContext
from idp.signing_keys import service
from idp.startup import StartupError, run_startup_checks
from idp.storage.models import KeyPurpose, KeyState

PRODUCTION_PASSPHRASE = "a long production passphrase"


def test_development_creates_one_current_es256_federation_key(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    settings = settings_factory(sqlite_database_url, federation_enabled=True)
    context = ProviderContext.from_settings(settings)
    try:
        run_startup_checks(context)
        run_startup_checks(context)  # a second start adds nothing
        with context.database.transaction() as session:
            federation = service.list_keys(session, purpose=KeyPurpose.FEDERATION)
            oidc = service.list_keys(session, purpose=KeyPurpose.OIDC)
            assert [(key.alg, key.state) for key in federation] == [("ES256", KeyState.CURRENT)]
            assert sorted(key.alg for key in oidc) == ["ES256", "RS256"]
            assert (settings.keys_dir / federation[0].file_name).name.startswith("federation-")
    finally:
        context.database.dispose()


def test_production_refuses_to_start_without_a_federation_key(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    development = settings_factory(
        sqlite_database_url, key_passphrase=PRODUCTION_PASSPHRASE, federation_enabled=True
    )
    context = ProviderContext.from_settings(development)
    try:
        with context.database.transaction() as session:  # the operator's `idp keys rotate`
            service.create_initial_keys(
                session, store=service.key_store(development), now=context.clock()
            )
        context.settings = development.model_copy(update={"env": Environment.PRODUCTION})
        with pytest.raises(StartupError) as refused:
            run_startup_checks(context)
        assert str(refused.value) == (
            "There is no current ES256 federation key; run `idp keys rotate --purpose federation`."
        )
        with context.database.transaction() as session:
            assert not service.list_keys(session, purpose=KeyPurpose.FEDERATION)
    finally:
        context.database.dispose()
