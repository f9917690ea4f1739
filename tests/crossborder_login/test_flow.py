"""A citizen of Brazil logs in at a Uruguayan portal through Uruguay's provider (A), which
trusts Brazil's provider (B) only through the federation's Trust Anchor.

Each refusal ends on a page in the citizen's language, gives the portal a standard error,
and creates no account, no session login and no code."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp.storage.models import AuthorizationCode, Citizen, CrossBorderLogin, FederatedIdentity
from tests.crossborder_login.conftest import (
    EIDAS_HIGH,
    EIDAS_LOW,
    EIDAS_SUBSTANTIAL,
    PORTAL_REDIRECT_URI,
    A,
    World,
    query_of,
)
from tests.federation.builder import TA
from tests.federation_crossborder.kit import OTHER_KEY, B
from tests.helpers import csrf_token_of

PORTAL_VERIFIER = "portal-code-verifier-" + "x" * 40
VERIFIED_CLAIMS_REQUEST = {
    "verification": {
        "trust_framework": None,
        "evidence": [
            {"type": {"value": "electronic_record"}, "record": {"type": None, "source": None}}
        ],
    },
    "claims": {"given_name": None, "family_name": None, "birthdate": None},
}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def a_keys(world: World) -> jwt.PyJWKSet:
    return jwt.PyJWKSet.from_dict(world.browser.get("/jwks.json").json())


def verify_by_a(world: World, token: str, **options: Any) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    key = a_keys(world)[header["kid"]]
    return jwt.decode(token, key.key, algorithms=[header["alg"]], **options)


def portal_authorize(world: World, *, acr: str | None = "urn:iduruguay:nid:1", **extra: str) -> str:
    """The portal sends the citizen to A; returns the login page's address."""
    params = {
        "response_type": "code",
        "client_id": world.portal_id,
        "redirect_uri": PORTAL_REDIRECT_URI,
        "scope": "openid profile",
        "state": "portal-state",
        "nonce": "portal-nonce",
        "code_challenge": s256(PORTAL_VERIFIER),
        "code_challenge_method": "S256",
        "claims": json.dumps(
            {
                "id_token": {
                    "person_identifier": None,
                    "nationalities": None,
                    "verified_claims": VERIFIED_CLAIMS_REQUEST,
                }
            }
        ),
        **extra,
    }
    if acr:
        params["acr_values"] = acr
    answer = world.browser.get("/authorize", params=params, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/login?")
    return answer.headers["location"]


def choose_peer(world: World, login_url: str, *, peer: str = B) -> Any:
    page = world.browser.get(login_url)
    assert page.status_code == 200
    return world.browser.post(
        "/federation/start",
        data={
            "csrf_token": csrf_token_of(page),
            "request_id": query_of(login_url)["request_id"],
            "peer": peer,
        },
        follow_redirects=False,
    )


def sent_to_peer(world: World, answer: Any) -> dict[str, Any]:
    """The Request Object A sent to B, verified with A's published keys."""
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{B}/authorize?")
    request_object = query_of(location)["request"]
    assert jwt.get_unverified_header(request_object)["typ"] == "oauth-authz-req+jwt"
    world.sent = verify_by_a(world, request_object, audience=B)
    return world.sent


def peer_answers(world: World, **params: str) -> Any:
    query = {"code": "code-from-b", "state": world.sent["state"], "iss": B} | params
    return world.browser.get("/federation/callback", params=query, follow_redirects=False)


def consent(world: World, page: Any, decision: str = "allow") -> Any:
    login = page.text.split('name="login" value="')[1].split('"')[0]
    return world.browser.post(
        "/federation/consent",
        data={"csrf_token": csrf_token_of(page), "login": login, "decision": decision},
        follow_redirects=False,
    )


def follow_to_portal(world: World, answer: Any) -> dict[str, str]:
    while answer.status_code == 303 and not answer.headers["location"].startswith(
        PORTAL_REDIRECT_URI
    ):
        answer = world.browser.get(answer.headers["location"], follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return query_of(answer.headers["location"])


def counts(world: World) -> dict[str, int]:
    with world.app.state.provider.database.transaction() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Citizen, FederatedIdentity, AuthorizationCode, CrossBorderLogin)
        }


NOTHING = {"Citizen": 0, "FederatedIdentity": 0, "AuthorizationCode": 0, "CrossBorderLogin": 0}


# --- the whole login ----------------------------------------------------------------------


def test_a_brazilian_citizen_logs_in_at_a_uruguayan_portal(world: World) -> None:
    login_url = portal_authorize(world)
    login_page = world.browser.get(login_url)
    assert "Ingresar con gov.br (Brasil)" in login_page.text
    assert B.split("//")[1] in login_page.headers["content-security-policy"]

    sent = sent_to_peer(world, choose_peer(world, login_url))
    assert sent["iss"] == sent["client_id"] == A
    assert sent["redirect_uri"] == f"{A}/federation/callback"
    assert sent["acr_values"] == EIDAS_LOW  # the portal's level, in B's vocabulary
    assert sent["code_challenge_method"] == "S256"
    assert sent["claims"]["id_token"]["given_name"] == {"essential": True}

    world.answer_with(amr=["pwd", "otp", "mfa", "urn:govbr:secret"])
    consent_page = peer_answers(world)
    assert consent_page.status_code == 200, consent_page.text
    for shown in ("Maria", "da Silva", "1990-04-01", "Brasil", "BR/UY/", "Portal de trámites"):
        assert shown in consent_page.text
    assert counts(world)["Citizen"] == 0  # nothing is created before the citizen agrees

    # A redeemed B's code with PKCE and private_key_jwt signed by its published key
    form = world.peer.received[-1]
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "code-from-b"
    assert s256(form["code_verifier"]) == sent["code_challenge"]
    assertion = verify_by_a(world, form["client_assertion"], audience=B)
    assert assertion["iss"] == assertion["sub"] == A

    portal = follow_to_portal(world, consent(world, consent_page))
    assert portal["state"] == "portal-state"
    assert portal["iss"] == A
    tokens = world.browser.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": portal["code"],
            "redirect_uri": PORTAL_REDIRECT_URI,
            "code_verifier": PORTAL_VERIFIER,
        },
        auth=(world.portal_id, world.portal_secret),
    )
    assert tokens.status_code == 200, tokens.text
    id_token = verify_by_a(world, tokens.json()["id_token"], audience=world.portal_id)
    assert id_token["iss"] == A
    assert id_token["nonce"] == "portal-nonce"
    assert id_token["acr"] == "urn:iduruguay:nid:1"
    assert id_token["amr"][0] == "fed"
    assert {"pwd", "otp", "mfa"} <= set(id_token["amr"])
    assert "urn:govbr:secret" not in id_token["amr"]
    assert id_token["person_identifier"].startswith("BR/UY/")
    assert len(id_token["person_identifier"]) == len("BR/UY/") + 32
    assert id_token["nationalities"] == ["BR"]
    verified = id_token["verified_claims"]
    assert verified["claims"] == {
        "given_name": "Maria",
        "family_name": "da Silva",
        "birthdate": "1990-04-01",
    }
    record = verified["verification"]["evidence"][0]["record"]
    assert record["source"] == {"name": "gov.br", "country_code": "BR", "issuer": B}
    assert id_token["sub"] != "br-citizen-123"  # the portal gets A's subject, never B's

    userinfo = world.browser.get(
        "/userinfo", headers={"authorization": f"Bearer {tokens.json()['access_token']}"}
    ).json()
    assert userinfo["given_name"] == "Maria"
    assert userinfo["family_name"] == "da Silva"
    assert userinfo["person_identifier"] == id_token["person_identifier"]
    assert counts(world) | {"AuthorizationCode": 0} == {
        "Citizen": 1,
        "FederatedIdentity": 1,
        "AuthorizationCode": 0,
        "CrossBorderLogin": 0,
    }


def test_the_same_person_gets_the_same_account_and_identifier_next_time(world: World) -> None:
    identifiers = []
    for _ in range(2):
        world.browser.cookies.clear()
        sent_to_peer(world, choose_peer(world, portal_authorize(world)))
        world.answer_with()
        follow_to_portal(world, consent(world, peer_answers(world)))
        with world.app.state.provider.database.transaction() as session:
            identifiers.append(session.scalars(select(FederatedIdentity)).one().person_identifier)
    assert identifiers[0] == identifiers[1]
    assert counts(world)["Citizen"] == 1


def test_the_portal_level_is_forwarded_and_the_mapped_acr_returned(world: World) -> None:
    login_url = portal_authorize(world, acr="urn:iduruguay:nid:2")
    assert sent_to_peer(world, choose_peer(world, login_url))["acr_values"] == EIDAS_SUBSTANTIAL
    world.answer_with(acr=EIDAS_HIGH)
    portal = follow_to_portal(world, consent(world, peer_answers(world)))
    tokens = world.browser.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": portal["code"],
            "redirect_uri": PORTAL_REDIRECT_URI,
            "code_verifier": PORTAL_VERIFIER,
        },
        auth=(world.portal_id, world.portal_secret),
    )
    claims = verify_by_a(world, tokens.json()["id_token"], audience=world.portal_id)
    assert claims["acr"] == "urn:iduruguay:nid:3"


def test_the_login_page_speaks_the_citizens_language(world: World) -> None:
    login_url = portal_authorize(world, ui_locales="pt-BR")
    assert "Entrar com gov.br (Brasil)" in world.browser.get(login_url).text


# --- refusals -----------------------------------------------------------------------------


def refused(world: World, answer: Any, *, error: str, text: str) -> None:
    """The refusal page, its message, and the portal's standard error behind its button."""
    assert answer.status_code in (400, 502), answer.text
    assert text in answer.text
    assert "No se creó ninguna cuenta" in answer.text
    link = answer.text.split('class="button secondary" href="')[1].split('"')[0]
    link = link.replace("&amp;", "&")
    assert link.startswith(PORTAL_REDIRECT_URI)
    parameters = query_of(link)
    assert parameters["error"] == error
    assert parameters["state"] == "portal-state"
    assert parameters["iss"] == A
    assert counts(world) == NOTHING


UNTRUSTED = "No podemos confiar en la respuesta"


@pytest.mark.parametrize(
    ("overrides", "error", "text"),
    [
        pytest.param({"iss": "https://impostor.example.org"}, "access_denied", UNTRUSTED, id="iss"),
        pytest.param({"aud": "https://other.example.org"}, "access_denied", UNTRUSTED, id="aud"),
        pytest.param({"nonce": "another-nonce"}, "access_denied", UNTRUSTED, id="nonce"),
        pytest.param({"_key": OTHER_KEY}, "access_denied", UNTRUSTED, id="signature"),
        pytest.param(
            {"exp": 1_000_000_000, "iat": 999_999_000}, "access_denied", UNTRUSTED, id="expired"
        ),
        pytest.param(
            {"acr": "http://eidas.europa.eu/LoA/low"},
            "unmet_authentication_requirements",
            "no alcanza",
            id="level-too-low",
        ),
        pytest.param(
            {"birthdate": None}, "access_denied", "no envió todos los datos", id="missing"
        ),
    ],
)
def test_a_bad_id_token_from_the_peer_is_refused(
    world: World, overrides: dict[str, Any], error: str, text: str
) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world, acr="urn:iduruguay:nid:2")))
    world.answer_with(**({"acr": EIDAS_SUBSTANTIAL} | overrides))
    refused(world, peer_answers(world), error=error, text=text)


def test_an_error_from_the_peer_is_refused(world: World) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    answer = world.browser.get(
        "/federation/callback",
        params={"error": "access_denied", "state": world.sent["state"], "iss": B},
        follow_redirects=False,
    )
    refused(world, answer, error="access_denied", text="se canceló")


def test_a_token_endpoint_error_is_refused(world: World) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.peer.status, world.peer.respond = 400, lambda form: {"error": "invalid_grant"}
    refused(world, peer_answers(world), error="access_denied", text="se canceló")


def test_an_answer_with_another_state_is_refused_and_the_login_stays_pending(
    world: World,
) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    answer = peer_answers(world, state="forged-state")
    assert answer.status_code == 400
    assert "no corresponde a un inicio de sesión en curso" in answer.text
    assert world.peer.received == []  # no code was redeemed
    assert counts(world) | {"CrossBorderLogin": 0} == NOTHING


def test_an_answer_replayed_after_the_login_is_refused(world: World) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    assert peer_answers(world).status_code == 200
    replay = peer_answers(world)
    assert replay.status_code == 400
    assert "no corresponde" in replay.text
    assert len(world.peer.received) == 1


def test_an_answer_in_another_browser_is_refused(world: World) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    with TestClient(world.app, base_url=A) as other:
        assert other.get("/login").status_code == 200  # a session of its own
        query = {"code": "code-from-b", "state": world.sent["state"], "iss": B}
        answer = other.get("/federation/callback", params=query, follow_redirects=False)
    assert answer.status_code == 400
    assert "no corresponde" in answer.text
    assert world.peer.received == []


def test_an_answer_with_the_wrong_iss_parameter_is_refused(world: World) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    refused(
        world,
        peer_answers(world, iss="https://impostor.example.org"),
        error="access_denied",
        text=UNTRUSTED,
    )
    assert world.peer.received == []


def test_a_peer_that_is_not_listed_is_refused_before_the_citizen_leaves(world: World) -> None:
    answer = choose_peer(world, portal_authorize(world), peer="https://evil.example.org")
    refused(world, answer, error="access_denied", text="no forma parte de la federación")


def test_a_peer_removed_from_the_trust_anchor_is_refused(world: World) -> None:
    login_url = portal_authorize(world)
    del world.fed.subordinate_claims[(TA, B)]
    answer = choose_peer(world, login_url)
    refused(world, answer, error="temporarily_unavailable", text="No pudimos comunicarnos")


def test_a_peer_whose_statement_expired_is_refused(world: World) -> None:
    world.fed.subordinate(TA, B, exp=world.fed.now - 3600, iat=world.fed.now - 7200)
    refused(
        world, choose_peer(world, portal_authorize(world)), error="access_denied", text=UNTRUSTED
    )
    assert world.peer.received == []


def test_a_peer_with_a_bad_signature_is_refused(world: World) -> None:
    world.fed.statement_overrides[(TA, B)] = jwt.encode(
        world.fed.statement_claims(TA, B),
        OTHER_KEY,
        algorithm="ES256",
        headers={"typ": "entity-statement+jwt", "kid": world.fed.entities[TA].kid},
    )
    refused(
        world, choose_peer(world, portal_authorize(world)), error="access_denied", text=UNTRUSTED
    )


def test_an_unreachable_token_endpoint_is_refused(
    world: World, settings_factory: Any, sqlite_database_url: str
) -> None:
    from tests.support.live_server import free_port

    world.fed.entities[B].metadata["openid_provider"]["token_endpoint"] = (
        f"http://127.0.0.1:{free_port()}/token"
    )
    world.app.state.provider.federation.forget()
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    refused(world, peer_answers(world), error="temporarily_unavailable", text="No pudimos")


def test_a_citizen_who_declines_sends_access_denied_and_nothing_is_created(
    world: World,
) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    answer = consent(world, peer_answers(world), decision="deny")
    portal = query_of(answer.headers["location"])
    assert portal["error"] == "access_denied"
    assert portal["state"] == "portal-state"
    assert counts(world) == NOTHING


def test_the_consent_needs_the_csrf_token(world: World) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    page = peer_answers(world)
    login = page.text.split('name="login" value="')[1].split('"')[0]
    answer = world.browser.post(
        "/federation/consent",
        data={"csrf_token": "forged", "login": login, "decision": "allow"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert counts(world)["Citizen"] == 0


def test_a_higher_level_later_sends_the_foreign_citizen_back_to_their_provider(
    world: World,
) -> None:
    """No TOTP or eID card step-up for a citizen of another country: their level is raised
    at home, so the login page comes back and the new request forwards the higher level."""
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    follow_to_portal(world, consent(world, peer_answers(world)))

    login_url = portal_authorize(world, acr="urn:iduruguay:nid:2")
    assert sent_to_peer(world, choose_peer(world, login_url))["acr_values"] == EIDAS_SUBSTANTIAL
    world.answer_with(acr=EIDAS_SUBSTANTIAL)
    portal = follow_to_portal(world, consent(world, peer_answers(world)))
    tokens = world.browser.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": portal["code"],
            "redirect_uri": PORTAL_REDIRECT_URI,
            "code_verifier": PORTAL_VERIFIER,
        },
        auth=(world.portal_id, world.portal_secret),
    )
    claims = verify_by_a(world, tokens.json()["id_token"], audience=world.portal_id)
    assert claims["acr"] == "urn:iduruguay:nid:2"
    assert counts(world)["Citizen"] == 1


def test_a_session_made_here_is_not_taken_for_a_foreign_one(world: World) -> None:
    """A citizen of this country who logged in with a password and lacks a level gets the
    usual step-up, not the foreign providers' way."""
    from tests.helpers import add_citizen, log_in

    provider = world.app.state.provider
    add_citizen(provider.database, provider.hasher, verification_level=2)
    log_in(world.browser)
    params = {
        "response_type": "code",
        "client_id": world.portal_id,
        "redirect_uri": PORTAL_REDIRECT_URI,
        "scope": "openid",
        "code_challenge": s256(PORTAL_VERIFIER),
        "code_challenge_method": "S256",
        "acr_values": "urn:iduruguay:nid:2",
    }
    answer = world.browser.get("/authorize", params=params, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/step-up")


def test_a_refused_answer_cannot_be_replayed(world: World) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with(nonce="not the nonce that was sent")
    assert peer_answers(world).status_code == 400
    world.answer_with()
    replay = peer_answers(world)
    assert replay.status_code == 400
    assert "no corresponde" in replay.text
    assert len(world.peer.received) == 1  # the code was redeemed once, then never again
    assert counts(world) == NOTHING


def test_the_foreign_citizen_sees_their_account_page(world: World) -> None:
    sent_to_peer(world, choose_peer(world, portal_authorize(world)))
    world.answer_with()
    follow_to_portal(world, consent(world, peer_answers(world)))
    page = world.browser.get("/account")
    assert page.status_code == 200
    assert "Maria" in page.text
    assert "BR/UY/" in page.text
    activity = world.browser.get("/account/activity")
    assert activity.status_code == 200
    services = world.browser.get("/account/services")
    assert services.status_code == 200
    assert "Portal de trámites" in services.text


def test_choosing_a_peer_needs_the_csrf_token(world: World) -> None:
    login_url = portal_authorize(world)
    answer = world.browser.post(
        "/federation/start",
        data={
            "csrf_token": "forged",
            "request_id": query_of(login_url)["request_id"],
            "peer": B,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert counts(world) == NOTHING


def test_a_peer_name_with_markup_is_shown_as_text(world: World) -> None:
    entity = world.fed.entities[B]
    entity.metadata["federation_entity"]["organization_name"] = '<img src=x onerror="alert(1)">'
    world.app.state.provider.federation.forget()
    page = world.browser.get(portal_authorize(world))
    assert "&lt;img src=x onerror=" in page.text
    assert '<img src=x onerror="alert(1)">' not in page.text
