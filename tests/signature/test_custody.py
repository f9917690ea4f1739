"""Citizen keys wrapped under the key-encryption key, and what cannot open them."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from idp.signature.custody import (
    WRAP_VERSION,
    CustodyError,
    KeyEncryptionKey,
    generate_citizen_key,
)

PASSPHRASE = b"test passphrase"


def _public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_citizen_keys_are_p256() -> None:
    assert isinstance(generate_citizen_key().curve, ec.SECP256R1)


def test_wrap_and_unwrap_round_trip() -> None:
    kek = KeyEncryptionKey.from_passphrase(PASSPHRASE)
    key = generate_citizen_key()
    wrapped = kek.wrap(key, credential_id="cred-1")

    assert wrapped.startswith(WRAP_VERSION)
    private = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert private not in wrapped
    # A new nonce every time: the same key wraps differently.
    assert kek.wrap(key, credential_id="cred-1") != wrapped
    # The same passphrase derives the same KEK in another process.
    opened = KeyEncryptionKey.from_passphrase(PASSPHRASE).unwrap(wrapped, credential_id="cred-1")
    assert _public(opened) == _public(key)
    assert "test passphrase" not in repr(kek)


REFUSED = (
    "The signing key cannot be opened: another passphrase, another credential, or the stored "
    "key was altered."
)


def test_another_credential_cannot_open_it() -> None:
    kek = KeyEncryptionKey.from_passphrase(PASSPHRASE)
    wrapped = kek.wrap(generate_citizen_key(), credential_id="cred-1")
    with pytest.raises(CustodyError) as caught:
        kek.unwrap(wrapped, credential_id="cred-2")
    assert str(caught.value) == REFUSED


def test_another_passphrase_cannot_open_it() -> None:
    wrapped = KeyEncryptionKey.from_passphrase(PASSPHRASE).wrap(
        generate_citizen_key(), credential_id="cred-1"
    )
    with pytest.raises(CustodyError, match="cannot be opened"):
        KeyEncryptionKey.from_passphrase(b"other passphrase").unwrap(
            wrapped, credential_id="cred-1"
        )


@pytest.mark.parametrize("position", [1, 5, 13, 40, -1])
def test_a_tampered_key_cannot_be_opened(position: int) -> None:
    kek = KeyEncryptionKey.from_passphrase(PASSPHRASE)
    wrapped = bytearray(kek.wrap(generate_citizen_key(), credential_id="cred-1"))
    wrapped[position] ^= 0x01
    with pytest.raises(CustodyError, match="cannot be opened"):
        kek.unwrap(bytes(wrapped), credential_id="cred-1")


@pytest.mark.parametrize("wrapped", [b"", b"\x02" + b"\x00" * 80, b"\x01short"])
def test_unknown_formats_are_refused(wrapped: bytes) -> None:
    kek = KeyEncryptionKey.from_passphrase(PASSPHRASE)
    with pytest.raises(CustodyError) as caught:
        kek.unwrap(wrapped, credential_id="cred-1")
    assert str(caught.value) == "The wrapped signing key is not in a known format."
