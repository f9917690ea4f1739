"""``idp ca`` and ``idp signatures``: the citizen-signing CA and signature verification.

- ``ca init [--country C] [--organisation O] [--common-name N]``: create the provider's
  signature CA under the keys folder (key encrypted with the key passphrase); refuses when one
  exists; prints the certificate's path and SHA-256 fingerprint;
- ``ca show``: the CA certificate (subject, validity, fingerprint); needs no passphrase;
- ``signatures verify --document FILE --signature FILE [--crl FILE] [--ca FILE]``: verify a
  detached CAdES or JAdES signature against the signature CA (or ``--ca``). Exit code 0 when
  valid, 1 when not valid (or not a signature at all), 2 for a usage error (a file that cannot
  be read, no CA to verify against).

Every command accepts ``--json`` and then prints exactly one JSON document on stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from cryptography import x509
from sqlalchemy import select

from idp.cli import common
from idp.config import Settings
from idp.context import utc_now
from idp.signature.ca import SignatureCaError, SigningCa
from idp.signature.verification import (
    SignatureFormatError,
    VerificationReport,
    certificate_fingerprint,
    describe_name,
    verify_signature,
)
from idp.storage.models import SignatureCredential, SignatureCredentialStatus

EXIT_INVALID = 1
EXIT_USAGE = 2
DEFAULT_ORGANISATION = "National digital identity provider"

ca_app = typer.Typer(help="The provider's citizen-signing CA.", no_args_is_help=True)
app = typer.Typer(help="Advanced electronic signatures.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@contextmanager
def _refusals() -> Iterator[None]:
    with common.operator_errors():
        try:
            yield
        except SignatureCaError as exc:
            common.fail(str(exc))


def _usage_error(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def describe_ca(certificate: x509.Certificate, path: Path) -> dict[str, Any]:
    return {
        "certificate": str(path),
        "subject": describe_name(certificate.subject),
        "serial": format(certificate.serial_number, "x"),
        "not_before": certificate.not_valid_before_utc,
        "not_after": certificate.not_valid_after_utc,
        "fingerprint_sha256": certificate_fingerprint(certificate),
    }


def _print_ca(document: dict[str, Any], *, json_output: bool, heading: str) -> None:
    if json_output:
        common.print_json(document)
        return
    typer.echo(f"{heading}: {document['certificate']}")
    typer.echo(f"Subject: {document['subject']}")
    typer.echo(
        f"Valid: {document['not_before']:%Y-%m-%d %H:%M:%S}Z to "
        f"{document['not_after']:%Y-%m-%d %H:%M:%S}Z"
    )
    typer.echo(f"SHA-256 fingerprint: {document['fingerprint_sha256']}")


@ca_app.command("init")
def init(
    country: Annotated[
        str | None, typer.Option("--country", help="Country code (default: IDP_COUNTRY).")
    ] = None,
    organisation: Annotated[
        str, typer.Option("--organisation", help="Organisation named in the CA certificate.")
    ] = DEFAULT_ORGANISATION,
    common_name: Annotated[
        str | None,
        typer.Option("--common-name", help="CA name (default: '<country> Citizen Signature CA')."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create the signature CA under the keys folder (refuses when one exists)."""
    settings = common.settings()
    chosen_country = (country or settings.country).upper()
    name = common_name or f"{chosen_country} Citizen Signature CA"
    with _refusals():
        authority = SigningCa.create(
            settings.keys_dir,
            settings.key_passphrase_bytes(),
            country=chosen_country,
            organisation=organisation,
            common_name=name,
            now=utc_now(),
        )
    path = SigningCa.certificate_path(settings.keys_dir)
    _print_ca(
        describe_ca(authority.certificate, path),
        json_output=json_output,
        heading="Created the signature CA",
    )


@ca_app.command("show")
def show(json_output: JsonOption = False) -> None:
    """Show the signature CA certificate."""
    settings = common.settings()
    with _refusals():
        certificate = SigningCa.load_certificate(settings.keys_dir)
    path = SigningCa.certificate_path(settings.keys_dir)
    _print_ca(describe_ca(certificate, path), json_output=json_output, heading="Signature CA")


def _revocation_source(settings: Settings) -> Callable[[int], datetime | None] | None:
    """Where the CLI learns whether a citizen certificate is revoked (serial -> time): the
    provider's own records of the certificates it issued, read once (they are what its CRL
    publishes, without waiting for the next CRL)."""
    with common.operator_errors(), common.database(settings) as db, db.transaction() as session:
        revoked = {
            int(serial, 16): revoked_at
            for serial, revoked_at in session.execute(
                select(
                    SignatureCredential.certificate_serial, SignatureCredential.revoked_at
                ).where(SignatureCredential.status == SignatureCredentialStatus.REVOKED)
            )
            if revoked_at is not None
        }
    return revoked.get


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _usage_error(f"The {what} {path} cannot be read ({exc.strerror}).")


def _ca_from_file(ca_file: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(ca_file, "CA file"))
    except ValueError:
        _usage_error(f"The CA file {ca_file} is not a PEM certificate.")


def _signature_ca(settings: Settings) -> x509.Certificate:
    try:
        return SigningCa.load_certificate(settings.keys_dir)
    except SignatureCaError as exc:
        _usage_error(str(exc))


def _load_crl(path: Path) -> x509.CertificateRevocationList:
    data = _read(path, "CRL file")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        _usage_error(f"The file {path} is not a CRL (PEM or DER).")


def _print_report(report: VerificationReport) -> None:
    typer.echo(f"Signature: {'VALID' if report.valid else 'NOT VALID'} ({report.format})")
    typer.echo(f"Signer: {report.signer_subject or '(unknown)'}")
    if report.signer_serial_number:
        typer.echo(f"Signer identifier: {report.signer_serial_number}")
    if report.certificate_serial is not None:
        typer.echo(f"Certificate serial: {report.certificate_serial:x}")
    signing_time = f"{report.signing_time:%Y-%m-%d %H:%M:%S}Z" if report.signing_time else "(none)"
    typer.echo(f"Signing time: {signing_time}")
    typer.echo(f"Integrity: {'intact' if report.integrity else 'BROKEN'}")
    typer.echo(f"Chain: {'valid' if report.chain_valid else 'NOT VALID'}")
    for subject in report.chain:
        typer.echo(f"  {subject}")
    revocation = report.revocation
    if report.revoked_at is not None:
        revocation += f" (revoked on {report.revoked_at:%Y-%m-%d %H:%M:%S}Z)"
    typer.echo(f"Revocation: {revocation}")
    for problem in report.problems:
        typer.echo(f"Problem: {problem}")
    for note in report.notes:
        typer.echo(f"Note: {note}")


@app.command("verify")
def verify(
    document: Annotated[Path, typer.Option("--document", help="The signed document.")],
    signature: Annotated[
        Path, typer.Option("--signature", help="The signature (CAdES DER/PEM or JAdES).")
    ],
    crl: Annotated[
        Path | None, typer.Option("--crl", help="A CRL of the signature CA (PEM or DER).")
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca", help="Trust this CA certificate (default: the signature CA)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Verify a detached signature of a document (exit 0 valid, 1 not valid, 2 usage error)."""
    document_bytes = _read(document, "document")
    signature_bytes = _read(signature, "signature")
    is_revoked = None
    if ca_file is not None:
        trusted = _ca_from_file(ca_file)
    else:
        settings = common.settings()
        trusted = _signature_ca(settings)
        is_revoked = _revocation_source(settings)
    revocation_list = _load_crl(crl) if crl is not None else None
    try:
        report = verify_signature(
            signature=signature_bytes,
            document=document_bytes,
            trusted_ca=trusted,
            is_revoked=is_revoked,
            crl=revocation_list,
            now=utc_now(),
        )
    except SignatureFormatError as exc:
        common.fail(str(exc))
    if json_output:
        common.print_json(report.to_json())
    else:
        _print_report(report)
    if not report.valid:
        raise typer.Exit(EXIT_INVALID)
