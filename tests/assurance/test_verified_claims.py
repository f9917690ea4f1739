"""``verified_claims`` (OpenID Connect for Identity Assurance 1.0): the request parser, the
builder from evidence records, and the claim through the real authorize/token/userinfo
endpoints and discovery."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.assurance.verified_claims import (
    TrustFramework,
    build_verified_claims,
    evidence_of,
    trust_framework_for,
    verified_claim_values,
)
from idp.config import Settings
from idp.context import utc_now
from idp.oidc.claims import (
    ClaimsRequestError,
    claims_request_from_json,
    parse_claims_parameter,
)
from idp.storage import citizens as citizen_store
from idp.storage.models import Citizen, IdentityVerification
from tests.helpers import add_citizen, log_in
from tests.oidc.conftest import RP_REDIRECT_URI, RegisteredClient
from tests.oidc.flow import authorize_url, obtain_code, pkce_pair, query_of, redeem

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
IDURUGUAY = TrustFramework(
    name="uy_iduruguay", level_names={level: f"urn:iduruguay:nid:{level}" for level in range(4)}
)
EIDAS = TrustFramework(name="eidas", level_names={1: "low", 2: "substantial", 3: "high"})
VALUES = {
    "name": "María Rodríguez",
    "given_name": "María",
    "family_name": "Rodríguez",
    "birthdate": "1980-05-17",
    "document_number": "12345672",
    "email": "maria@example.uy",
}
Register = Callable[..., RegisteredClient]


def record(
    level: int,
    *,
    record_id: int = 1,
    evidence_type: str = "document",
    method: str = "in_person",
    days_ago: int = 10,
    check_method: str | None = None,
    attributes: dict[str, object] | None = None,
) -> IdentityVerification:
    return IdentityVerification(
        id=record_id,
        level=level,
        method=method,
        document_type="ci",
        document_number="12345672",
        issuing_country="UY",
        verifier="Dirección Nacional de Identificación Civil",
        verified_at=NOW - timedelta(days=days_ago),
        evidence_type=evidence_type,
        check_method=check_method,
        attributes=attributes,
    )


def build(
    request: dict[str, Any] | list[dict[str, Any]],
    records: list[IdentityVerification],
    *,
    framework: TrustFramework = IDURUGUAY,
    values: dict[str, Any] | None = None,
) -> Any:
    requests = request if isinstance(request, list) else [request]
    return build_verified_claims(
        requests,
        records=records,
        values=VALUES if values is None else values,
        framework=framework,
        subject="subject-1",
        key=b"test key",
        now=NOW,
    )


NAMES = {"given_name": None, "family_name": None}


# --- the builder ------------------------------------------------------------------------------


def test_a_level_0_account_has_no_verified_claims() -> None:
    request = {"verification": {"trust_framework": None}, "claims": NAMES}
    assert build(request, []) is None
    assert build(request, [record(0)]) is None


@pytest.mark.parametrize(
    ("level", "iduruguay", "eidas"),
    [
        (1, "urn:iduruguay:nid:1", "low"),
        (2, "urn:iduruguay:nid:2", "substantial"),
        (3, "urn:iduruguay:nid:3", "high"),
    ],
)
def test_the_assurance_level_is_the_highest_record_named_by_the_framework(
    level: int, iduruguay: str, eidas: str
) -> None:
    request = {"verification": {"trust_framework": None, "assurance_level": None}, "claims": NAMES}
    records = [record(1, record_id=7, days_ago=400), record(level, record_id=8)]
    assert build(request, records) == {
        "verification": {"trust_framework": "uy_iduruguay", "assurance_level": iduruguay},
        "claims": {"given_name": "María", "family_name": "Rodríguez"},
    }
    released = build(request, records, framework=EIDAS)
    assert released["verification"] == {"trust_framework": "eidas", "assurance_level": eidas}


def test_only_what_is_requested_is_returned() -> None:
    request = {"verification": {"trust_framework": None}, "claims": {"given_name": None}}
    assert build(request, [record(2)]) == {
        "verification": {"trust_framework": "uy_iduruguay"},
        "claims": {"given_name": "María"},
    }


def test_time_and_verification_process_when_requested() -> None:
    request = {
        "verification": {"trust_framework": None, "time": None, "verification_process": None},
        "claims": NAMES,
    }
    older, newer = record(2, record_id=1, days_ago=30), record(1, record_id=2, days_ago=3)
    verification = build(request, [older, newer])["verification"]
    assert verification["time"] == "2026-11-17T12:00:00Z"  # the latest verification
    process = verification["verification_process"]
    assert len(process) == 32
    again = build(request, [newer, older])["verification"]["verification_process"]
    assert again == process  # stable: the record that set the level, whatever the order


def test_document_evidence() -> None:
    request = {
        "verification": {
            "trust_framework": None,
            "evidence": [
                {
                    "type": {"value": "document"},
                    "check_details": None,
                    "time": None,
                    "document_details": None,
                }
            ],
        },
        "claims": NAMES,
    }
    attributes = {"date_of_expiry": "2030-01-31"}
    released = build(request, [record(2, attributes=attributes)])
    assert released["verification"]["evidence"] == [
        {
            "type": "document",
            "check_details": [{"check_method": "vpip"}],
            "time": "2026-11-10T12:00:00Z",
            "document_details": {
                "type": "idcard",
                "document_number": "12345672",
                "date_of_expiry": "2030-01-31",
                "issuer": {"country_code": "UY"},
            },
        }
    ]


def test_the_person_check_follows_the_document_check() -> None:
    entry = evidence_of(record(3, check_method="vpip", attributes={"person_check": "pvp"}))
    assert entry is not None
    assert entry["check_details"] == [{"check_method": "vpip"}, {"check_method": "pvp"}]


def test_an_email_code_verifies_no_identity() -> None:
    email = record(
        1,
        evidence_type="electronic_record",
        method="email",
        attributes={"email": "maria@example.uy", "record_type": "email_address"},
    )
    request = {"verification": {"trust_framework": None}, "claims": NAMES}
    assert build(request, [email]) is None
    request["verification"]["evidence"] = None
    released = build(request, [email, record(2, record_id=2)])
    assert [entry["type"] for entry in released["verification"]["evidence"]] == ["document"]


def test_electronic_record_evidence() -> None:
    entry = evidence_of(
        record(
            2,
            evidence_type="electronic_record",
            method="civil_registry",
            attributes={"source_name": "DNIC"},
        )
    )
    assert entry == {
        "type": "electronic_record",
        "check_details": [{"check_method": "data"}],
        "time": "2026-11-10T12:00:00Z",
        "record": {"type": "population_register", "source": {"name": "DNIC", "country_code": "UY"}},
    }


def test_electronic_signature_evidence_needs_its_certificate_details() -> None:
    attributes = {"signature_type": "qes_eidas", "issuer": "AC Raíz UY", "serial_number": "0A1B"}
    signature = record(3, evidence_type="electronic_signature", attributes=attributes)
    assert evidence_of(signature) == {
        "type": "electronic_signature",
        "signature_type": "qes_eidas",
        "issuer": "AC Raíz UY",
        "serial_number": "0A1B",
        "created_at": "2026-11-10T12:00:00Z",
    }
    assert evidence_of(record(3, evidence_type="electronic_signature")) is None


def test_evidence_entries_filter_by_type_and_shape_the_answer() -> None:
    records = [
        record(2, record_id=1),
        record(2, record_id=2, evidence_type="electronic_record", method="civil_registry"),
    ]
    request = {
        "verification": {
            "trust_framework": None,
            "evidence": [
                {"type": {"value": "document"}, "document_details": {"type": None}},
            ],
        },
        "claims": NAMES,
    }
    evidence = build(request, records)["verification"]["evidence"]
    assert evidence == [{"type": "document", "document_details": {"type": "idcard"}}]
    request["verification"]["evidence"] = [{"type": {"value": "electronic_signature"}}]
    assert build(request, records) is None  # no evidence of the type asked for


def test_check_method_filters() -> None:
    request = {
        "verification": {
            "trust_framework": None,
            "evidence": [
                {
                    "type": {"value": "document"},
                    "check_details": [{"check_method": {"value": "vcrypt"}}],
                }
            ],
        },
        "claims": NAMES,
    }
    assert build(request, [record(2)]) is None  # checked in person, not with the card chip
    checked = build(request, [record(3, check_method="vcrypt")])
    assert checked["verification"]["evidence"] == [
        {"type": "document", "check_details": [{"check_method": "vcrypt"}]}
    ]


def test_trust_framework_and_assurance_level_values_must_match() -> None:
    def request(**verification: Any) -> dict[str, Any]:
        return {"verification": verification, "claims": NAMES}

    records = [record(2)]
    assert build(request(trust_framework={"value": "de_aml"}), records) is None
    assert build(request(trust_framework={"values": ["de_aml", "uy_iduruguay"]}), records)
    assert build(request(assurance_level={"value": "urn:iduruguay:nid:3"}), records) is None
    assert build(request(assurance_level={"values": ["substantial"]}), records, framework=EIDAS)


def test_max_age_of_the_verification_time() -> None:
    def request(max_age: int) -> dict[str, Any]:
        return {"verification": {"time": {"max_age": max_age}}, "claims": NAMES}

    records = [record(2, days_ago=10)]
    assert build(request(int(timedelta(days=30).total_seconds())), records)
    assert build(request(int(timedelta(days=5).total_seconds())), records) is None


def test_claims_the_account_does_not_have_are_left_out_even_when_essential() -> None:
    request = {
        "verification": {"trust_framework": None},
        "claims": {"given_name": {"essential": True}, "birthdate": {"essential": True}},
    }
    values = {"given_name": "María"}
    assert build(request, [record(2)], values=values)["claims"] == {"given_name": "María"}
    only_missing = {"verification": {"trust_framework": None}, "claims": {"birthdate": None}}
    assert build(only_missing, [record(2)], values=values) is None


def test_claims_not_attested_or_not_matching_are_left_out() -> None:
    request = {
        "verification": {"trust_framework": None},
        "claims": {"email": None, "given_name": {"value": "Ana"}, "family_name": None},
    }
    assert build(request, [record(2)])["claims"] == {"family_name": "Rodríguez"}


def test_an_array_is_answered_element_by_element() -> None:
    requests = [
        {"verification": {"trust_framework": {"value": "eidas"}}, "claims": {"given_name": None}},
        {"verification": {"trust_framework": None}, "claims": {"family_name": None}},
        {"verification": {"trust_framework": None}, "claims": {"birthdate": None}},
    ]
    records = [record(2)]
    assert build(requests, records) == [
        {
            "verification": {"trust_framework": "uy_iduruguay"},
            "claims": {"family_name": "Rodríguez"},
        },
        {
            "verification": {"trust_framework": "uy_iduruguay"},
            "claims": {"birthdate": "1980-05-17"},
        },
    ]


def test_nationalities_come_from_the_records() -> None:
    records = [record(2, attributes={"nationalities": ["UY"]})]
    assert verified_claim_values(VALUES, records)["nationalities"] == ["UY"]
    assert "nationalities" not in verified_claim_values(VALUES, [record(2)])
    assert "email" not in verified_claim_values(VALUES, records)


def test_the_trust_framework_follows_the_setting_or_the_acr_profile() -> None:
    assert trust_framework_for(Settings(_env_file=None)).name == "uy_iduruguay"  # type: ignore[call-arg]
    eidas = Settings(_env_file=None, acr_profile="eidas")  # type: ignore[call-arg]
    assert trust_framework_for(eidas).level_names[2] == "substantial"
    custom = Settings(_env_file=None, identity_trust_framework="uy_agesic")  # type: ignore[call-arg]
    assert trust_framework_for(custom).name == "uy_agesic"


# --- the request parser -----------------------------------------------------------------------


def test_the_request_survives_storage() -> None:
    raw = {
        "userinfo": {
            "email": None,
            "verified_claims": {
                "verification": {
                    "trust_framework": None,
                    "evidence": [{"type": {"value": "document"}}],
                },
                "claims": {"given_name": None, "birthdate": {"essential": True}},
            },
        },
        "id_token": {"verified_claims": [{"verification": {}, "claims": {"family_name": None}}]},
    }
    parsed = parse_claims_parameter(json.dumps(raw))
    assert set(parsed.userinfo) == {"email"}
    assert parsed.userinfo_verified_claims == (raw["userinfo"]["verified_claims"],)
    assert parsed.id_token_verified_claims == tuple(raw["id_token"]["verified_claims"])
    stored = json.loads(json.dumps(parsed.to_json()))
    assert claims_request_from_json(stored) == parsed
    assert parsed.verified_claim_names() == {
        "verified_claims",
        "given_name",
        "birthdate",
        "family_name",
    }


def test_a_null_verified_claims_stays_an_inert_claim_request() -> None:
    parsed = parse_claims_parameter('{"userinfo": {"verified_claims": null}}')
    assert "verified_claims" in parsed.userinfo
    assert parsed.userinfo_verified_claims == ()


def test_deep_nesting_is_refused_not_crashed_on() -> None:
    deep: Any = None
    for _ in range(20):
        deep = {"a": deep}
    raw = json.dumps({"userinfo": {"verified_claims": {"verification": deep, "claims": NAMES}}})
    with pytest.raises(ClaimsRequestError, match="nested too deeply"):
        parse_claims_parameter(raw)
    with pytest.raises(ClaimsRequestError, match="not valid JSON"):
        parse_claims_parameter("[" * 3000)


@pytest.mark.parametrize(
    ("verified_claims", "message"),
    [
        ({"claims": {"given_name": None}}, "userinfo.verified_claims.verification must be"),
        ({"verification": {}}, "userinfo.verified_claims.claims must be a JSON object"),
        ({"verification": {}, "claims": {}}, "userinfo.verified_claims.claims must not be empty"),
        ([], "must not be an empty array"),
        (["x"], "verified_claims[0] must be a JSON object"),
        (
            {"verification": {"evidence": [{"type": "document"}]}, "claims": NAMES},
            "evidence[0].type must be an object with a string value",
        ),
        (
            {"verification": {"time": {"max_age": -1}}, "claims": NAMES},
            "time.max_age must be a non-negative integer",
        ),
        (
            {"verification": {}, "claims": {"given_name": {"purpose": "x"}}},
            "given_name.purpose must be a string of 3 to 300 characters",
        ),
        (
            {
                "verification": {
                    "evidence": [
                        {
                            "type": {"value": "document"},
                            "check_details": [{"check_method": {"values": "vpip"}}],
                        }
                    ]
                },
                "claims": NAMES,
            },
            "check_details[0].check_method.values must be an array",
        ),
        (
            {"verification": {}, "claims": {"given_name": {"essential": "yes"}}},
            "given_name.essential must be a boolean",
        ),
    ],
)
def test_malformed_requests_are_refused_precisely(verified_claims: Any, message: str) -> None:
    raw = json.dumps({"userinfo": {"verified_claims": verified_claims}})
    with pytest.raises(ClaimsRequestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_claims_parameter(raw)


# --- through the endpoints (SQLite and PostgreSQL) --------------------------------------------


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], database_url: str) -> Settings:
    return settings_factory(database_url)


@pytest.fixture
def verified_citizen(app: FastAPI) -> int:
    """The demo citizen verified in person (level 2, by the registration), checked against the
    civil registry, and certified with a signature of the eID card (level 3)."""
    provider = app.state.provider
    citizen_id = add_citizen(provider.database, provider.hasher, verification_level=2)
    with provider.database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        citizen_store.add_verification(
            session,
            citizen=citizen,
            level=2,
            method="civil_registry",
            verifier="DNIC",
            now=NOW - timedelta(days=2),
        ).evidence_type = "electronic_record"
        signature = citizen_store.add_verification(
            session, citizen=citizen, level=3, method="card", verifier="eID card", now=NOW
        )
        signature.evidence_type = "electronic_signature"
        signature.attributes = {
            "signature_type": "qes_eidas",
            "issuer": "AC Raíz UY",
            "serial_number": "0A1B",
        }
    return citizen_id


def _sign_in(client: TestClient, rp: RegisteredClient, claims: dict[str, Any]) -> dict[str, Any]:
    code, verifier = obtain_code(
        client, rp.client_id, RP_REDIRECT_URI, scope="openid", claims=json.dumps(claims)
    )
    response = redeem(client, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI)
    assert response.status_code == 200, response.text
    return response.json()


def _userinfo(client: TestClient, issued: dict[str, Any]) -> Any:
    return client.get("/userinfo", headers={"authorization": f"Bearer {issued['access_token']}"})


USERINFO_REQUEST = {
    "userinfo": {
        "verified_claims": {
            "verification": {
                "trust_framework": None,
                "assurance_level": None,
                "time": None,
                "evidence": [{"type": {"value": "document"}, "document_details": None}],
            },
            "claims": {
                "given_name": None,
                "family_name": {"essential": True},
                "birthdate": {"essential": True},
            },
        }
    }
}


def test_verified_claims_at_userinfo(
    client: TestClient, register: Register, verified_citizen: int
) -> None:
    issued = _sign_in(client, register(), USERINFO_REQUEST)
    assert "verified_claims" not in jwt.decode(
        issued["id_token"], options={"verify_signature": False}
    )
    body = _userinfo(client, issued).json()
    assert "given_name" not in body  # only inside verified_claims: no profile scope
    verified = body["verified_claims"]
    assert verified["claims"] == {"given_name": "María", "family_name": "Rodríguez"}  # no birthdate
    verification = verified["verification"]
    assert verification["trust_framework"] == "uy_iduruguay"
    assert verification["assurance_level"] == "urn:iduruguay:nid:3"
    verified_at = datetime.fromisoformat(verification["time"].replace("Z", "+00:00"))
    assert verification["time"].endswith("Z")
    assert utc_now() - verified_at < timedelta(minutes=5)  # the registration's record
    assert verification["evidence"] == [
        {
            "type": "document",
            "document_details": {
                "type": "idcard",
                "document_number": "12345672",
                "issuer": {"country_code": "UY"},
            },
        }
    ]


def test_verified_claims_in_the_id_token_and_signed_userinfo(
    client: TestClient, register: Register, verified_citizen: int, app: FastAPI
) -> None:
    rp = register(userinfo_signed_response_alg="ES256")
    claims = {
        "id_token": {
            "verified_claims": {
                "verification": {
                    "trust_framework": None,
                    "evidence": [{"type": {"value": "electronic_signature"}}],
                },
                "claims": {"family_name": None},
            }
        },
        **USERINFO_REQUEST,
    }
    issued = _sign_in(client, rp, claims)
    id_token = jwt.decode(issued["id_token"], options={"verify_signature": False})
    assert id_token["verified_claims"] == {
        "verification": {
            "trust_framework": "uy_iduruguay",
            "evidence": [{"type": "electronic_signature"}],
        },
        "claims": {"family_name": "Rodríguez"},
    }
    response = _userinfo(client, issued)
    assert response.headers["content-type"].startswith("application/jwt")
    header = jwt.get_unverified_header(response.text)
    key = jwt.PyJWKSet.from_dict(app.state.provider.keyring.jwks())[header["kid"]]
    signed = jwt.decode(response.text, key.key, algorithms=["ES256"], audience=rp.client_id)
    assert signed["verified_claims"]["claims"]["given_name"] == "María"


def test_a_trust_framework_mismatch_omits_the_element(
    client: TestClient, register: Register, verified_citizen: int
) -> None:
    claims = {
        "userinfo": {
            "given_name": None,
            "verified_claims": {
                "verification": {"trust_framework": {"value": "de_aml"}},
                "claims": {"given_name": None},
            },
        }
    }
    body = _userinfo(client, _sign_in(client, register(), claims)).json()
    assert body["given_name"] == "María"
    assert "verified_claims" not in body


def test_a_level_0_account_gets_no_verified_claims(
    client: TestClient, register: Register, app: FastAPI
) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    body = _userinfo(client, _sign_in(client, register(), USERINFO_REQUEST)).json()
    assert "verified_claims" not in body


def test_a_malformed_request_is_an_invalid_request(
    client: TestClient, register: Register, verified_citizen: int
) -> None:
    rp = register()
    _, challenge = pkce_pair()
    claims = {"userinfo": {"verified_claims": {"verification": {}, "claims": {}}}}
    response = client.get(
        authorize_url(rp.client_id, RP_REDIRECT_URI, challenge, claims=json.dumps(claims)),
        follow_redirects=False,
    )
    assert response.status_code == 303
    params = query_of(response.headers["location"])
    assert params["error"] == "invalid_request"
    assert params["error_description"] == "The claims parameter is malformed."


def test_the_consent_page_lists_the_verified_claims(
    client: TestClient, register: Register, verified_citizen: int
) -> None:
    rp = register()
    log_in(client)
    _, challenge = pkce_pair()
    url = authorize_url(
        rp.client_id,
        RP_REDIRECT_URI,
        challenge,
        claims=json.dumps(USERINFO_REQUEST),
        ui_locales="en",
        scope="openid profile",
    )
    location = client.get(url, follow_redirects=False).headers["location"]
    assert location.startswith("/consent?request_id="), location
    page = client.get(location).text
    assert "<li>How your identity was verified (level, date and the documents used" in page
    assert "Your given name." not in page  # already part of the profile scope


def test_discovery_announces_identity_assurance(client: TestClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["verified_claims_supported"] is True
    assert metadata["claims_parameter_supported"] is True
    assert "verified_claims" in metadata["claims_supported"]
    assert metadata["trust_frameworks_supported"] == ["uy_iduruguay"]
    assert metadata["evidence_supported"] == [
        "document",
        "electronic_record",
        "electronic_signature",
    ]
    assert metadata["documents_supported"] == ["idcard", "passport"]
    assert metadata["electronic_records_supported"] == ["population_register"]
    assert {"given_name", "family_name", "birthdate"} <= set(
        metadata["claims_in_verified_claims_supported"]
    )


def test_verification_rows_are_read_back_from_the_database(app: FastAPI) -> None:
    provider = app.state.provider
    citizen_id = add_citizen(provider.database, provider.hasher, verification_level=2)
    with provider.database.transaction() as session:
        records = list(
            session.scalars(
                select(IdentityVerification).where(IdentityVerification.citizen_id == citizen_id)
            )
        )
        request = {"verification": {"trust_framework": None, "evidence": None}, "claims": NAMES}
        released = build(request, records)
    assert released["verification"]["evidence"][0]["document_details"]["type"] == "idcard"
