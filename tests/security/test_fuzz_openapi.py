"""Schemathesis against the provider's own description of its machine endpoints.

Every operation of ``idp.openapi.machine_openapi(app)`` (token, UserInfo, introspection,
revocation, discovery, JWKS, the probes) is called in-process (ASGI, no network) with generated
requests, valid and invalid: form bodies with odd parameters and encodings, random Basic and
Bearer credentials, unexpected content types. Whatever comes in, the provider never answers
5xx (other than the documented 503 of an overloaded or unready worker), and every answer
matches the description: status code, content type, headers (``Cache-Control: no-store`` on
token answers, RFC 6749 5.1) and the JSON body (RFC 6749 5.1/5.2, RFC 7662 2.2, OIDC
Discovery 3, RFC 7517 5).

The federation endpoints are fuzzed on a second app in the Trust Anchor role (federation on):
the Entity Configuration, fetch, list and resolve (OpenID Federation 1.0 sections 9, 8.1, 8.2,
8.3): 200 with the statement's media type, or the JSON errors of section 8.9. Besides fully
generated requests, ``sub`` is set to a registered Subordinate (fetch) and ``trust_anchor`` to
the Trust Anchor itself (resolve), so that generated values reach past the first refusal.

``IDP_FUZZ_EXAMPLES`` sets the examples per operation (25 by default; ``make fuzz`` runs 1000).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from idp.app import create_app
from idp.config import Settings
from idp.federation import entity, subordinates
from idp.federation.fetcher import WELL_KNOWN_PATH
from idp.federation.statements import public_jwk
from idp.oidc import endpoints
from idp.openapi import FEDERATION_OPERATIONS, MACHINE_PATHS, TRUST_ANCHOR_PATHS, machine_openapi
from idp.openapi import OPERATIONS as DESCRIBED
from idp.ops import health
from idp.storage.models import ClientAuthMethod
from tests.oidc.conftest import RegisteredClient

EXAMPLES = int(os.environ.get("IDP_FUZZ_EXAMPLES", "25"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_client(register: Callable[..., RegisteredClient]) -> RegisteredClient:
    """A confidential client with every grant, so that generated requests that carry its
    credentials get past client authentication into the grant handlers."""
    return register(
        client_id="fuzz-client",
        token_endpoint_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )


TRUST_ANCHOR_ISSUER = "https://trust-anchor.example.org"
SUBORDINATE = "https://id.example.gub.uy"


@pytest.fixture
def trust_anchor_app(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> Iterator[FastAPI]:
    """The provider as a Trust Anchor with one Subordinate. A short outbound time limit: the
    resolve endpoint fetches what a generated ``sub`` names (under the outbound rules, which
    refuse private addresses and plain http)."""
    settings = settings_factory(
        sqlite_database_url,
        issuer=TRUST_ANCHOR_ISSUER,
        federation_enabled=True,
        federation_role="trust_anchor",
        outbound_timeout_seconds=1,
    )
    application = create_app(settings)
    context = application.state.provider
    key = ec.generate_private_key(ec.SECP256R1())
    with context.database.transaction() as session:
        subordinates.add_subordinate(
            session,
            entity_id=SUBORDINATE,
            issuer=TRUST_ANCHOR_ISSUER,
            now=context.clock(),
            jwks={"keys": [public_jwk(key, kid="uy-1", alg="ES256")]},
            metadata_policy={},
            constraints={},
            metadata=None,
            entity_types=["openid_provider", "openid_relying_party"],
        )
    yield application
    context.database.dispose()


OPERATIONS = sorted(
    [(path, method) for path, method in DESCRIBED]
    + [(path, "get") for path in (health.HEALTHZ_PATH, health.READYZ_PATH)]
)
CLIENT_AUTHENTICATED = {endpoints.TOKEN, endpoints.INTROSPECTION, endpoints.REVOCATION}
FEDERATION = sorted(FEDERATION_OPERATIONS)
WITH_PARAMETERS = [(p, m) for p, m in FEDERATION if "parameters" in FEDERATION_OPERATIONS[(p, m)]]


def fuzz(
    app: FastAPI,
    path: str,
    method: str,
    mode: GenerationMode,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    examples: int = EXAMPLES,
) -> None:
    """Generated requests for one operation, called in-process, each answer checked;
    ``query`` fixes some query parameters of every generated request.

    (Schemathesis' own pytest loader does not run under this pytest; its strategies do.)
    """
    schema = schemathesis.openapi.from_dict(machine_openapi(app))
    schema.app = app
    operation = schema[path][method.upper()]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("IDP_FUZZ_RANDOM") != "1",
        database=None,
    )
    def run(case: Any) -> None:
        if query:
            case.query = {**(case.query or {}), **query}
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_machine_endpoints_answer_as_described(app: FastAPI, path: str, method: str) -> None:
    fuzz(app, path, method, GenerationMode.POSITIVE)


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m in OPERATIONS if m == "post"])
def test_malformed_bodies_are_refused_as_described(app: FastAPI, path: str, method: str) -> None:
    """Bodies that do not fit the description (wrong types, missing ``token``, odd media
    types): a documented 4xx, never a 5xx. (Operations without parameters have nothing to
    break.)"""
    fuzz(app, path, method, GenerationMode.NEGATIVE)


@pytest.mark.parametrize(
    ("path", "method"), [(p, m) for p, m in OPERATIONS if p in CLIENT_AUTHENTICATED]
)
def test_with_valid_client_credentials(
    app: FastAPI, fuzz_client: RegisteredClient, path: str, method: str
) -> None:
    """The same, authenticated as a registered client: the grant handlers, introspection and
    revocation see generated parameters, not only client authentication failures."""
    credentials = f"{fuzz_client.client_id}:{fuzz_client.client_secret}".encode()
    basic = "Basic " + base64.b64encode(credentials).decode()
    fuzz(app, path, method, GenerationMode.POSITIVE, headers={"Authorization": basic})


@pytest.mark.parametrize(("path", "method"), FEDERATION)
def test_federation_endpoints_answer_as_described(
    trust_anchor_app: FastAPI, path: str, method: str
) -> None:
    fuzz(trust_anchor_app, path, method, GenerationMode.POSITIVE)


@pytest.mark.parametrize(("path", "method"), WITH_PARAMETERS)
def test_malformed_federation_requests_are_refused_as_described(
    trust_anchor_app: FastAPI, path: str, method: str
) -> None:
    """Missing, repeated or mistyped parameters: a JSON error of section 8.9, never a 5xx."""
    fuzz(trust_anchor_app, path, method, GenerationMode.NEGATIVE)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        pytest.param(entity.FETCH_ENDPOINT, {"sub": SUBORDINATE}, id="fetch-a-subordinate"),
        pytest.param(
            entity.RESOLVE_ENDPOINT, {"trust_anchor": TRUST_ANCHOR_ISSUER}, id="resolve-to-itself"
        ),
        pytest.param(
            entity.RESOLVE_ENDPOINT,
            {"trust_anchor": TRUST_ANCHOR_ISSUER, "sub": TRUST_ANCHOR_ISSUER},
            id="resolve-itself",
        ),
    ],
)
def test_federation_requests_past_the_first_refusal(
    trust_anchor_app: FastAPI, path: str, query: dict[str, str]
) -> None:
    """Generated values for the other parameters (``entity_type``: the resolved metadata's
    filter and the chain's Entity Type; ``sub`` for resolve), the fixed ones valid."""
    fuzz(trust_anchor_app, path, "get", GenerationMode.POSITIVE, query=query)


def test_the_description_covers_exactly_the_machine_endpoints(app: FastAPI) -> None:
    document = machine_openapi(app)
    assert set(document["paths"]) == MACHINE_PATHS | {health.HEALTHZ_PATH, health.READYZ_PATH}
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))  # GET and POST /userinfo included
    assert {"get_userinfo", "post_userinfo", "post_token"} <= set(operation_ids)
    token = document["paths"][endpoints.TOKEN]["post"]
    assert set(token["requestBody"]["content"]) == {"application/x-www-form-urlencoded"}


def test_a_trust_anchor_describes_its_federation_endpoints(trust_anchor_app: FastAPI) -> None:
    document = machine_openapi(trust_anchor_app)
    probes = {health.HEALTHZ_PATH, health.READYZ_PATH}
    expected = MACHINE_PATHS | TRUST_ANCHOR_PATHS | {WELL_KNOWN_PATH} | probes
    assert set(document["paths"]) == expected
