"""Fixtures of the signature tests: a signature CA in a scratch keys folder and a citizen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from idp.signature.ca import SigningCa
from idp.signature.custody import generate_citizen_key

PASSPHRASE = b"test passphrase"
CRL_URL = "http://127.0.0.1:8000/signature/crl"
CA_AGE = timedelta(days=30)
"""The CA was made a while ago, so that certificates and signatures can be dated in the past."""


@dataclass(frozen=True)
class Citizen:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def issue(
    ca: SigningCa,
    *,
    not_before: datetime,
    not_after: datetime,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Citizen:
    citizen_key = key or generate_citizen_key()
    certificate = ca.issue_certificate(
        citizen_key.public_key(),
        given_name="María",
        family_name="Rodríguez",
        serial_number="IDCUY-12345678",
        country="UY",
        crl_url=CRL_URL,
        not_before=not_before,
        not_after=not_after,
    )
    return Citizen(key=citizen_key, certificate=certificate)


@pytest.fixture
def now() -> datetime:
    """The real time (OpenSSL checks certificates against its own clock), whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def ca(keys_dir: Path, now: datetime) -> SigningCa:
    return SigningCa.create(
        keys_dir,
        PASSPHRASE,
        country="UY",
        organisation="Test identity provider",
        common_name="UY Citizen Signature CA",
        now=now - CA_AGE,
    )


@pytest.fixture
def citizen(ca: SigningCa, now: datetime) -> Citizen:
    return issue(ca, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=365))
