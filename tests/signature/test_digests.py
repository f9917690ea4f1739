"""Digests as relying parties send them: accepted algorithms, encodings and refusals."""

from __future__ import annotations

import base64
import hashlib

import pytest

from idp.signature.digests import HASH_ALGORITHMS, DigestError, fingerprint, parse_digest

DOCUMENT = b"contract of sale\n"


def test_exactly_the_sha2_algorithms_are_accepted() -> None:
    assert {name: spec.length for name, spec in HASH_ALGORITHMS.items()} == {
        "SHA-256": 32,
        "SHA-384": 48,
        "SHA-512": 64,
    }
    assert [spec.jades_name for spec in HASH_ALGORITHMS.values()] == ["S256", "S384", "S512"]
    assert [spec.cms_name for spec in HASH_ALGORITHMS.values()] == ["sha256", "sha384", "sha512"]


@pytest.mark.parametrize(
    ("name", "function"),
    [("SHA-256", hashlib.sha256), ("SHA-384", hashlib.sha384), ("SHA-512", hashlib.sha512)],
)
def test_each_algorithm_in_standard_and_url_safe_base64(name: str, function: object) -> None:
    digest = function(DOCUMENT).digest()  # type: ignore[operator]
    standard = base64.b64encode(digest).decode()
    url_safe = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert parse_digest(name, standard) == digest
    assert parse_digest(name, url_safe) == digest
    assert parse_digest(name.lower().replace("-", ""), f" {standard}\n") == digest


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("MD5", "MD5 is broken (collisions are cheap); use SHA-256, SHA-384 or SHA-512."),
        (
            "SHA-1",
            "SHA-1 is broken for signatures (collisions are practical); use SHA-256, SHA-384 "
            "or SHA-512.",
        ),
        (
            "sha1",
            "SHA-1 is broken for signatures (collisions are practical); use SHA-256, "
            "SHA-384 or SHA-512.",
        ),
        (
            "SHA3-256",
            "The hash algorithm 'SHA3-256' is not accepted; use SHA-256, SHA-384 or SHA-512.",
        ),
        ("", "The hash algorithm '(empty)' is not accepted; use SHA-256, SHA-384 or SHA-512."),
    ],
)
def test_other_algorithms_are_refused_by_name(name: str, message: str) -> None:
    with pytest.raises(DigestError) as caught:
        parse_digest(name, base64.b64encode(b"\x00" * 32).decode())
    assert str(caught.value) == message


def test_a_digest_of_the_wrong_length_is_refused() -> None:
    sha256 = base64.b64encode(hashlib.sha256(DOCUMENT).digest()).decode()
    with pytest.raises(DigestError) as caught:
        parse_digest("SHA-384", sha256)
    assert str(caught.value) == "A SHA-384 digest is 48 bytes; this one is 32 bytes."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64!", "The digest is not base64 (standard or URL-safe alphabet)."),
        ("ab+c-d", "The digest is not base64 (standard or URL-safe alphabet)."),
        ("abcde", "The digest is not base64: its length is not possible."),
        ("ab=c", "The digest is not base64 (standard or URL-safe alphabet)."),
    ],
)
def test_bad_base64_is_refused(value: str, message: str) -> None:
    with pytest.raises(DigestError) as caught:
        parse_digest("SHA-256", value)
    assert str(caught.value) == message


def test_hex_is_not_accepted() -> None:
    """A SHA-256 digest in hex is 64 characters of valid base64 that decode to 48 bytes: it is
    refused as a SHA-256 digest rather than guessed at."""
    with pytest.raises(DigestError, match="is 32 bytes; this one is 48 bytes"):
        parse_digest("SHA-256", hashlib.sha256(DOCUMENT).hexdigest())


def test_fingerprint_is_the_first_16_bytes_in_groups_of_four_hex_digits() -> None:
    digest = bytes(range(32))
    assert fingerprint(digest) == "0001 0203 0405 0607 0809 0A0B 0C0D 0E0F"
