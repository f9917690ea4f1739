"""The signed authorization request to the peer, and private_key_jwt at its token endpoint."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from idp.config import Settings
from idp.errors import InvalidClient
from idp.federation.crossborder import (
    CrossBorderRefused,
    Refusal,
    SigningKey,
    build_authorization_request,
    client_assertion,
    token_request_form,
)
from idp.federation.crossborder.outbound_request import (
    CLIENT_ASSERTION_TYPE,
    REQUEST_OBJECT_TYP,
    new_pkce_pair,
    s256_challenge,
)
from idp.federation.crossborder.peers import Peer
from idp.oidc.client_assertion import ClientAssertionVerifier
from idp.oidc.client_auth import PresentedCredentials
from idp.storage.database import Database
from idp.storage.models import ClientAuthMethod, OAuthClient
from tests.federation.builder import NOW
from tests.federation_crossborder.kit import (
    A_CALLBACK,
    A_RP_KEY,
    A_SIGNING_KEY,
    OTHER_KEY,
    PEER_B,
    TABLE,
    A,
    B,
    a_rp_jwks,
    peer_b,
)


def build(**kwargs: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {
        "client_id": A,
        "redirect_uri": A_CALLBACK,
        "peer": PEER_B,
        "key": A_SIGNING_KEY,
        "table": TABLE,
        "requested_level": 2,
        "now": NOW,
    }
    options.update(kwargs)
    return build_authorization_request(**options)  # type: ignore[arg-type]


def decode_request_object(token: str) -> dict:
    return jwt.decode(
        token,
        A_RP_KEY.public_key(),
        algorithms=["ES256"],
        audience=B,
        issuer=A,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )


def test_rfc7636_appendix_b_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_pairs_are_fresh_and_valid() -> None:
    first, second = new_pkce_pair(), new_pkce_pair()
    assert first.verifier != second.verifier
    assert 43 <= len(first.verifier) <= 128
    assert first.challenge == s256_challenge(first.verifier)
    assert first.method == "S256"


def test_the_url_carries_the_required_parameters_and_the_request_object() -> None:
    request = build()
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{B}/authorize"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query["client_id"] == A
    assert query["response_type"] == "code"
    assert query["scope"] == "openid"
    assert query["request"] == request.request_object
    assert set(query) == {"client_id", "request", "response_type", "scope"}


def test_the_request_object_is_typed_signed_and_addressed_to_the_peer() -> None:
    request = build()
    header = jwt.get_unverified_header(request.request_object)
    assert header["typ"] == REQUEST_OBJECT_TYP
    assert header["kid"] == A_SIGNING_KEY.kid
    assert header["alg"] == "ES256"
    claims = decode_request_object(request.request_object)
    assert claims["iss"] == claims["client_id"] == A
    assert claims["aud"] == B
    assert claims["exp"] - claims["iat"] == 60
    assert claims["iat"] == NOW
    assert claims["jti"]
    assert claims["response_type"] == "code"
    assert claims["redirect_uri"] == A_CALLBACK
    assert claims["state"] == request.state
    assert claims["nonce"] == request.nonce
    assert claims["code_challenge"] == s256_challenge(request.code_verifier)
    assert claims["code_challenge_method"] == "S256"
    assert claims["acr_values"] == "urn:govbr:nivel:prata"
    assert claims["claims"]["id_token"]["given_name"] == {"essential": True}
    assert "acr" not in claims["claims"]["id_token"]


def test_the_request_object_does_not_verify_with_another_key() -> None:
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            build().request_object,
            OTHER_KEY.public_key(),
            algorithms=["ES256"],
            audience=B,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )


def test_state_nonce_and_jti_are_random() -> None:
    first, second = build(), build()
    assert first.state != second.state
    assert first.nonce != second.nonce
    assert first.code_verifier != second.code_verifier
    assert (
        decode_request_object(first.request_object)["jti"]
        != decode_request_object(second.request_object)["jti"]
    )


def test_an_essential_level_is_an_essential_acr_claim_with_every_sufficient_value() -> None:
    claims = decode_request_object(build(essential=True).request_object)
    assert claims["claims"]["id_token"]["acr"] == {
        "essential": True,
        "values": ["urn:govbr:nivel:prata", "urn:govbr:nivel:ouro"],
    }


def test_without_a_requested_level_no_acr_is_sent() -> None:
    request = build(requested_level=0)
    claims = decode_request_object(request.request_object)
    assert "acr_values" not in claims
    assert request.acr_values is None


def test_the_level_is_translated_for_an_eidas_peer() -> None:
    peer = peer_b(
        acr_values_supported=[
            "http://eidas.europa.eu/LoA/substantial",
            "http://eidas.europa.eu/LoA/high",
        ]
    )
    assert build(peer=peer, requested_level=1).acr_values == (
        "http://eidas.europa.eu/LoA/substantial"
    )


def test_too_high_a_level_for_the_peer_is_refused_before_sending() -> None:
    peer = peer_b(acr_values_supported=["urn:govbr:nivel:bronze"])
    with pytest.raises(CrossBorderRefused) as info:
        build(peer=peer, requested_level=2)
    assert info.value.reason is Refusal.LEVEL_TOO_LOW


def test_a_key_algorithm_the_peer_does_not_accept_is_refused() -> None:
    peer = peer_b(request_object_signing_alg_values_supported=["PS256"])
    with pytest.raises(CrossBorderRefused) as info:
        build(peer=peer)
    assert info.value.reason is Refusal.UNSUPPORTED_ALG


def test_ui_locales_and_trust_chain_are_passed_on() -> None:
    request = build(ui_locales="pt-BR es", trust_chain=["a.b.c", "d.e.f"])
    assert decode_request_object(request.request_object)["ui_locales"] == "pt-BR es"
    assert jwt.get_unverified_header(request.request_object)["trust_chain"] == [
        "a.b.c",
        "d.e.f",
    ]


def test_signing_keys_must_be_asymmetric_and_named() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        SigningKey(private_key=b"secret", kid="k", alg="HS256")
    with pytest.raises(ValueError, match="kid"):
        SigningKey(private_key=A_RP_KEY, kid="", alg="ES256")


def test_client_assertion_claims() -> None:
    assertion = client_assertion(client_id=A, peer=PEER_B, key=A_SIGNING_KEY, now=NOW)
    claims = jwt.decode(
        assertion,
        A_RP_KEY.public_key(),
        algorithms=["ES256"],
        audience=B,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == claims["sub"] == A
    assert claims["aud"] == B  # a single string, the issuer
    assert claims["exp"] - claims["iat"] == 60
    assert claims["jti"]
    other = client_assertion(
        client_id=A, peer=PEER_B, key=A_SIGNING_KEY, now=NOW, audience="token_endpoint"
    )
    assert jwt.decode(other, options={"verify_signature": False})["aud"] == f"{B}/token"


def test_token_request_form() -> None:
    request = build()
    form = token_request_form(code="c0de", request=request, client_id=A, assertion="x.y.z")
    assert form == {
        "grant_type": "authorization_code",
        "code": "c0de",
        "redirect_uri": A_CALLBACK,
        "code_verifier": request.code_verifier,
        "client_id": A,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": "x.y.z",
    }


# --- the provider's own private_key_jwt verifier accepts what we send --------------------------


@pytest.fixture
def peer_as_this_provider(settings: Settings) -> tuple[Settings, Database, Peer]:
    """This provider (as B) with A registered as a private_key_jwt client, as automatic
    registration would register it."""
    database = Database.from_settings(settings)
    moment = datetime.now(UTC)
    with database.transaction() as session:
        session.add(
            OAuthClient(
                client_id=A,
                client_name="ID Uruguay",
                token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT.value,
                redirect_uris=[A_CALLBACK],
                post_logout_redirect_uris=[],
                grant_types=["authorization_code"],
                scopes=["openid"],
                jwks=a_rp_jwks(),
                created_at=moment,
                updated_at=moment,
            )
        )
    peer = dataclasses.replace(
        PEER_B, issuer=settings.issuer, token_endpoint=f"{settings.issuer}/token"
    )
    return settings, database, peer


def _verify(settings: Settings, database: Database, assertion: str) -> str:
    verifier = ClientAssertionVerifier(
        settings, audiences=[settings.issuer, f"{settings.issuer}/token"]
    )
    credentials = PresentedCredentials(
        method=ClientAuthMethod.PRIVATE_KEY_JWT, client_id=A, client_assertion=assertion
    )
    with database.transaction() as session:
        return verifier(session, credentials, datetime.now(UTC))


@pytest.mark.parametrize("audience", ["issuer", "token_endpoint"])
def test_the_providers_own_verifier_accepts_the_assertion(
    peer_as_this_provider: tuple[Settings, Database, Peer], audience: str
) -> None:
    settings, database, peer = peer_as_this_provider
    make: Callable[..., str] = client_assertion
    assertion = make(
        client_id=A, peer=peer, key=A_SIGNING_KEY, now=int(time.time()), audience=audience
    )
    assert _verify(settings, database, assertion) == A
    with pytest.raises(InvalidClient):  # and only once (jti)
        _verify(settings, database, assertion)
    database.dispose()


def test_the_providers_own_verifier_refuses_another_key(
    peer_as_this_provider: tuple[Settings, Database, Peer],
) -> None:
    settings, database, peer = peer_as_this_provider
    wrong = SigningKey(private_key=OTHER_KEY, kid=A_SIGNING_KEY.kid, alg="ES256")
    assertion = client_assertion(client_id=A, peer=peer, key=wrong, now=int(time.time()))
    with pytest.raises(InvalidClient):
        _verify(settings, database, assertion)
    database.dispose()
