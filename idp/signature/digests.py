"""Document digests as a relying party sends them, and their short form for people.

A relying party never sends the document: it sends the digest of the document and the name
of the hash algorithm. Accepted are exactly SHA-256, SHA-384 and SHA-512 (FIPS 180-4); MD5 and
SHA-1 are refused by name, as are SHA-224 and the SHA-3 family (not in the CAdES/JAdES
baseline profiles' recommended set, ETSI TS 119 312).

Encoding: base64 in the standard (RFC 4648 section 4) or the URL-safe alphabet (section 5),
padding optional. Hexadecimal is deliberately *not* accepted: a 64-character hex string (a
SHA-256 digest in hex) is also valid base64 of 48 bytes (the length of a SHA-384 digest), so
accepting both would make the meaning of a value depend on a guess.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes


class DigestError(ValueError):
    """A digest or its algorithm is refused; the message is one precise sentence."""


@dataclass(frozen=True, slots=True)
class HashAlgorithm:
    """One accepted hash algorithm and its names in the formats that carry it."""

    name: str
    length: int
    hash_class: type[hashes.HashAlgorithm]
    cms_name: str
    """asn1crypto's name of the CMS DigestAlgorithmIdentifier (RFC 5754)."""
    oid: str
    jades_name: str
    """The ``hashM`` value of a JAdES ``sigD`` (ETSI TS 119 182-1 5.2.8.1)."""

    def new(self) -> hashes.Hash:
        return hashes.Hash(self.hash_class())


HASH_ALGORITHMS: dict[str, HashAlgorithm] = {
    "SHA-256": HashAlgorithm(
        "SHA-256", 32, hashes.SHA256, "sha256", "2.16.840.1.101.3.4.2.1", "S256"
    ),
    "SHA-384": HashAlgorithm(
        "SHA-384", 48, hashes.SHA384, "sha384", "2.16.840.1.101.3.4.2.2", "S384"
    ),
    "SHA-512": HashAlgorithm(
        "SHA-512", 64, hashes.SHA512, "sha512", "2.16.840.1.101.3.4.2.3", "S512"
    ),
}
"""Accepted names (``SHA-256``, ``SHA-384``, ``SHA-512``) to their description."""

_REFUSED = {
    "MD5": "MD5 is broken (collisions are cheap)",
    "SHA1": "SHA-1 is broken for signatures (collisions are practical)",
    "SHA224": "SHA-224 is too short for new signatures",
}
_ACCEPTED_NAMES = "SHA-256, SHA-384 or SHA-512"
_STANDARD_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_SAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def _compact(name: str) -> str:
    return name.strip().upper().replace("-", "").replace("_", "")


def hash_algorithm(name: str) -> HashAlgorithm:
    """The accepted algorithm called ``name`` (``SHA-256``, ``sha256``, ``SHA_256``...)."""
    compact = _compact(name)
    for algorithm in HASH_ALGORITHMS.values():
        if _compact(algorithm.name) == compact:
            return algorithm
    if compact in _REFUSED:
        raise DigestError(f"{_REFUSED[compact]}; use {_ACCEPTED_NAMES}.")
    shown = name.strip()[:40] or "(empty)"
    raise DigestError(f"The hash algorithm {shown!r} is not accepted; use {_ACCEPTED_NAMES}.")


def by_cms_name(cms_name: str) -> HashAlgorithm | None:
    return next((a for a in HASH_ALGORITHMS.values() if a.cms_name == cms_name), None)


def by_jades_name(jades_name: str) -> HashAlgorithm | None:
    return next((a for a in HASH_ALGORITHMS.values() if a.jades_name == jades_name), None)


def decode_base64(value: str) -> bytes:
    """Standard or URL-safe base64, padding optional; DigestError for anything else."""
    text = value.strip()
    if _STANDARD_BASE64.fullmatch(text):
        standard = text
    elif _URL_SAFE_BASE64.fullmatch(text):
        standard = text.replace("-", "+").replace("_", "/")
    else:
        raise DigestError("The digest is not base64 (standard or URL-safe alphabet).")
    unpadded = standard.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise DigestError("The digest is not base64: its length is not possible.")
    try:
        return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except binascii.Error:
        raise DigestError("The digest is not base64: its padding is wrong.") from None


def checked_digest(digest: bytes, algorithm: str) -> HashAlgorithm:
    """The algorithm called ``algorithm``, once ``digest`` has its length."""
    chosen = hash_algorithm(algorithm)
    if len(digest) != chosen.length:
        raise DigestError(
            f"A {chosen.name} digest is {chosen.length} bytes; this one is {len(digest)} bytes."
        )
    return chosen


def parse_digest(algorithm: str, value_b64: str) -> bytes:
    """The digest bytes of ``value_b64``, checked against the length of ``algorithm``."""
    hash_algorithm(algorithm)  # an unknown algorithm is the first thing to report
    digest = decode_base64(value_b64)
    checked_digest(digest, algorithm)
    return digest


def digest_of(document: bytes, algorithm: str) -> bytes:
    """The digest of a whole document with an accepted algorithm."""
    hasher = hash_algorithm(algorithm).new()
    hasher.update(document)
    return hasher.finalize()


def fingerprint(digest: bytes) -> str:
    """A short form for people: the first 16 bytes in groups of four hex digits.

    ``3F2A 9C01 77B0 E4D2 0A11 5C3E 9D8F 6B42``: enough for a citizen to compare with what
    the relying party shows, not a substitute for the full digest.
    """
    text = digest[:16].hex().upper()
    return " ".join(text[index : index + 4] for index in range(0, len(text), 4))
