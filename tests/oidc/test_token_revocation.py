"""What becomes of the token endpoint's tokens afterwards: introspection (RFC 7662) and
revocation (RFC 7009) only for the client they were issued to, and a revoked token dies at
UserInfo and at the token endpoint."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.oidc.test_token import Register, assert_error, exchange, make_code, refresh


def test_introspection_and_revocation_only_for_the_owner(
    app: FastAPI, client: TestClient, register: Register, citizen_id: int
) -> None:
    rp, other = register(), register(client_name="Otro portal")
    tokens = exchange(client, rp, make_code(app, client_id=rp.client_id, citizen_id=citizen_id))
    tokens = tokens.json()
    owner = (rp.client_id, rp.client_secret)
    stranger = (other.client_id, other.client_secret)

    foreign = client.post("/introspect", auth=stranger, data={"token": tokens["access_token"]})
    assert foreign.json() == {"active": False}
    client.post("/revoke", auth=stranger, data={"token": tokens["refresh_token"]})
    own = client.post("/introspect", auth=owner, data={"token": tokens["refresh_token"]})
    assert own.json()["active"] is True
    assert client.post("/revoke", auth=owner, data={"token": "unknown"}).status_code == 200

    client.post("/revoke", auth=owner, data={"token": tokens["access_token"]})
    bearer = {"authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/userinfo", headers=bearer).status_code == 401

    client.post("/revoke", auth=owner, data={"token": tokens["refresh_token"]})
    gone = client.post("/introspect", auth=owner, data={"token": tokens["refresh_token"]})
    assert gone.json() == {"active": False}
    assert_error(refresh(client, rp, tokens["refresh_token"]), "invalid_grant")


def test_a_token_in_the_query_string_is_refused(client: TestClient) -> None:
    response = client.get("/userinfo?access_token=abc")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
