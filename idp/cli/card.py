"""``idp card``: the demo national CA and software eID cards (development and demos only).

- ``demo-ca``: create the demo CA (key encrypted with the key passphrase, certificate, empty
  CRL) under the keys folder; the provider trusts it in development when ``IDP_EID_CA_FILE`` is
  not set;
- ``issue --document N --out FILE.p12``: a software card (ECDSA P-256 key and certificate) for
  a citizen's document number, in a password-protected PKCS#12 file;
- ``revoke --document N``: put that document's cards on the demo CRL;
- ``sign --card FILE.p12 --challenge C``: print the answer to paste into the card page.

Passwords come from ``--password`` or a hidden prompt and are never printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from idp.accounts.documents import parse_document
from idp.assurance.demo_card import DemoCaFiles, DemoCardError, SoftwareCard, sign_challenge
from idp.assurance.eid_card import CHALLENGE_PATTERN
from idp.cli import common
from idp.config import Settings
from idp.context import utc_now

app = typer.Typer(help="Demo eID CA and software eID cards.", no_args_is_help=True)

DocumentOption = Annotated[
    str, typer.Option("--document", help="The citizen's document number (cédula).")
]


@contextmanager
def _refusals() -> Iterator[None]:
    with common.operator_errors():
        try:
            yield
        except DemoCardError as exc:
            common.fail(str(exc))


def _demo_settings() -> Settings:
    settings = common.settings()
    if settings.is_production:
        common.fail("The demo eID CA is for development only; production trusts IDP_EID_CA_FILE.")
    return settings


def _files(settings: Settings) -> DemoCaFiles:
    return DemoCaFiles.under(settings.keys_dir, settings.key_passphrase_bytes())


def _document_number(settings: Settings, raw: str) -> str:
    return parse_document(number=raw, document_type="ci", country=settings.country).number


@app.command("demo-ca")
def demo_ca() -> None:
    """Create the demo national CA and its empty CRL under the keys folder."""
    settings = _demo_settings()
    with _refusals():
        files = _files(settings)
        files.create(now=utc_now())
    typer.echo(f"Created the demo eID CA: {files.certificate_path} (CRL {files.crl_path}).")


@app.command("issue")
def issue(
    document: DocumentOption,
    out: Annotated[Path, typer.Option("--out", help="The PKCS#12 file to write.")],
    password: Annotated[
        str,
        typer.Option(
            "--password",
            prompt="Card password",
            hide_input=True,
            confirmation_prompt=True,
            help="Password of the PKCS#12 file (asked when not given).",
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Holder's name in the certificate.")
    ] = None,
) -> None:
    """Issue a software card for a document number from the demo CA."""
    settings = _demo_settings()
    if not password:
        common.fail("Give the card a password.")
    if out.exists():
        common.fail(f"The file {out} already exists; refusing to overwrite it.")
    with _refusals():
        number = _document_number(settings, document)
        data, certificate = _files(settings).issue(
            document_number=number, name=name, password=password.encode("utf-8"), now=utc_now()
        )
        try:
            descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            common.fail(f"The file {out} cannot be written ({exc.strerror}).")
    typer.echo(
        f"Issued a software eID card for {number} (serial {certificate.serial_number:x}): {out}"
    )


@app.command("revoke")
def revoke(document: DocumentOption) -> None:
    """Revoke every demo card of a document number (adds them to the demo CRL)."""
    settings = _demo_settings()
    with _refusals():
        number = _document_number(settings, document)
        serials = _files(settings).revoke(document_number=number, now=utc_now())
    typer.echo(f"Revoked {len(serials)} card(s) of {number}: {', '.join(serials)}.")


@app.command("sign")
def sign(
    card: Annotated[Path, typer.Option("--card", help="The software card (PKCS#12 file).")],
    challenge: Annotated[str, typer.Option("--challenge", help="The challenge on the page.")],
    password: Annotated[
        str,
        typer.Option(
            "--password",
            prompt="Card password",
            hide_input=True,
            help="Password of the PKCS#12 file (asked when not given).",
        ),
    ],
    audience: Annotated[
        str | None,
        typer.Option("--audience", help="The provider's issuer (default: IDP_ISSUER)."),
    ] = None,
) -> None:
    """Sign a challenge with a software card; print the answer to paste into the page."""
    challenge = challenge.strip()
    if not CHALLENGE_PATTERN.fullmatch(challenge):
        common.fail("The challenge is not one the provider shows (43 letters, digits, - or _).")
    issuer = audience or common.settings().issuer
    try:
        data = card.read_bytes()
    except OSError as exc:
        common.fail(f"The card file {card} cannot be read ({exc.strerror}).")
    with _refusals():
        software_card = SoftwareCard.from_pkcs12(data, password=password.encode("utf-8"))
        answer = sign_challenge(
            key=software_card.key,
            certificate=software_card.certificate,
            intermediates=software_card.chain,
            challenge=challenge,
            audience=issuer,
            now=utc_now(),
        )
    typer.echo(answer)
