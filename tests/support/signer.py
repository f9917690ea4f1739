"""A citizen who can sign, for tests that drive the provider end to end: the provider's
signing CA, the demo national eID CA, Carlos at verification level 3, and his software eID
card answering the card step-up's challenges."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from idp.assurance.demo_card import DemoCaFiles, sign_challenge
from idp.context import ProviderContext
from idp.signature.ca import SigningCa
from tests.helpers import add_citizen

SIGNER = "4.567.890-5"
SIGNER_DOCUMENT_NUMBER = "45678905"


@dataclass(frozen=True)
class Signer:
    ca: SigningCa
    card_key: ec.EllipticCurvePrivateKey
    card_certificate: x509.Certificate

    def answer(self, challenge: str, *, audience: str, provider: ProviderContext) -> str:
        """The card's answer to a step-up challenge, as the card reader software gives it."""
        return sign_challenge(
            key=self.card_key,
            certificate=self.card_certificate,
            challenge=challenge,
            audience=audience,
            now=provider.clock(),
        )


def signer_with_card(provider: ProviderContext) -> Signer:
    """Create the signing CA and the demo eID CA under the provider's keys, add Carlos at
    level 3, and issue his card."""
    settings = provider.settings
    passphrase = settings.key_passphrase_bytes()
    ca = SigningCa.create(
        settings.keys_dir,
        passphrase,
        country="UY",
        organisation="Agencia de Identidad (pruebas)",
        common_name="Firma ciudadana (pruebas)",
        now=provider.clock(),
    )
    eid = DemoCaFiles.under(settings.keys_dir, passphrase).create(now=provider.clock())
    add_citizen(
        provider.database,
        provider.hasher,
        username=SIGNER,
        given_name="Carlos",
        verification_level=3,
    )
    key, certificate = eid.issue_card(document_number=SIGNER_DOCUMENT_NUMBER, now=provider.clock())
    return Signer(ca=ca, card_key=key, card_certificate=certificate)
