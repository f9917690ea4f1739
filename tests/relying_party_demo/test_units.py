"""The pure parts: acr/amr/error explanations, language catalogs, settings and secret files."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from relying_party_demo import explain, i18n
from relying_party_demo.config import PortalSettings, PortalSettingsError, load_portal_settings
from relying_party_demo.keys import load_client_key, session_secret
from relying_party_demo.launcher import banner

PACKAGE = Path(__file__).parents[2] / "relying_party_demo"


@pytest.mark.parametrize(
    ("acr", "level"),
    [
        ("urn:iduruguay:nid:0", 0),
        ("urn:iduruguay:nid:2", 2),
        ("http://eidas.europa.eu/LoA/substantial", 2),
        ("urn:other", None),
        (None, None),
        (3, None),
    ],
)
def test_level_of_acr(acr: object, level: int | None) -> None:
    assert explain.level_of_acr(acr) == level


def test_acr_value_for_level_follows_the_providers_vocabulary() -> None:
    assert explain.acr_value_for_level(2, None) == "urn:iduruguay:nid:2"
    assert explain.acr_value_for_level(2, ["urn:iduruguay:nid:2"]) == "urn:iduruguay:nid:2"
    eidas = ["http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial"]
    assert explain.acr_value_for_level(2, eidas) == "http://eidas.europa.eu/LoA/substantial"


def test_amr_values_are_explained_and_unknown_ones_kept() -> None:
    explained = explain.explain_amr(["pwd", "otp", "mfa", "x-custom", 7])
    assert [(item.value, item.key) for item in explained] == [
        ("pwd", "amr.pwd"),
        ("otp", "amr.otp"),
        ("mfa", "amr.mfa"),
        ("x-custom", None),
    ]
    assert explain.explain_amr("pwd") == []


def test_errors_map_to_known_keys() -> None:
    key = explain.error_key("unmet_authentication_requirements")
    assert key == "error.unmet_authentication_requirements"
    assert explain.error_key("<script>") == "error.other"


def test_catalogs_have_the_same_keys_and_cover_the_templates() -> None:
    catalogs = {language: i18n.catalog(language) for language in ("es", "pt", "en")}
    assert catalogs["es"].keys() == catalogs["pt"].keys() == catalogs["en"].keys()
    used = set()
    for template in (PACKAGE / "templates").glob("*.html"):
        used |= set(re.findall(r"""\bt\(["']([a-z_.0-9]+)["']\s*[,)]""", template.read_text()))
    used |= {f"acr.level.{level}" for level in range(4)}
    used |= {explain.error_key(error) for error in explain.KNOWN_ERRORS}
    used |= set(explain.AMR_KEYS.values())
    missing = sorted(key for key in used if key not in catalogs["es"])
    assert missing == []
    for language in ("es", "pt", "en"):
        json.loads((PACKAGE / "translations" / f"{language}.json").read_text(encoding="utf-8"))


def test_translator_falls_back_and_fills_values() -> None:
    t = i18n.Translator("en")
    assert t("procedure.login_button", required=2) == "Log in at level 2"
    assert t("no.such.key") == "no.such.key"
    assert t.optional("no.such.key") is None
    assert i18n.Translator("fr")("nav.home") == "Inicio"


@pytest.mark.parametrize(
    ("chosen", "remembered", "accept", "expected"),
    [
        ("pt", "en", "es", "pt"),
        (None, "en", "pt", "en"),
        (None, None, "fr-FR, pt-BR;q=0.8", "pt"),
        ("xx", None, None, "es"),
    ],
)
def test_language_negotiation(
    chosen: str | None, remembered: str | None, accept: str | None, expected: str
) -> None:
    assert (
        i18n.negotiate(chosen=chosen, remembered=remembered, accept_language=accept, default="es")
        == expected
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"issuer": "http://idp.example.gub.uy"}, "RP_ISSUER must use https"),
        ({"base_url": "ftp://x"}, "RP_BASE_URL must be an absolute http(s) URL"),
        ({"language": "fr"}, "RP_LANGUAGE must be one of es, pt, en"),
        ({"client_id": "has space"}, "RP_CLIENT_ID must be 1 to 64"),
        (
            {"env": "production", "base_url": "https://tramites.example.gub.uy"},
            "RP_SESSION_SECRET of at least 32 characters is required in production",
        ),
    ],
)
def test_settings_refuse_unusable_values(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(PortalSettingsError, match=re.escape(message)):
        load_portal_settings(_env_file=None, **overrides)


def test_settings_derive_the_registered_uris() -> None:
    settings = PortalSettings(_env_file=None, base_url="https://tramites.example.gub.uy/")  # type: ignore[call-arg]
    assert settings.redirect_uri == "https://tramites.example.gub.uy/callback"
    assert settings.post_logout_redirect_uri == "https://tramites.example.gub.uy/"
    assert settings.secure_cookies


def test_development_secrets_are_created_once_owner_only(tmp_path: Path) -> None:
    settings = PortalSettings(  # type: ignore[call-arg]
        _env_file=None,
        key_file=tmp_path / "var" / "key.pem",
        session_secret_file=tmp_path / "var" / "secret",
    )
    key = load_client_key(settings)
    secret = session_secret(settings)
    for path in (settings.key_file, settings.session_secret_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert load_client_key(settings).kid == key.kid
    assert session_secret(settings) == secret
    (public,) = key.public_jwks["keys"]
    assert (public["kty"], public["alg"]) == ("RSA", "RS256")
    assert "d" not in public


def test_an_unreadable_key_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("not a key")
    settings = PortalSettings(_env_file=None, key_file=path)  # type: ignore[call-arg]
    with pytest.raises(PortalSettingsError, match="cannot be read as an RSA PEM key"):
        load_client_key(settings)


def test_the_launcher_banner_lists_urls_and_demo_logins() -> None:
    text = banner(issuer="http://127.0.0.1:8000", portal="http://127.0.0.1:8001")
    assert "http://127.0.0.1:8001/" in text
    assert "http://127.0.0.1:8000/login" in text
    assert "1.234.567-2" in text
    assert "demo-ciudadania" in text
    assert "Sign a sworn statement: http://127.0.0.1:8001/firma" in text
