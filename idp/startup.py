"""Start-up checks: the provider refuses to serve with a stale schema or unusable keys.

Each failure is one sentence that tells the operator what to run or fix.
"""

from __future__ import annotations

import logging

from idp.context import ProviderContext
from idp.signing_keys import service as keys
from idp.storage.migrate import current_revision, head_revision
from idp.storage.models import KeyPurpose

logger = logging.getLogger("idp.startup")


class StartupError(RuntimeError):
    """The provider cannot start; the message says why in one sentence."""


def check_schema(context: ProviderContext) -> None:
    try:
        current = current_revision(context.database.engine)
    except Exception as exc:  # any driver error means the database is unreachable
        raise StartupError(f"The database cannot be reached ({type(exc).__name__}).") from None
    if current != head_revision():
        raise StartupError("The database schema is not up to date; run `idp db upgrade`.")


def ensure_signing_keys(context: ProviderContext) -> None:
    """Check the current keys; in development only, create them when the store is empty."""
    settings = context.settings
    store = keys.key_store(settings)
    with context.database.transaction() as session:
        if not keys.list_keys(session, purpose=KeyPurpose.OIDC) and not settings.is_production:
            logger.warning("No signing keys yet: creating development keys in %s", store.folder)
            keys.create_initial_keys(session, store=store, now=context.clock())
    with context.database.transaction() as session:
        try:
            keys.check_current_keys(session, store=store)
        except keys.KeyOperationError as exc:
            raise StartupError(str(exc)) from None


def ensure_federation_keys(context: ProviderContext) -> None:
    """With federation on: a current federation key (created in development when none exists),
    separate from the OpenID Connect keys."""
    settings = context.settings
    if not settings.federation_enabled:
        return
    store = keys.key_store(settings)
    with context.database.transaction() as session:
        if not keys.list_keys(session, purpose=KeyPurpose.FEDERATION) and not (
            settings.is_production
        ):
            logger.warning("No federation key yet: creating a development key in %s", store.folder)
            keys.create_initial_keys(
                session, store=store, now=context.clock(), purpose=KeyPurpose.FEDERATION
            )
    with context.database.transaction() as session:
        try:
            keys.check_current_keys(session, store=store, purpose=KeyPurpose.FEDERATION)
        except keys.KeyOperationError as exc:
            raise StartupError(str(exc)) from None


def run_startup_checks(context: ProviderContext) -> None:
    check_schema(context)
    ensure_signing_keys(context)
    ensure_federation_keys(context)
