"""The portal's own secrets: its private key for ``private_key_jwt`` (RFC 7523 2.2, OIDC Core 9)
and the secret that signs its session cookie.

In development both are created on first use (files with mode 0600 in a 0700 folder) and reused
afterwards; production never creates them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from relying_party_demo.config import PortalSettings, PortalSettingsError

CLIENT_ASSERTION_ALG = "RS256"
RSA_KEY_BITS = 3072


@dataclass(frozen=True, slots=True)
class ClientKey:
    """The portal's signing key: the private key for client assertions and its public JWK."""

    private_key: RSAKey
    kid: str

    @property
    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set the portal registers at the provider (public part only)."""
        public = dict(self.private_key.as_dict(private=False))
        public.update({"kid": self.kid, "use": "sig", "alg": CLIENT_ASSERTION_ALG})
        return {"keys": [public]}


def _write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` readable by its owner only; never overwrite an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def generate_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_client_key(settings: PortalSettings, *, create: bool | None = None) -> ClientKey:
    """Read the portal's key; in development (or when ``create``) make it on first use."""
    path = settings.key_file
    may_create = (not settings.is_production) if create is None else create
    if not path.exists():
        if not may_create:
            raise PortalSettingsError(
                f"The portal's private key {path} does not exist; set RP_KEY_FILE."
            )
        with contextlib.suppress(FileExistsError):  # another process made it first: use it
            _write_private_file(path, generate_private_key_pem())
    try:
        key = RSAKey.import_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PortalSettingsError(
            f"The portal's private key {path} cannot be read as an RSA PEM key ({exc})."
        ) from None
    if not key.is_private:
        raise PortalSettingsError(f"The key file {path} holds no private key.")
    return ClientKey(private_key=key, kid=key.thumbprint())


def session_secret(settings: PortalSettings) -> str:
    """RP_SESSION_SECRET, or in development a generated secret kept in a file."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    if settings.is_production:  # pragma: no cover - the settings validator refuses this
        raise PortalSettingsError("RP_SESSION_SECRET is required in production.")
    path = settings.session_secret_file
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            _write_private_file(path, secrets.token_urlsafe(48).encode("ascii"))
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise PortalSettingsError(f"The session secret in {path} is too short.")
    return value
