"""Document numbers as usernames: normalisation, the Uruguayan check digit and the refusals."""

from __future__ import annotations

import pytest

from idp.accounts.documents import (
    DocumentError,
    NationalDocument,
    normalise_document_number,
    parse_document,
    uruguay_ci_check_digit,
)


def _uy_ci(number: str) -> NationalDocument:
    return parse_document(number=number, document_type="ci", country="UY")


@pytest.mark.parametrize("typed", ["1.234.567-2", " 1234567-2 ", "12345672", "1 234 567/2"])
def test_the_ways_people_type_a_number_normalise_to_one_username(typed: str) -> None:
    assert normalise_document_number(typed) == "12345672"
    assert _uy_ci(typed).username == "12345672"


def test_letters_are_upper_cased() -> None:
    assert normalise_document_number("ab-123.456") == "AB123456"


@pytest.mark.parametrize(
    ("body", "check_digit"),
    [
        ("1234567", 2),  # 1*2+2*9+3*8+4*7+5*6+6*3+7*4 = 148 -> 2
        ("2345678", 3),
        ("4567890", 5),
        ("123456", 1),  # six digits weigh as 0123456
        ("9999999", 9),  # 9 * 39 = 351 -> 9
        ("1000000", 8),
        ("2000004", 0),  # 2*2 + 4*4 = 20: the check digit is 0, not 10
    ],
)
def test_the_uruguayan_check_digit(body: str, check_digit: int) -> None:
    assert uruguay_ci_check_digit(body) == check_digit


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("1.234.567-2", "12345672"),  # 7 + 1 digits
        ("4.567.890-5", "45678905"),
        ("123.456-1", "1234561"),  # 6 + 1 digits
        ("2.000.004-0", "20000040"),
    ],
)
def test_a_valid_cedula_is_accepted(typed: str, number: str) -> None:
    assert _uy_ci(typed) == NationalDocument(country="UY", type="ci", number=number)


@pytest.mark.parametrize("typed", ["1.234.567-3", "1.234.567-0", "123.456-2", "2.345.678-2"])
def test_a_wrong_check_digit_is_refused(typed: str) -> None:
    with pytest.raises(DocumentError, match=r"^The cédula's check digit does not match"):
        _uy_ci(typed)


@pytest.mark.parametrize("typed", ["12345", "123456", "123456789", "1234567A"])
def test_a_cedula_of_the_wrong_shape_is_refused(typed: str) -> None:
    with pytest.raises(DocumentError, match=r"^A Uruguayan cédula has 7 or 8 digits"):
        _uy_ci(typed)


@pytest.mark.parametrize("typed", ["0.123.456-1", "01234561", "0.12345-6"])
def test_a_cedula_with_a_leading_zero_is_refused(typed: str) -> None:
    """0.123.456-1 passes the check digit like 123.456-1 but would be a second username."""
    with pytest.raises(DocumentError, match=r"^A Uruguayan cédula does not start with 0"):
        _uy_ci(typed)


@pytest.mark.parametrize(
    ("number", "document_type", "country"),
    [
        ("1.234.567-3", "ci", "AR"),  # not Uruguay: no Uruguayan check digit
        ("12345673", "passport", "UY"),  # a Uruguayan passport: no cédula check digit
        ("123.456.789-09", "cpf", "BR"),
        ("AB123456", "passport", "UY"),
        ("0012", "other", "PY"),
    ],
)
def test_other_documents_skip_the_cedula_check(
    number: str, document_type: str, country: str
) -> None:
    document = parse_document(number=number, document_type=document_type, country=country)
    assert document.number == normalise_document_number(number)
    assert (document.type, document.country) == (document_type, country)


def test_type_and_country_are_normalised() -> None:
    document = parse_document(number="12.345.678", document_type=" DNI ", country=" ar ")
    assert document == NationalDocument(country="AR", type="dni", number="12345678")


@pytest.mark.parametrize("country", ["URY", "U", "", "1A", "U-", "ÑA", "ÜY"])
def test_a_bad_country_is_refused(country: str) -> None:
    with pytest.raises(DocumentError) as refused:
        parse_document(number="12345678", document_type="dni", country=country)
    assert str(refused.value) == "The issuing country must be a two-letter ISO 3166-1 code."


@pytest.mark.parametrize("document_type", ["license", "", "cédula"])
def test_an_unknown_document_type_is_refused(document_type: str) -> None:
    with pytest.raises(DocumentError) as refused:
        parse_document(number="12345678", document_type=document_type, country="AR")
    message = str(refused.value)
    assert message.startswith(f"Unknown document type {document_type!r}; use one of ci, passport")
    assert message.endswith(".")


@pytest.mark.parametrize(
    "number",
    ["123", "1.2.3", "", "   ", "A" * 21, "1234_567", "12345ñ", "1234567+", "١٢٣٤٥٦٧٨"],
    ids=[
        "3-characters",
        "3-digits-with-dots",
        "empty",
        "spaces",
        "21-characters",
        "underscore",
        "n-tilde",
        "plus",
        "arabic-indic-digits",
    ],
)
def test_a_number_too_short_too_long_or_not_alphanumeric_is_refused(number: str) -> None:
    with pytest.raises(DocumentError) as refused:
        parse_document(number=number, document_type="passport", country="AR")
    assert str(refused.value) == (
        "The document number must have 4 to 20 letters or digits "
        "(dots, spaces and hyphens are ignored)."
    )


def test_the_length_limits_are_inclusive() -> None:
    assert parse_document(number="ABCD", document_type="passport", country="AR").number == "ABCD"
    twenty = "A1" * 10
    assert parse_document(number=twenty, document_type="passport", country="AR").number == twenty
