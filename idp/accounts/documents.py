"""National document numbers as usernames.

A citizen logs in with their document number, typed as printed ("1.234.567-2") or bare
("12345672"); both normalise to the same username. Uruguay's cédula de identidad carries a check
digit, verified here so that a typing error is caught at once instead of looking like a wrong
password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[\s.\-/]")
_VALID_NUMBER = re.compile(r"[A-Z0-9]{4,20}")
_URUGUAY_CI_WEIGHTS = (2, 9, 8, 7, 6, 3, 4)

DEFAULT_DOCUMENT_TYPE = "ci"
DOCUMENT_TYPES = ("ci", "passport", "dni", "cpf", "rg", "other")
"""ci: cédula de identidad; dni: documento nacional; cpf and rg: Brazil's numbers."""


class DocumentError(ValueError):
    """A document number or type is unusable; the message says why in one sentence."""


@dataclass(frozen=True, slots=True)
class NationalDocument:
    country: str
    type: str
    number: str

    @property
    def username(self) -> str:
        return self.number


def normalise_document_number(raw: str) -> str:
    """Upper-case and drop the separators people type (spaces, dots, hyphens, slashes)."""
    return _SEPARATORS.sub("", raw).upper()


def uruguay_ci_check_digit(body: str) -> int:
    """Check digit of a Uruguayan cédula for its 6 or 7 leading digits."""
    digits = [int(char) for char in body.rjust(7, "0")]
    total = sum(digit * weight for digit, weight in zip(digits, _URUGUAY_CI_WEIGHTS, strict=True))
    return (10 - total % 10) % 10


def parse_document(*, number: str, document_type: str, country: str) -> NationalDocument:
    """Validate and normalise a document; raise ``DocumentError`` with a clear sentence."""
    kind = document_type.strip().lower()
    if kind not in DOCUMENT_TYPES:
        raise DocumentError(
            f"Unknown document type {document_type!r}; use one of {', '.join(DOCUMENT_TYPES)}."
        )
    issuing = country.strip().upper()
    if len(issuing) != 2 or not (issuing.isascii() and issuing.isalpha()):
        raise DocumentError("The issuing country must be a two-letter ISO 3166-1 code.")
    normalised = normalise_document_number(number)
    if not _VALID_NUMBER.fullmatch(normalised):
        raise DocumentError(
            "The document number must have 4 to 20 letters or digits "
            "(dots, spaces and hyphens are ignored)."
        )
    if issuing == "UY" and kind == "ci":
        if not normalised.isdigit() or len(normalised) not in (7, 8):
            raise DocumentError("A Uruguayan cédula has 7 or 8 digits, the last a check digit.")
        if normalised.startswith("0"):
            # "0.123.456-1" is the same cédula as "123.456-1" (a leading zero weighs nothing in
            # the check digit): accepting both would give one person two usernames.
            raise DocumentError(
                "A Uruguayan cédula does not start with 0; type it as printed, such as 123.456-1."
            )
        if uruguay_ci_check_digit(normalised[:-1]) != int(normalised[-1]):
            raise DocumentError("The cédula's check digit does not match; check the number.")
    return NationalDocument(country=issuing, type=kind, number=normalised)
