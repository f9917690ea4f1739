"""Detached JAdES-B signatures: the header profile, and independent checks of the JWS."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.jwk import ECKey
from jwt.algorithms import ECAlgorithm

from idp.signature.ca import SigningCa
from idp.signature.digests import DigestError
from idp.signature.jades import JadesRegistry, build_detached_jades
from tests.signature.conftest import Citizen

DOCUMENT = b'{"contract": "sale", "price": 100}'


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(ca: SigningCa, citizen: Citizen, now: datetime, *, algorithm: str = "SHA-256") -> str:
    digest = hashlib.new(algorithm.replace("-", "").lower(), DOCUMENT).digest()
    return build_detached_jades(
        digest=digest,
        digest_algorithm=algorithm,
        document_name="contract.json",
        private_key=citizen.key,
        certificate=citizen.certificate,
        chain=[ca.certificate],
        signing_time=now,
    )


@pytest.mark.parametrize(("algorithm", "hash_m"), [("SHA-256", "S256"), ("SHA-512", "S512")])
def test_the_protected_header(
    ca: SigningCa, citizen: Citizen, now: datetime, algorithm: str, hash_m: str
) -> None:
    token = _sign(ca, citizen, now + timedelta(microseconds=1), algorithm=algorithm)
    header_part, payload_part, _ = token.split(".")
    assert payload_part == ""  # ObjectIdByURIHash: the JWS Payload is empty
    header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    der = citizen.certificate.public_bytes(serialization.Encoding.DER)
    digest = hashlib.new(algorithm.replace("-", "").lower(), DOCUMENT).digest()
    assert header == {
        "alg": "ES256",
        "typ": "jose",
        "x5t#S256": _b64url(hashlib.sha256(der).digest()),
        "x5c": [
            base64.b64encode(der).decode(),
            base64.b64encode(ca.certificate.public_bytes(serialization.Encoding.DER)).decode(),
        ],
        "sigT": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sigD": {
            "mId": "http://uri.etsi.org/19182/ObjectIdByURIHash",
            "pars": ["contract.json"],
            "hashM": hash_m,
            "hashV": [_b64url(digest)],
        },
        "crit": ["sigT", "sigD"],
    }


def test_joserfc_verifies_it_with_the_certificate_key(
    ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    token = _sign(ca, citizen, now)
    key = ECKey.import_key(citizen.certificate.public_key())
    verified = jws.deserialize_compact(token, key, registry=JadesRegistry(["ES256"]))
    assert verified.payload == b""
    assert verified.headers()["sigD"]["hashV"] == [_b64url(hashlib.sha256(DOCUMENT).digest())]

    other = ECKey.import_key(ca.private_key.public_key())
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal will do
        jws.deserialize_compact(token, other, registry=JadesRegistry(["ES256", "ES384"]))


def test_pyjwt_verifies_the_signature_value(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    """pyjwt refuses the JAdES critical header parameters (it does not know them), so its
    ES256 algorithm checks the signature over the JWS Signing Input directly."""
    token = _sign(ca, citizen, now)
    header_part, _, signature_part = token.split(".")
    with pytest.raises(jwt.InvalidTokenError, match="Unsupported critical extension: sigT"):
        jwt.get_unverified_header(token)  # crit is honoured: a JWS library must not skip it
    algorithm = ECAlgorithm(ECAlgorithm.SHA256)
    signature = base64.urlsafe_b64decode(signature_part + "=" * (-len(signature_part) % 4))
    public_key = citizen.certificate.public_key()
    assert algorithm.verify(f"{header_part}.".encode(), public_key, signature)  # type: ignore[arg-type]
    assert not algorithm.verify(f"{header_part}.x".encode(), public_key, signature)  # type: ignore[arg-type]


def test_bad_input_is_refused(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    with pytest.raises(DigestError, match="A SHA-384 digest is 48 bytes"):
        build_detached_jades(
            digest=b"\x00" * 32,
            digest_algorithm="SHA-384",
            document_name="a.pdf",
            private_key=citizen.key,
            certificate=citizen.certificate,
            chain=[],
            signing_time=now,
        )
    with pytest.raises(ValueError, match="does not belong"):
        build_detached_jades(
            digest=b"\x00" * 32,
            digest_algorithm="SHA-256",
            document_name="a.pdf",
            private_key=ca.private_key,
            certificate=citizen.certificate,
            chain=[],
            signing_time=now,
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        build_detached_jades(
            digest=b"\x00" * 32,
            digest_algorithm="SHA-256",
            document_name="a.pdf",
            private_key=citizen.key,
            certificate=citizen.certificate,
            chain=[],
            signing_time=now.replace(tzinfo=None),
        )
