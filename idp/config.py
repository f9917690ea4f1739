"""Typed settings for the provider, read from ``IDP_*`` environment variables and ``.env``.

Every deployment decision lives here, in one class, so that an operator can read the whole
surface in one place and so that production mode can refuse the development defaults that are
convenient on a laptop but dangerous on a national service.
"""

from __future__ import annotations

import hashlib
import ipaddress
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_KEY_PASSPHRASE = "development-only-key-passphrase"
"""Passphrase used for keys in development mode; production refuses it."""

DEVELOPMENT_PAIRWISE_SALT = "development-only-pairwise-salt"

DEFAULT_ISSUER = "http://127.0.0.1:8000"
DEFAULT_SQLITE_PATH = Path("var") / "idp.sqlite3"

# OWASP Password Storage Cheat Sheet: argon2id with m=19 MiB, t=2, p=1 is the minimum.
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2

SUPPORTED_LANGUAGES = ("es", "pt", "en")


class Environment(StrEnum):
    """Deployment mode. Production refuses development defaults."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class SettingsError(ValueError):
    """A setting is unusable; the message is one sentence meant for an operator."""


def is_loopback_host(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: the only hosts allowed over plain http."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """All settings of the provider. Environment prefix ``IDP_``; an optional ``.env`` is read."""

    model_config = SettingsConfigDict(
        env_prefix="IDP_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    env: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="`development` (default) or `production`; production refuses dev defaults.",
    )
    issuer: str = Field(
        default=DEFAULT_ISSUER,
        description="Issuer identifier (OIDC Core 2): exactly the URL clients use, no trailing "
        "slash, https except on a loopback host.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: a SQLite file under var/. PostgreSQL: "
        "postgresql+psycopg://user:pass@host/db. Required in production.",
    )
    keys_dir: Path = Field(
        default=Path("keys"), description="Folder of the encrypted private keys."
    )
    key_passphrase: SecretStr | None = Field(
        default=None, description="Passphrase that encrypts private keys at rest."
    )
    key_passphrase_file: Path | None = Field(
        default=None, description="File whose first line is the key passphrase (overrides it)."
    )
    country: str = Field(
        default="UY", description="ISO 3166-1 alpha-2 code of the country this provider serves."
    )
    default_language: str = Field(default="es", description="Language when nothing else says.")

    session_idle_timeout_seconds: Annotated[int, Field(gt=0)] = Field(
        default=30 * 60, description="A browser session idle this long ends."
    )
    session_absolute_timeout_seconds: Annotated[int, Field(gt=0)] = Field(
        default=12 * 60 * 60, description="A browser session ends this long after it began."
    )

    password_memory_cost_kib: int = Field(default=OWASP_MIN_MEMORY_KIB, ge=OWASP_MIN_MEMORY_KIB)
    password_time_cost: int = Field(default=OWASP_MIN_TIME_COST, ge=OWASP_MIN_TIME_COST)
    password_parallelism: int = Field(default=1, ge=1)
    password_hash_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="argon2id computations one process runs at once; each holds the memory "
        "cost while it runs, and the threads that ran one keep that memory for the next.",
    )

    login_account_failure_threshold: int = Field(
        default=5, ge=1, description="Failures on one account before backoff starts."
    )
    login_address_failure_threshold: int = Field(
        default=100,
        ge=1,
        description="Failures from one client address before backoff starts (far higher than "
        "per account: many citizens may share one address).",
    )
    login_backoff_base_seconds: int = Field(default=30, ge=1)
    login_backoff_max_seconds: int = Field(default=15 * 60, ge=1)
    login_failure_window_seconds: int = Field(
        default=60 * 60, ge=1, description="Failures older than this are forgotten."
    )

    authorization_code_ttl_seconds: int = Field(
        default=60, ge=1, le=60, description="Authorization codes live at most 60 s (RFC 9700)."
    )
    authorization_request_ttl_seconds: int = Field(
        default=15 * 60, ge=60, description="Time a citizen has to log in and consent."
    )
    access_token_ttl_seconds: int = Field(default=10 * 60, ge=30, le=24 * 60 * 60)
    id_token_ttl_seconds: int = Field(default=10 * 60, ge=30, le=24 * 60 * 60)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 60 * 60, ge=60)
    clock_skew_seconds: int = Field(
        default=10, ge=0, le=30, description="Tolerance for iat/exp/nbf of JWTs received."
    )
    key_refresh_seconds: int = Field(
        default=30,
        ge=1,
        le=600,
        description="Every worker reloads key states at least this often (bounded staleness).",
    )
    client_cache_seconds: int = Field(
        default=30,
        ge=0,
        le=600,
        description="Each worker keeps the client registrations the token, introspection and "
        "revocation endpoints read for at most this long: `idp clients` changes (update, "
        "rotate-secret, delete) reach every worker within it; a withdrawn secret may be accepted "
        "that long, a new one works at once. 0 reads the client on every request.",
    )
    pairwise_salt: SecretStr | None = Field(
        default=None,
        description="Secret mixed into pairwise subject identifiers; never change it once used.",
    )
    allow_private_network_fetches: bool = Field(
        default=False,
        description="Allow fetching client URLs (jwks_uri, sector_identifier_uri) that resolve "
        "to private, loopback or link-local addresses. Only for tests and closed networks.",
    )
    outbound_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    outbound_max_bytes: int = Field(default=256 * 1024, ge=1024)

    acr_profile: Literal["iduruguay", "eidas"] = Field(
        default="iduruguay",
        description="Names of the assurance levels (acr) and methods (amr): `iduruguay` "
        "(urn:iduruguay:nid:0..3) or `eidas` (http://eidas.europa.eu/LoA/low|substantial|high).",
    )
    identity_trust_framework: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="`trust_framework` of `verified_claims` (OpenID Connect for Identity "
        "Assurance 1.0). Default: `eidas` under the eidas acr profile, else `uy_iduruguay`.",
    )
    step_up_lifetime_seconds: int = Field(
        default=10 * 60,
        ge=30,
        le=12 * 60 * 60,
        description="A second factor or eID card proof raises the session's level for this "
        "long; then the session falls back to its password level.",
    )

    eid_ca_file: Path | None = Field(
        default=None,
        description="PEM bundle of the national CA chain that issues eID card certificates "
        "(roots and intermediates). Without it, development uses the demo CA of `idp card "
        "demo-ca` under the keys folder and production offers no card authentication.",
    )
    eid_crl_file: Path | None = Field(
        default=None,
        description="PEM file of the CRLs of that chain; when set, a card whose revocation "
        "status it does not cover is refused. Refresh it before each CRL's nextUpdate.",
    )
    card_challenge_ttl_seconds: int = Field(
        default=120, ge=30, le=15 * 60, description="Time to sign an eID card challenge."
    )

    signature_min_verification_level: int = Field(
        default=2,
        ge=1,
        le=3,
        description="Identity verification level a citizen needs to get a signing certificate.",
    )
    signature_auth_strength: int = Field(
        default=3,
        ge=2,
        le=3,
        description="Authentication strength needed to approve a signature: 3 (eID card, the "
        "highest) or 2 (password and TOTP).",
    )
    signature_auth_max_age_seconds: int = Field(
        default=5 * 60,
        ge=30,
        le=30 * 60,
        description="The strong proof must be this recent when the citizen approves a signature.",
    )
    signature_request_ttl_seconds: int = Field(
        default=15 * 60, ge=60, le=24 * 60 * 60, description="Time to approve a signature request."
    )
    signature_certificate_days: int = Field(
        default=2 * 365, ge=1, le=5 * 365, description="Validity of citizens' signing certificates."
    )

    max_request_body_bytes: int = Field(
        default=256 * 1024,
        ge=16 * 1024,
        le=16 * 1024 * 1024,
        description="Requests with a larger body are refused with 413 before they are read.",
    )

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)

    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for mail to citizens (email codes). Without it, mail is only "
        "written to the outbox table, which development and tests read; set it in production.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, description="SMTP login, if the server asks.")
    smtp_password: SecretStr | None = Field(default=None)
    smtp_starttls: bool = Field(
        default=True, description="Upgrade the SMTP connection with STARTTLS before logging in."
    )
    mail_from: str = Field(
        default="identidad-digital@localhost", description="Sender address of mail to citizens."
    )

    metrics_enabled: bool = Field(
        default=True, description="Serve Prometheus metrics at /metrics (docs/operations)."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="If set, /metrics requires `Authorization: Bearer <token>`. Without it the "
        "endpoint is open (production warns): expose it only to the monitoring network.",
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="`json` (one object per line) or `text`. Default: json in production, "
        "text in development.",
    )
    max_concurrent_requests: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="Requests one worker answers at once; beyond it, 503 with Retry-After: 1 "
        "(probes and /metrics are exempt).",
    )

    federation_enabled: bool = Field(
        default=False,
        description="Be an OpenID Federation 1.0 entity: publish a signed Entity Configuration "
        "at /.well-known/openid-federation (section 9) signed with the federation keys.",
    )
    federation_role: Literal["leaf", "trust_anchor"] = Field(
        default="leaf",
        description="`leaf` (an OpenID Provider with authority_hints) or `trust_anchor` (issues "
        "Subordinate Statements from its fetch and list endpoints, section 8).",
    )
    federation_authority_hints: list[str] = Field(
        default_factory=list,
        description="JSON array of the Entity Identifiers of this leaf's immediate superiors "
        "(section 3.1.1 authority_hints).",
    )
    federation_trust_anchors: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="JSON object: Trust Anchor Entity Identifier -> its pinned JWK Set "
        "(section 10.2: the Trust Anchor's keys are configured, never fetched).",
    )
    federation_organization_name: str | None = Field(
        default=None,
        max_length=200,
        description="organization_name of the federation_entity metadata (section 5.2.2).",
    )
    federation_peers: list[str] = Field(
        default_factory=list,
        description="JSON array: the peer providers offered for cross-border login. Empty: "
        "every provider the Trust Anchors list (section 8.2), except this one.",
    )
    federation_chain_cache_seconds: int = Field(
        default=300,
        ge=1,
        le=24 * 60 * 60,
        description="Longest time a resolved Trust Chain (and the list of peers) is reused "
        "before it is resolved again, even if its statements live longer.",
    )
    federation_person_identifier_secret: SecretStr | None = Field(
        default=None,
        description="Key (32 bytes or more) of the opaque part of the ORIGIN/DESTINATION/opaque "
        "person identifier of cross-border logins; defaults to one derived from the pairwise "
        "salt.",
    )
    federation_acr_table_file: Path | None = Field(
        default=None,
        description="JSON file: how peers' acr values map to the eIDAS levels and those to this "
        "provider's acr (see docs/federation.md); the built-in table when unset.",
    )
    federation_statement_lifetime_seconds: int = Field(
        default=24 * 60 * 60,
        ge=60,
        le=30 * 24 * 60 * 60,
        description="Lifetime (exp - iat) of the Entity Configuration and Subordinate Statements.",
    )

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_plain_https_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("IDP_ISSUER must be an absolute https URL.")
        if parts.query or parts.fragment:
            raise ValueError("IDP_ISSUER must not have a query or a fragment.")
        if value.endswith("/"):
            raise ValueError("IDP_ISSUER must not end with a slash.")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError(
                "IDP_ISSUER must use https unless its host is a loopback address "
                "(127.0.0.1, localhost or [::1])."
            )
        return value

    @field_validator("federation_authority_hints")
    @classmethod
    def _authority_hints_are_entity_ids(cls, value: list[str]) -> list[str]:
        for entity_id in value:
            problem = entity_identifier_problem(entity_id)
            if problem:
                raise ValueError(f"IDP_FEDERATION_AUTHORITY_HINTS: {problem}")
        if len(set(value)) != len(value):
            raise ValueError("IDP_FEDERATION_AUTHORITY_HINTS lists an entity twice.")
        return value

    @field_validator("federation_trust_anchors")
    @classmethod
    def _trust_anchors_are_pinned_jwks(
        cls, value: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        for entity_id, jwks in value.items():
            problem = entity_identifier_problem(entity_id)
            if problem:
                raise ValueError(f"IDP_FEDERATION_TRUST_ANCHORS: {problem}")
            keys = jwks.get("keys") if isinstance(jwks, dict) else None
            if not isinstance(keys, list) or not keys:
                raise ValueError(
                    f"IDP_FEDERATION_TRUST_ANCHORS: the JWK Set of {entity_id} has no keys."
                )
        return value

    @field_validator("country")
    @classmethod
    def _country_is_alpha2(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("IDP_COUNTRY must be a two-letter ISO 3166-1 code such as UY.")
        return value.upper()

    @field_validator("default_language")
    @classmethod
    def _language_is_supported(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(
                f"IDP_DEFAULT_LANGUAGE must be one of {', '.join(SUPPORTED_LANGUAGES)}."
            )
        return value

    @model_validator(mode="after")
    def _production_refuses_development_defaults(self) -> Self:
        if self.env is not Environment.PRODUCTION:
            return self
        if self.database_url is None:
            raise ValueError("Production mode needs IDP_DATABASE_URL to be set explicitly.")
        if _is_sqlite_in_temporary_folder(self.database_url):
            raise ValueError(
                "Production mode refuses a SQLite database in a temporary folder; "
                "set IDP_DATABASE_URL to durable storage."
            )
        passphrase = self.resolved_key_passphrase_or_none()
        if passphrase is None:
            raise ValueError(
                "Production mode needs IDP_KEY_PASSPHRASE or IDP_KEY_PASSPHRASE_FILE to be set."
            )
        if passphrase == DEVELOPMENT_KEY_PASSPHRASE or len(passphrase) < 16:
            raise ValueError(
                "Production mode refuses the development key passphrase or one shorter "
                "than 16 characters."
            )
        salt = self.pairwise_salt.get_secret_value() if self.pairwise_salt else ""
        if salt == DEVELOPMENT_PAIRWISE_SALT or len(salt) < 16:
            raise ValueError(
                "Production mode needs IDP_PAIRWISE_SALT: a secret of at least 16 characters."
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def uses_https(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file of development mode."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"

    def resolved_key_passphrase_or_none(self) -> str | None:
        """The key passphrase from the file (if named) or the variable, without a default."""
        if self.key_passphrase_file is not None:
            try:
                text = self.key_passphrase_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(
                    f"IDP_KEY_PASSPHRASE_FILE cannot be read ({exc.strerror})."
                ) from exc
            first_line = text.splitlines()[0] if text.strip() else ""
            return first_line or None
        if self.key_passphrase is not None:
            return self.key_passphrase.get_secret_value() or None
        return None

    def pairwise_salt_bytes(self) -> bytes:
        if self.pairwise_salt is not None and self.pairwise_salt.get_secret_value():
            return self.pairwise_salt.get_secret_value().encode("utf-8")
        return DEVELOPMENT_PAIRWISE_SALT.encode("utf-8")

    def person_identifier_secret_bytes(self) -> bytes:
        """Key of the cross-border person identifier: the configured one, else an HKDF of the
        pairwise salt under its own label (so the two never coincide)."""
        if self.federation_person_identifier_secret is not None:
            value = self.federation_person_identifier_secret.get_secret_value().encode("utf-8")
            if len(value) >= 32:
                return value
            raise SettingsError("IDP_FEDERATION_PERSON_IDENTIFIER_SECRET needs 32 bytes or more.")
        return hashlib.sha256(
            b"crossborder-person-identifier-key\x00" + self.pairwise_salt_bytes()
        ).digest()

    def key_passphrase_bytes(self) -> bytes:
        """The passphrase that encrypts private keys; the development default outside production."""
        passphrase = self.resolved_key_passphrase_or_none()
        if passphrase is None:
            if self.is_production:  # pragma: no cover - the model validator refuses this earlier
                raise SettingsError("No key passphrase is configured.")
            passphrase = DEVELOPMENT_KEY_PASSPHRASE
        return passphrase.encode("utf-8")


def entity_identifier_problem(entity_id: str) -> str | None:
    """Why ``entity_id`` is not an Entity Identifier we accept (OpenID Federation 1.0 section
    1.2: an https URL with a host and no query or fragment; plain http only on a loopback host,
    as for the issuer), or None when it is one."""
    try:
        parts = urlsplit(entity_id)
        host = parts.hostname
    except ValueError:
        return f"{entity_id!r} is not a URL."
    if parts.scheme not in ("https", "http") or not host:
        return f"{entity_id!r} is not an absolute https URL."
    if parts.query or parts.fragment or "@" in parts.netloc:
        return f"{entity_id!r} must not have a query, a fragment or user information."
    if parts.scheme == "http" and not is_loopback_host(host):
        return f"{entity_id!r} must use https unless its host is a loopback address."
    return None


def _is_sqlite_in_temporary_folder(url: str) -> bool:
    if not url.startswith("sqlite"):
        return False
    path_part = url.split(":///", 1)[1] if ":///" in url else ""
    if not path_part or path_part.startswith(":memory:") or "mode=memory" in url:
        return True
    resolved = Path(path_part.split("?", 1)[0]).resolve()
    temporary_roots = {Path(tempfile.gettempdir()).resolve(), Path("/tmp").resolve()}  # noqa: S108
    return any(resolved.is_relative_to(root) for root in temporary_roots)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one operator-readable sentence."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first.get("msg", "invalid setting"))
        message = message.removeprefix("Value error, ")
        location = ".".join(str(part) for part in first.get("loc", ()))
        if location and "IDP_" not in message:
            message = f"IDP_{location.upper()}: {message}"
        raise SettingsError(message) from None
