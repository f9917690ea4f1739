"""The per-application context: everything built once from settings and shared by requests.

No module-level singletons: ``create_app(settings)`` builds one ``ProviderContext`` and puts it
on ``app.state``; routes receive it through a dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from idp.accounts.passwords import PasswordHasher
from idp.accounts.sessions import SessionTimeouts
from idp.accounts.throttling import LoginThrottling
from idp.config import Settings, SettingsError
from idp.context_clock import utc_now
from idp.federation.crossborder.acr_mapping import AcrTable, AcrTableError, load_acr_table
from idp.federation.resolver import FederationResolver
from idp.oidc.client_cache import ClientCache
from idp.oidc.published import PublishedDocuments
from idp.signature.authority import SignatureAuthority
from idp.signing_keys.keyring import KeyRing
from idp.signing_keys.service import key_store
from idp.storage.database import Database
from idp.storage.models import KeyPurpose


@dataclass
class ProviderContext:
    settings: Settings
    database: Database
    hasher: PasswordHasher
    throttling: LoginThrottling
    session_timeouts: SessionTimeouts
    keyring: KeyRing
    signature_authority: SignatureAuthority
    clients: ClientCache
    documents: PublishedDocuments
    clock: Callable[[], datetime] = field(default=utc_now)
    federation_keyring: KeyRing | None = None
    """The Federation Entity Keys (``purpose`` federation); None when federation is off."""
    federation: FederationResolver | None = None
    """Resolves and caches other entities' Trust Chains; None when federation is off."""
    federation_acr_table: AcrTable | None = None
    """The cross-border acr mapping (``IDP_FEDERATION_ACR_TABLE_FILE``); None: the built-in."""

    @classmethod
    def from_settings(
        cls, settings: Settings, *, database: Database | None = None
    ) -> ProviderContext:
        database = database or Database.from_settings(settings)
        federation_keyring = (
            KeyRing(
                database=database,
                store=key_store(settings),
                refresh_seconds=settings.key_refresh_seconds,
                purpose=KeyPurpose.FEDERATION,
            )
            if settings.federation_enabled
            else None
        )
        keyring = KeyRing(
            database=database,
            store=key_store(settings),
            refresh_seconds=settings.key_refresh_seconds,
        )
        return cls(
            federation_keyring=federation_keyring,
            federation=FederationResolver(settings) if settings.federation_enabled else None,
            federation_acr_table=_acr_table(settings),
            settings=settings,
            database=database,
            keyring=keyring,
            hasher=PasswordHasher.from_settings(settings),
            throttling=LoginThrottling.from_settings(settings),
            session_timeouts=SessionTimeouts.from_settings(settings),
            signature_authority=SignatureAuthority.from_settings(settings),
            clients=ClientCache(ttl_seconds=settings.client_cache_seconds),
            documents=PublishedDocuments(settings, keyring),
        )


def _acr_table(settings: Settings) -> AcrTable | None:
    """The configured cross-border acr table, refused at start-up when it is not valid."""
    path = settings.federation_acr_table_file
    if path is None:
        return None
    try:
        return load_acr_table(path.read_bytes())
    except OSError as exc:
        raise SettingsError(
            f"IDP_FEDERATION_ACR_TABLE_FILE cannot be read ({exc.strerror})."
        ) from exc
    except AcrTableError as exc:
        raise SettingsError(f"IDP_FEDERATION_ACR_TABLE_FILE: {exc}") from exc
