"""Typed settings of the demo portal, read from ``RP_*`` environment variables and ``.env``.

In development the portal looks after itself: its private key and its session secret are
created on first run under ``var/`` (mode 0600) and reused afterwards. Production mode refuses
both conveniences: the key file must exist and the session secret must be given.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SUPPORTED_LANGUAGES = ("es", "pt", "en")
DEFAULT_CLIENT_ID = "tramites-demo"
DEFAULT_KEY_FILE = Path("var") / "rp-demo" / "client-key.pem"
DEFAULT_SESSION_SECRET_FILE = Path("var") / "rp-demo" / "session-secret"
MIN_SESSION_SECRET_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class PortalSettingsError(ValueError):
    """A setting is unusable; one sentence meant for an operator."""


def _is_loopback(host: str | None) -> bool:
    return (host or "").lower() in ("localhost", "127.0.0.1", "::1") or (host or "").startswith(
        "127."
    )


def _check_url(value: str, *, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {value!r}.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"{name} must use https (http only on a loopback address).")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must not have a query or a fragment.")
    return value.rstrip("/")


class PortalSettings(BaseSettings):
    """All settings of the portal. Environment prefix ``RP_``; an optional ``.env`` is read."""

    model_config = SettingsConfigDict(
        env_prefix="RP_", env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    env: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="`production` refuses a generated key and a generated session secret.",
    )
    issuer: str = Field(
        default="http://127.0.0.1:8000",
        description="The identity provider's issuer; discovery is read from "
        "ISSUER/.well-known/openid-configuration (OIDC Discovery 1.0 section 4).",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8001",
        description="The portal's own URL as browsers reach it; the redirect URI is "
        "BASE_URL/callback, the post-logout redirect URI BASE_URL/ and the signature service's "
        "return address BASE_URL/firma/vuelta.",
    )
    client_id: str = Field(
        default=DEFAULT_CLIENT_ID, description="The portal's client_id at the provider."
    )
    key_file: Path = Field(
        default=DEFAULT_KEY_FILE,
        description="The portal's private key (PEM) for private_key_jwt (RFC 7523 2.2); "
        "created in development when missing.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Secret that signs the session cookie; in development it is generated "
        "and kept in session_secret_file.",
    )
    session_secret_file: Path = Field(
        default=DEFAULT_SESSION_SECRET_FILE,
        description="Where the development session secret is kept.",
    )
    language: str = Field(default="es", description="Page language by default: es, pt or en.")

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        return _check_url(value, name="RP_ISSUER")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _check_url(value, name="RP_BASE_URL")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"RP_LANGUAGE must be one of {', '.join(SUPPORTED_LANGUAGES)}.")
        return value

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not (1 <= len(value) <= 64 and value.isprintable() and " " not in value):
            raise ValueError("RP_CLIENT_ID must be 1 to 64 printable characters, no spaces.")
        return value

    @model_validator(mode="after")
    def _production_refuses_development_conveniences(self) -> Self:
        if self.env is Environment.PRODUCTION:
            secret = self.session_secret.get_secret_value() if self.session_secret else ""
            if len(secret) < MIN_SESSION_SECRET_LENGTH:
                raise ValueError(
                    f"RP_SESSION_SECRET of at least {MIN_SESSION_SECRET_LENGTH} characters is "
                    "required in production."
                )
            if not self.base_url.startswith("https://"):
                raise ValueError("RP_BASE_URL must use https in production.")
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def signature_redirect_uri(self) -> str:
        """Where the provider sends the citizen back after a signature request."""
        return f"{self.base_url}/firma/vuelta"

    @property
    def signature_api_url(self) -> str:
        """The provider's signature API (not in its discovery document)."""
        return f"{self.issuer}/signature"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def load_portal_settings(**overrides: object) -> PortalSettings:
    """Read settings, turning pydantic's report into one operator-readable sentence."""
    try:
        return PortalSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first.get("msg", "invalid setting")).removeprefix("Value error, ")
        raise PortalSettingsError(message) from None
