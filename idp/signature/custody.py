"""Citizens' signing keys, held by the provider and never exportable.

An advanced electronic signature needs a key under the signatory's sole control (eIDAS
Regulation (EU) No 910/2014, Article 26). Here the provider holds each citizen's key and uses
it only after a fresh strong authentication bound to the document. At rest a key is
wrapped under a key-encryption key (KEK) that is *not* in the database:

- KEK = HKDF-SHA256 (RFC 5869) of the deployment's key passphrase, with its own ``info``
  label, so it differs from every other key derived from the same passphrase;
- wrapped = version byte || 96-bit random nonce || AES-256-GCM(DER PKCS#8 of the key), with
  the credential id as associated data: a wrapped key copied to another credential's row does
  not open.

There is no function that returns a key in any exportable form: ``unwrap`` gives a
``cryptography`` key object for signing in this process, nothing else.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WRAP_VERSION = b"\x01"
_KEK_LABEL = b"national-idp signature key custody v1"
_NONCE_BYTES = 12


class CustodyError(RuntimeError):
    """A wrapped key cannot be opened (another passphrase or credential, or tampered)."""


def generate_citizen_key() -> ec.EllipticCurvePrivateKey:
    """A new citizen signing key: ECDSA on P-256."""
    return ec.generate_private_key(ec.SECP256R1())


def _associated_data(credential_id: str) -> bytes:
    return b"signature_credential:" + credential_id.encode("utf-8")


class KeyEncryptionKey:
    """The key that wraps citizens' signing keys; its bytes are never shown."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("A key-encryption key is 32 bytes.")
        self._aead = AESGCM(key)

    @classmethod
    def from_passphrase(cls, passphrase: bytes) -> KeyEncryptionKey:
        if not passphrase:
            raise ValueError("The key passphrase is empty.")
        key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_KEK_LABEL).derive(passphrase)
        return cls(key)

    def __repr__(self) -> str:
        return "KeyEncryptionKey(<secret>)"

    def wrap(self, private_key: ec.EllipticCurvePrivateKey, *, credential_id: str) -> bytes:
        plain = private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain, _associated_data(credential_id))
        return WRAP_VERSION + nonce + sealed

    def unwrap(self, wrapped: bytes, *, credential_id: str) -> ec.EllipticCurvePrivateKey:
        if not wrapped.startswith(WRAP_VERSION) or len(wrapped) <= 1 + _NONCE_BYTES + 16:
            raise CustodyError("The wrapped signing key is not in a known format.")
        nonce = wrapped[1 : 1 + _NONCE_BYTES]
        try:
            plain = self._aead.decrypt(
                nonce, wrapped[1 + _NONCE_BYTES :], _associated_data(credential_id)
            )
        except InvalidTag:
            raise CustodyError(
                "The signing key cannot be opened: another passphrase, another credential, "
                "or the stored key was altered."
            ) from None
        key = serialization.load_der_private_key(plain, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise CustodyError("The wrapped signing key is not an elliptic-curve key.")
        return key
