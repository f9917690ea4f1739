"""Zero-downtime rotation: the real provider with two worker processes keeps issuing tokens
that verify against a freshly fetched JWKS while an operator rotates, retires, prunes and
finally revokes keys with the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.oidc.flow import authorize_url, pkce_pair
from tests.support.browser_flow import authorize_in_browser
from tests.support.live_server import free_port

IDP = str(Path(sys.executable).parent / "idp")
REDIRECT = "https://rp.example.gub.uy/cb"
PASSWORD = "correct horse battery"


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    result = subprocess.run(
        [IDP, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


@pytest.fixture
def provider(tmp_path: Path) -> Any:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "IDP_ISSUER": issuer,
        "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}",
        "IDP_KEYS_DIR": str(tmp_path / "keys"),
        "IDP_KEY_PASSPHRASE": "rotation test passphrase",
        "IDP_KEY_REFRESH_SECONDS": "1",
        "IDP_ACCESS_TOKEN_TTL_SECONDS": "60",
    }
    run(env, "db", "upgrade")
    run(env, "keys", "rotate")
    client = run(
        env,
        "clients",
        "create",
        "--name",
        "RP",
        "--redirect-uri",
        REDIRECT,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "client_credentials",
        "--json",
    )
    run(
        env,
        "users",
        "create",
        "--username",
        "1.234.567-2",
        "--given-name",
        "Ana",
        "--family-name",
        "Silva",
        "--password-stdin",
        "--json",
        stdin=PASSWORD + "\n",
    )
    server = subprocess.Popen(
        [IDP, "serve", "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{issuer}/jwks.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield issuer, env, client
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def verify_with_fresh_jwks(issuer: str, token: str) -> str:
    header = jwt.get_unverified_header(token)
    keys = jwt.PyJWKSet.from_dict(httpx.get(f"{issuer}/jwks.json").json())
    key = keys[header["kid"]]
    jwt.decode(token, key.key, algorithms=[header["alg"]], audience=issuer, issuer=issuer)
    return str(header["kid"])


def test_rotation_under_load_with_two_workers(provider: Any) -> None:
    issuer, env, client = provider
    auth = (client["client_id"], client["client_secret"])
    issued: list[tuple[float, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=issuer, timeout=10) as http:
            while not stop.is_set():
                response = http.post("/token", auth=auth, data={"grant_type": "client_credentials"})
                try:
                    assert response.status_code == 200, response.text
                    kid = verify_with_fresh_jwks(issuer, response.json()["access_token"])
                    issued.append((time.monotonic(), kid))
                except Exception as exc:  # every failure counts
                    failures.append(repr(exc))

    # A citizen's access token signed by the first ES256 key, for UserInfo after revocation.
    browser = httpx.Client()
    verifier, challenge = pkce_pair()
    received = authorize_in_browser(
        browser,
        issuer + authorize_url(client["client_id"], REDIRECT, challenge),
        redirect_uri=REDIRECT,
        username="1.234.567-2",
        password=PASSWORD,
    )
    citizen_token = httpx.post(
        f"{issuer}/token",
        auth=auth,
        data={
            "grant_type": "authorization_code",
            "code": received.params["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    ).json()["access_token"]
    old_kid = jwt.get_unverified_header(citizen_token)["kid"]

    thread = threading.Thread(target=load)
    thread.start()
    try:
        time.sleep(1)
        rotated_at = time.monotonic()
        (new,) = run(env, "keys", "rotate", "--alg", "ES256", "--publish-ahead", "4s", "--json")
        assert new["state"] == "next"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(kid == new["kid"] for _, kid in issued):
            time.sleep(0.2)
        run(env, "keys", "retire", "--json", "--", old_kid)
        assert run(env, "keys", "prune", "--json") == {"removed": []}  # its tokens are still valid
        time.sleep(1)
    finally:
        stop.set()
        thread.join()

    assert failures == []
    first_new = min(at for at, kid in issued if kid == new["kid"])
    assert first_new >= rotated_at + 4 - 0.5  # published ahead, used only after 4 s
    assert any(kid == old_kid for _, kid in issued)
    assert verify_with_fresh_jwks(issuer, citizen_token) == old_kid  # retired, still verifies
    assert (
        httpx.get(
            f"{issuer}/userinfo", headers={"authorization": f"Bearer {citizen_token}"}
        ).status_code
        == 200
    )

    run(env, "keys", "revoke", "--reason", "drill", "--yes", "--json", "--", old_kid)
    time.sleep(2.5)  # every worker reloads keys within IDP_KEY_REFRESH_SECONDS
    for _ in range(4):  # both workers
        userinfo = httpx.get(
            f"{issuer}/userinfo", headers={"authorization": f"Bearer {citizen_token}"}
        )
        assert userinfo.status_code == 401
        introspection = httpx.post(f"{issuer}/introspect", auth=auth, data={"token": citizen_token})
        assert introspection.json() == {"active": False}
    assert old_kid not in {key["kid"] for key in httpx.get(f"{issuer}/jwks.json").json()["keys"]}
