"""The cross-border settings an operator sets: the acr table file and the person identifier
key are checked when the provider starts, with a message that names the setting."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from idp.config import Settings, SettingsError
from idp.context import ProviderContext


def test_a_valid_acr_table_file_is_used(
    tmp_path: Path, settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    table = tmp_path / "acr.json"
    table.write_text(json.dumps({"peer_acr": {"urn:example:gold": "high"}}), encoding="utf-8")
    settings = settings_factory(sqlite_database_url, federation_acr_table_file=table)
    context = ProviderContext.from_settings(settings)
    try:
        assert context.federation_acr_table is not None
        assert context.federation_acr_table.peer_levels == {"urn:example:gold": 3}
    finally:
        context.database.dispose()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"peer_acr": {"urn:x": "medium"}}), "urn:x"),
        (
            json.dumps(
                {"peer_acr": {"urn:x": 1}, "local_acr": {"iduruguay": {"1": "urn:iduruguay:nid:3"}}}
            ),
            "never raise a level",
        ),
    ],
)
def test_a_bad_acr_table_file_stops_the_start(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    sqlite_database_url: str,
    content: str,
    message: str,
) -> None:
    table = tmp_path / "acr.json"
    table.write_text(content, encoding="utf-8")
    settings = settings_factory(sqlite_database_url, federation_acr_table_file=table)
    with pytest.raises(SettingsError, match="IDP_FEDERATION_ACR_TABLE_FILE") as raised:
        ProviderContext.from_settings(settings)
    assert message in str(raised.value)


def test_a_missing_acr_table_file_is_named(
    tmp_path: Path, settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    settings = settings_factory(
        sqlite_database_url, federation_acr_table_file=tmp_path / "missing.json"
    )
    with pytest.raises(SettingsError, match="IDP_FEDERATION_ACR_TABLE_FILE cannot be read"):
        ProviderContext.from_settings(settings)


def test_a_short_person_identifier_secret_is_refused(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    settings = settings_factory(
        sqlite_database_url, federation_person_identifier_secret="too short"
    )
    with pytest.raises(SettingsError, match="32 bytes"):
        settings.person_identifier_secret_bytes()


def test_the_default_person_identifier_key_is_not_the_pairwise_salt(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    settings = settings_factory(sqlite_database_url)
    key = settings.person_identifier_secret_bytes()
    assert len(key) == 32
    assert key != settings.pairwise_salt_bytes()
