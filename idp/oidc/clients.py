"""Client registration rules and client secrets (RFC 6749 2, RFC 7591, RFC 8252, RFC 9700).

Redirect URIs are compared by exact string match (RFC 9700 2.1); the one exception is the port
of an ``http`` loopback redirect URI of a native client (RFC 8252 7.3). Registration refuses
what could never be safe: fragments, user information in the authority, wildcards, non-https
web URIs outside loopback, and schemes that run code (``javascript:``, ``data:``...).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from idp.config import Settings
from idp.storage import clients as client_store
from idp.storage.models import ClientAuthMethod, OAuthClient

SUPPORTED_ID_TOKEN_ALGS = ("RS256", "PS256", "ES256", "EdDSA")
SUPPORTED_SCOPES = ("openid", "profile", "email", "phone", "address", "document", "offline_access")
SERVICE_SCOPES = ("signature",)
"""Scopes of the provider's own APIs, for the client_credentials grant only (the signature
API, ``idp.signature.api_routes``). Never given by default: an operator grants them."""
REGISTRABLE_SCOPES = SUPPORTED_SCOPES + SERVICE_SCOPES
FORBIDDEN_SCHEMES = frozenset(
    {"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "ftp", "ws", "wss"}
)
MAX_URI_LENGTH = 2000


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"


class ApplicationType(StrEnum):
    WEB = "web"
    NATIVE = "native"


class SubjectType(StrEnum):
    PUBLIC = "public"
    PAIRWISE = "pairwise"


class ClientRegistrationError(ValueError):
    """Registration metadata is refused; one sentence for the operator."""


SECRET_METHODS = frozenset(
    {ClientAuthMethod.CLIENT_SECRET_BASIC, ClientAuthMethod.CLIENT_SECRET_POST}
)


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    """Validated registration metadata (what the CLI or an admin API hands in)."""

    client_name: str
    redirect_uris: list[str]
    token_endpoint_auth_method: ClientAuthMethod = ClientAuthMethod.CLIENT_SECRET_BASIC
    application_type: ApplicationType = ApplicationType.WEB
    grant_types: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    jwks: dict[str, object] | None = None
    jwks_uri: str | None = None
    subject_type: SubjectType = SubjectType.PUBLIC
    sector_identifier_uri: str | None = None
    id_token_signed_response_alg: str = "RS256"
    userinfo_signed_response_alg: str | None = None
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = True

    @property
    def is_confidential(self) -> bool:
        return self.token_endpoint_auth_method != ClientAuthMethod.NONE


def is_loopback_ip_host(host: str | None) -> bool:
    """127.0.0.0/8 or ::1 literally; ``localhost`` is not accepted for native redirects
    (RFC 8252 8.3)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _loopback_host(host: str | None) -> bool:
    return is_loopback_ip_host(host) or (host or "").lower() == "localhost"


def check_redirect_uri(uri: str, application_type: ApplicationType, *, label: str) -> None:
    """Refuse an unsafe redirect or post-logout redirect URI, with one clear sentence."""
    if not uri or len(uri) > MAX_URI_LENGTH:
        raise ClientRegistrationError(f"The {label} must be 1 to {MAX_URI_LENGTH} characters.")
    if any(ord(char) <= 32 or char in '<>"\\^`{|}' for char in uri):
        raise ClientRegistrationError(
            f"The {label} {uri!r} contains spaces or characters not allowed in a URI."
        )
    if "*" in uri:
        raise ClientRegistrationError(f"The {label} {uri!r} must not contain wildcards.")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ClientRegistrationError(f"The {label} {uri!r} must be an absolute URI.")
    if scheme in FORBIDDEN_SCHEMES:
        raise ClientRegistrationError(f"The {label} {uri!r} uses the unsafe scheme {scheme}:.")
    if parts.fragment or "#" in uri:
        raise ClientRegistrationError(f"The {label} {uri!r} must not have a fragment.")
    if "@" in parts.netloc:
        raise ClientRegistrationError(
            f"The {label} {uri!r} must not carry user information (user@host)."
        )
    if scheme in ("http", "https"):
        try:
            host = parts.hostname
            _ = parts.port
        except ValueError:
            raise ClientRegistrationError(f"The {label} {uri!r} has an invalid port.") from None
        if not host:
            raise ClientRegistrationError(f"The {label} {uri!r} has no host.")
        if scheme == "http" and not _loopback_host(host):
            raise ClientRegistrationError(
                f"The {label} {uri!r} must use https (http only on a loopback address)."
            )
        if application_type is ApplicationType.NATIVE and scheme == "http" and host == "localhost":
            raise ClientRegistrationError(
                f"The {label} {uri!r} must use the loopback IP literal 127.0.0.1 or [::1], "
                "not localhost (RFC 8252 8.3)."
            )
        return
    # A private-use scheme: only native clients, reverse domain name style (RFC 8252 7.1).
    if application_type is not ApplicationType.NATIVE:
        raise ClientRegistrationError(
            f"The {label} {uri!r} must be an https URI; private-use schemes are for native apps."
        )
    if "." not in scheme:
        raise ClientRegistrationError(
            f"The {label} {uri!r} must use a reverse-domain private scheme such as "
            "uy.gub.example.app: (RFC 8252 7.1)."
        )


def redirect_uri_matches(
    registered: list[str], requested: str, application_type: ApplicationType | str
) -> bool:
    """Exact string match; for native clients, any port on an http loopback IP literal."""
    if requested in registered:
        return True
    if application_type != ApplicationType.NATIVE:
        return False
    requested_parts = urlsplit(requested)
    if requested_parts.scheme != "http" or not is_loopback_ip_host(requested_parts.hostname):
        return False
    try:
        port = requested_parts.port
    except ValueError:
        return False
    if port == 0:
        return False  # not a port an app can listen on; "any port" means 1..65535
    for candidate in registered:
        parts = urlsplit(candidate)
        if (
            parts.scheme == "http"
            and parts.hostname == requested_parts.hostname
            and parts.path == requested_parts.path
            and parts.query == requested_parts.query
            and "@" not in requested_parts.netloc
        ):
            return True
    return False


def validate_metadata(metadata: ClientMetadata) -> ClientMetadata:
    """Check the whole registration; return it with defaults filled in."""
    name = " ".join(metadata.client_name.split())
    if not name or len(name) > 200:
        raise ClientRegistrationError("The client name must have 1 to 200 characters.")
    grant_types = list(dict.fromkeys(metadata.grant_types)) or [
        GrantType.AUTHORIZATION_CODE,
        GrantType.REFRESH_TOKEN,
    ]
    for grant in grant_types:
        if grant not in GrantType.__members__.values():
            raise ClientRegistrationError(
                f"Unknown grant type {grant!r}; use authorization_code, refresh_token or "
                "client_credentials."
            )
    if GrantType.CLIENT_CREDENTIALS in grant_types and not metadata.is_confidential:
        raise ClientRegistrationError(
            "The client_credentials grant is only for confidential clients."
        )
    uses_redirects = GrantType.AUTHORIZATION_CODE in grant_types
    if uses_redirects and not metadata.redirect_uris:
        raise ClientRegistrationError(
            "A client of the authorization_code grant needs at least one redirect URI."
        )
    for uri in metadata.redirect_uris:
        check_redirect_uri(uri, metadata.application_type, label="redirect URI")
    for uri in metadata.post_logout_redirect_uris:
        check_redirect_uri(uri, metadata.application_type, label="post-logout redirect URI")
    scopes = list(dict.fromkeys(metadata.scopes)) or list(SUPPORTED_SCOPES)
    for scope in scopes:
        if scope not in REGISTRABLE_SCOPES:
            raise ClientRegistrationError(
                f"Unknown scope {scope!r}; supported: {', '.join(REGISTRABLE_SCOPES)}."
            )
    if set(SERVICE_SCOPES) & set(scopes) and GrantType.CLIENT_CREDENTIALS not in grant_types:
        raise ClientRegistrationError(
            "The signature scope is used through the client_credentials grant: add that grant."
        )
    method = metadata.token_endpoint_auth_method
    if method is ClientAuthMethod.PRIVATE_KEY_JWT and not (metadata.jwks or metadata.jwks_uri):
        raise ClientRegistrationError("A private_key_jwt client needs --jwks-uri or --jwks-file.")
    if metadata.jwks and metadata.jwks_uri:
        raise ClientRegistrationError("Give either a JWK Set or a jwks_uri, not both.")
    if metadata.jwks is not None:
        keys = metadata.jwks.get("keys")
        if not isinstance(keys, list) or not keys:
            raise ClientRegistrationError("The JWK Set must be a JSON object with a keys list.")
        for key in keys:
            if not isinstance(key, dict) or "d" in key or key.get("kty") == "oct":
                raise ClientRegistrationError(
                    "The JWK Set must hold only public asymmetric keys (no private or "
                    "symmetric keys)."
                )
    for label, uri in (
        ("jwks_uri", metadata.jwks_uri),
        ("sector_identifier_uri", metadata.sector_identifier_uri),
        ("backchannel_logout_uri", metadata.backchannel_logout_uri),
    ):
        if uri is not None:
            check_https_uri(uri, label=label)
    if metadata.id_token_signed_response_alg not in SUPPORTED_ID_TOKEN_ALGS:
        raise ClientRegistrationError(
            f"Unsupported ID token algorithm {metadata.id_token_signed_response_alg!r}; use "
            f"one of {', '.join(SUPPORTED_ID_TOKEN_ALGS)}."
        )
    userinfo_alg = metadata.userinfo_signed_response_alg
    if userinfo_alg is not None and userinfo_alg not in SUPPORTED_ID_TOKEN_ALGS:
        raise ClientRegistrationError(f"Unsupported UserInfo algorithm {userinfo_alg!r}.")
    if metadata.subject_type is SubjectType.PAIRWISE and metadata.sector_identifier_uri is None:
        hosts = {urlsplit(uri).hostname for uri in metadata.redirect_uris}
        if len(hosts) > 1:
            raise ClientRegistrationError(
                "A pairwise client whose redirect URIs have several hosts needs a "
                "sector_identifier_uri (OIDC Core 8.1)."
            )
    return ClientMetadata(
        client_name=name,
        redirect_uris=list(dict.fromkeys(metadata.redirect_uris)),
        token_endpoint_auth_method=method,
        application_type=metadata.application_type,
        grant_types=[str(grant) for grant in grant_types],
        scopes=scopes,
        post_logout_redirect_uris=list(dict.fromkeys(metadata.post_logout_redirect_uris)),
        jwks=metadata.jwks,
        jwks_uri=metadata.jwks_uri,
        subject_type=metadata.subject_type,
        sector_identifier_uri=metadata.sector_identifier_uri,
        id_token_signed_response_alg=metadata.id_token_signed_response_alg,
        userinfo_signed_response_alg=userinfo_alg,
        backchannel_logout_uri=metadata.backchannel_logout_uri,
        backchannel_logout_session_required=metadata.backchannel_logout_session_required,
    )


def check_https_uri(uri: str, *, label: str) -> None:
    """A URL the provider itself fetches or posts to: https, or http on loopback (dev/tests)."""
    if len(uri) > MAX_URI_LENGTH or any(ord(char) <= 32 for char in uri):
        raise ClientRegistrationError(f"The {label} {uri!r} is not a valid URI.")
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ClientRegistrationError(f"The {label} {uri!r} must be an absolute https URL.")
    if "@" in parts.netloc or parts.fragment:
        raise ClientRegistrationError(
            f"The {label} {uri!r} must not carry user information or a fragment."
        )
    if parts.scheme == "http" and not _loopback_host(parts.hostname):
        raise ClientRegistrationError(f"The {label} {uri!r} must use https.")


def sector_identifier(metadata: ClientMetadata) -> str | None:
    """The host that pairwise subjects are computed for (OIDC Core 8.1)."""
    if metadata.subject_type is not SubjectType.PAIRWISE:
        return None
    source = metadata.sector_identifier_uri or (
        metadata.redirect_uris[0] if metadata.redirect_uris else None
    )
    return urlsplit(source).hostname if source else None


def new_client_id() -> str:
    """24 random URL-safe characters that never begin with ``-`` or ``_``, so that an operator
    can pass the id to a command without it being read as an option."""
    while True:
        candidate = secrets.token_urlsafe(18)
        if candidate[0].isalnum():
            return candidate


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def client_secret_matches(secret_hash: str | None, presented: str) -> bool:
    if not secret_hash:
        return False
    return hmac.compare_digest(secret_hash, hash_client_secret(presented))


def register_client(
    session: Session, *, metadata: ClientMetadata, now: datetime, client_id: str | None = None
) -> tuple[OAuthClient, str | None]:
    """Validate and store a client; returns it with its secret (shown once; None for public
    and private_key_jwt clients)."""
    valid = validate_metadata(metadata)
    new_id = client_id or new_client_id()
    if client_store.get_client(session, client_id=new_id) is not None:
        raise ClientRegistrationError(f"A client with the id {new_id} already exists.")
    secret = new_client_secret() if valid.token_endpoint_auth_method in SECRET_METHODS else None
    client = OAuthClient(
        client_id=new_id,
        client_name=valid.client_name,
        secret_hash=hash_client_secret(secret) if secret else None,
        secret_rotated_at=now if secret else None,
        token_endpoint_auth_method=valid.token_endpoint_auth_method,
        application_type=valid.application_type,
        redirect_uris=valid.redirect_uris,
        post_logout_redirect_uris=valid.post_logout_redirect_uris,
        grant_types=valid.grant_types,
        scopes=valid.scopes,
        jwks=valid.jwks,
        jwks_uri=valid.jwks_uri,
        subject_type=valid.subject_type,
        sector_identifier=sector_identifier(valid),
        sector_identifier_uri=valid.sector_identifier_uri,
        id_token_signed_response_alg=valid.id_token_signed_response_alg,
        userinfo_signed_response_alg=valid.userinfo_signed_response_alg,
        backchannel_logout_uri=valid.backchannel_logout_uri,
        backchannel_logout_session_required=valid.backchannel_logout_session_required,
        created_at=now,
        updated_at=now,
    )
    client_store.add_client(session, client=client)
    return client, secret


def check_sector_identifier(uri: str, redirect_uris: list[str], settings: Settings) -> None:
    """OIDC Core 8.1: the sector_identifier_uri must list every redirect URI of the client.
    Fetched with the outbound guards (https, public addresses, time and size limits)."""
    from idp.oidc.outbound import OutboundRefused, fetch_json

    try:
        listed = fetch_json(uri, settings)
    except OutboundRefused as exc:
        raise ClientRegistrationError(
            f"The sector_identifier_uri {uri!r} cannot be fetched ({exc})."
        ) from None
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise ClientRegistrationError("The sector_identifier_uri must serve a JSON array of URIs.")
    missing = [redirect for redirect in redirect_uris if redirect not in listed]
    if missing:
        raise ClientRegistrationError(
            f"The sector_identifier_uri does not list the redirect URI {missing[0]!r}."
        )
