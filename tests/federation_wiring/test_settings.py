"""``IDP_FEDERATION_*`` settings: defaults, JSON values from the environment, and refusals."""

from __future__ import annotations

import pytest

from idp.config import SettingsError, load_settings


def test_federation_is_off_by_default() -> None:
    settings = load_settings(_env_file=None)
    assert settings.federation_enabled is False
    assert settings.federation_role == "leaf"
    assert settings.federation_authority_hints == []
    assert settings.federation_trust_anchors == {}
    assert settings.federation_organization_name is None
    assert settings.federation_statement_lifetime_seconds == 86400


def test_lists_and_pinned_keys_are_json_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jwks = {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "ta-1"}]}
    monkeypatch.setenv("IDP_FEDERATION_ENABLED", "true")
    monkeypatch.setenv("IDP_FEDERATION_ROLE", "trust_anchor")
    monkeypatch.setenv("IDP_FEDERATION_AUTHORITY_HINTS", '["https://ta.example.org"]')
    monkeypatch.setenv(
        "IDP_FEDERATION_TRUST_ANCHORS",
        '{"https://ta.example.org": {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", '
        '"y": "y", "kid": "ta-1"}]}}',
    )
    settings = load_settings(_env_file=None)
    assert settings.federation_enabled is True
    assert settings.federation_role == "trust_anchor"
    assert settings.federation_authority_hints == ["https://ta.example.org"]
    assert settings.federation_trust_anchors == {"https://ta.example.org": jwks}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "IDP_FEDERATION_ROLE",
            "intermediate",
            "IDP_FEDERATION_ROLE: Input should be 'leaf' or 'trust_anchor'",
        ),
        (
            "IDP_FEDERATION_AUTHORITY_HINTS",
            '["http://ta.example.org"]',
            "IDP_FEDERATION_AUTHORITY_HINTS: 'http://ta.example.org' must use https unless its "
            "host is a loopback address.",
        ),
        (
            "IDP_FEDERATION_AUTHORITY_HINTS",
            '["https://ta.example.org", "https://ta.example.org"]',
            "IDP_FEDERATION_AUTHORITY_HINTS lists an entity twice.",
        ),
        (
            "IDP_FEDERATION_TRUST_ANCHORS",
            '{"https://ta.example.org": {"keys": []}}',
            "IDP_FEDERATION_TRUST_ANCHORS: the JWK Set of https://ta.example.org has no keys.",
        ),
        (
            "IDP_FEDERATION_STATEMENT_LIFETIME_SECONDS",
            "10",
            "IDP_FEDERATION_STATEMENT_LIFETIME_SECONDS: Input should be greater than or equal "
            "to 60",
        ),
    ],
)
def test_unusable_federation_settings_are_refused_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None)
    assert str(refused.value) == message
