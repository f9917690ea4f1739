"""Done means: three real providers on 127.0.0.1 (a regional Trust Anchor, Uruguay's provider
and Brazil's provider), set up only with the operator's commands, and a Brazilian citizen who
logs in at a portal of Uruguay.

Uruguay's provider (UY) lists Brazil's (BR) on its login page because the Trust Anchor lists
it; it sends the citizen to BR as an automatically registered relying party (client_id = its
Entity Identifier, signed Request Object, private_key_jwt); BR resolves UY's Trust Chain
before it accepts it; UY checks BR's ID token with the keys of BR's resolved metadata, maps
BR's eIDAS acr to its own, asks the citizen's consent and answers the portal with its own ID
token."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import jwt
import pytest

from tests.support.browser_flow import forms_of
from tests.support.federation_processes import Entity, entity

PORTAL_REDIRECT_URI = "https://tramites.example.gub.uy/callback"
BR_USERNAME = "123.456.789-09"
BR_PASSWORD = "senha forte do cidadao"
VERIFIED_CLAIMS_REQUEST = {
    "verification": {
        "trust_framework": None,
        "evidence": [{"type": {"value": "electronic_record"}, "record": {"source": None}}],
    },
    "claims": {"given_name": None},
}


@dataclass
class Region:
    trust_anchor: Entity
    uy: Entity
    br: Entity
    portal_id: str
    portal_secret: str


def _write(folder: Path, name: str, document: Any) -> str:
    path = folder / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    folder = tmp_path_factory.mktemp("region")
    trust_anchor = entity(
        "trust-anchor", folder, role="trust_anchor", organization_name="Federación regional"
    )
    trust_anchor.idp("db", "upgrade")
    trust_anchor.idp("keys", "rotate", "--purpose", "federation", "--json")
    anchors = json.dumps(
        {trust_anchor.entity_id: trust_anchor.idp("keys", "export-jwks", "--purpose", "federation")}
    )
    common = {"authority_hints": json.dumps([trust_anchor.entity_id]), "trust_anchors": anchors}
    uy = entity("uy", folder, organization_name="ID Uruguay", **common)
    br = entity("br", folder, host="localhost", organization_name="gov.br", **common)
    uy.env |= {"IDP_COUNTRY": "UY", "IDP_ACR_PROFILE": "iduruguay"}
    br.env |= {"IDP_COUNTRY": "BR", "IDP_ACR_PROFILE": "eidas"}
    members = (trust_anchor, uy, br)
    for member in members:
        member.env["IDP_ALLOW_PRIVATE_NETWORK_FETCHES"] = "true"
    try:
        for leaf in (uy, br):
            leaf.idp("db", "upgrade")
            leaf.idp("keys", "rotate", "--purpose", "federation", "--json")
            jwks = leaf.idp("keys", "export-jwks", "--purpose", "federation")
            trust_anchor.idp(
                "federation",
                "add-subordinate",
                leaf.entity_id,
                "--jwks-file",
                _write(folder, f"{leaf.name}-jwks.json", jwks),
                "--entity-type",
                "openid_provider",
                "--entity-type",
                "openid_relying_party",
                "--json",
            )
        br.idp(
            "users",
            "create",
            "--username",
            BR_USERNAME,
            "--document-type",
            "cpf",
            "--country",
            "BR",
            "--given-name",
            "Maria",
            "--family-name",
            "da Silva",
            "--birthdate",
            "1990-04-01",
            "--verification-level",
            "2",
            "--password-stdin",
            "--json",
            stdin=BR_PASSWORD + "\n",
        )
        portal = uy.idp(
            "clients",
            "create",
            "--name",
            "Portal de trámites",
            "--redirect-uri",
            PORTAL_REDIRECT_URI,
            "--json",
        )
        for member in members:
            member.start()
        for member in members:
            member.wait_until_ready()
        yield Region(trust_anchor, uy, br, portal["client_id"], portal["client_secret"])
    finally:
        for member in members:
            member.stop()


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verified_by(issuer: str, token: str, audience: str) -> dict[str, Any]:
    keys = jwt.PyJWKSet.from_dict(httpx.get(f"{issuer}/jwks.json").json())
    header = jwt.get_unverified_header(token)
    return jwt.decode(token, keys[header["kid"]].key, algorithms=[header["alg"]], audience=audience)


def test_a_brazilian_citizen_logs_in_at_a_uruguayan_portal(region: Region) -> None:
    uy, br = region.uy.entity_id, region.br.entity_id
    verifier = secrets.token_urlsafe(48)
    browser = httpx.Client(timeout=20, follow_redirects=True)
    answer = browser.get(
        f"{uy}/authorize",
        params={
            "response_type": "code",
            "client_id": region.portal_id,
            "redirect_uri": PORTAL_REDIRECT_URI,
            "scope": "openid profile",
            "state": "portal-state",
            "nonce": "portal-nonce",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "acr_values": "urn:iduruguay:nid:1",
            "ui_locales": "pt-BR",
            "claims": json.dumps({"id_token": {"verified_claims": VERIFIED_CLAIMS_REQUEST}}),
        },
    )
    # UY's login page offers Brazil's provider, named as the Trust Chain resolves it
    assert str(answer.url).startswith(f"{uy}/login?")
    assert "Entrar com gov.br (Brasil)" in answer.text
    [choice] = [form for form in forms_of(answer.text) if form.fields.get("peer") == br]

    # to BR, as UY's automatically registered relying party
    answer = browser.post(urljoin(uy, choice.action), data=choice.fields, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(f"{br}/authorize?")
    sent = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    assert sent["client_id"] == uy
    request_object = verified_by(uy, sent["request"], audience=br)
    assert request_object["acr_values"] == "http://eidas.europa.eu/LoA/low"

    # BR: the citizen logs in and agrees that UY receives their data
    answer = browser.get(answer.headers["location"])
    [login] = [form for form in forms_of(answer.text) if "password" in form.inputs]
    answer = browser.post(
        urljoin(str(answer.url), login.action),
        data=login.fields | {"username": BR_USERNAME, "password": BR_PASSWORD},
    )
    assert "ID Uruguay" in answer.text or "gov.br" in answer.text, answer.text
    [consent_at_br] = [form for form in forms_of(answer.text) if "decision" in form.buttons]
    answer = browser.post(
        urljoin(str(answer.url), consent_at_br.action),
        data=consent_at_br.fields | {"decision": "allow"},
    )

    # back at UY (the callback redeemed BR's code): UY's own consent page
    assert str(answer.url).startswith(f"{uy}/federation/callback")
    assert answer.status_code == 200, answer.text
    for shown in ("Maria", "da Silva", "1990-04-01", "Brasil", "BR/UY/"):
        assert shown in answer.text
    [consent_at_uy] = [form for form in forms_of(answer.text) if "decision" in form.buttons]
    answer = browser.post(
        urljoin(str(answer.url), consent_at_uy.action),
        data=consent_at_uy.fields | {"decision": "allow"},
        follow_redirects=False,
    )
    while not answer.headers["location"].startswith(PORTAL_REDIRECT_URI):
        answer = browser.get(urljoin(uy, answer.headers["location"]), follow_redirects=False)
    portal = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    assert portal["state"] == "portal-state"

    tokens = httpx.post(
        f"{uy}/token",
        data={
            "grant_type": "authorization_code",
            "code": portal["code"],
            "redirect_uri": PORTAL_REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(region.portal_id, region.portal_secret),
    )
    assert tokens.status_code == 200, tokens.text
    id_token = verified_by(uy, tokens.json()["id_token"], audience=region.portal_id)
    assert id_token["iss"] == uy
    assert id_token["nonce"] == "portal-nonce"
    assert id_token["acr"] == "urn:iduruguay:nid:1"  # BR's eIDAS "low", in UY's vocabulary
    assert id_token["amr"][0] == "fed"
    assert "pwd" in id_token["amr"]
    evidence = id_token["verified_claims"]["verification"]["evidence"][0]
    assert evidence["record"]["source"] == {"name": "gov.br", "country_code": "BR", "issuer": br}
    assert id_token["verified_claims"]["claims"] == {"given_name": "Maria"}
    userinfo = httpx.get(
        f"{uy}/userinfo", headers={"authorization": f"Bearer {tokens.json()['access_token']}"}
    ).json()
    assert userinfo["given_name"] == "Maria"
    assert userinfo["family_name"] == "da Silva"
    assert userinfo["birthdate"] == "1990-04-01"
    assert userinfo["nationalities"] == ["BR"]
    assert userinfo["person_identifier"].startswith("BR/UY/")
