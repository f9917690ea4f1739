"""Many workers, one truth: two real provider processes (``idp serve``) share one PostgreSQL
database, as two hosts behind a load balancer would, and the requests of every flow alternate
between them. Whatever one process writes (a browser session, a consumed code, a rotated
refresh token, a revoked grant, a logout), the other must honour at once: nothing that matters
may live only in a worker's memory (docs/deploy.md).

The processes are set up exactly as docs/deploy.md says: production mode, `idp db upgrade`,
`idp keys rotate`, then `idp serve`, with the key passphrase read from a file.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import _create_pg_database, _drop_pg_database
from tests.oidc.flow import authorize_url, pkce_pair
from tests.support.browser_flow import authorize_in_browser
from tests.support.live_server import free_port

pytestmark = pytest.mark.postgresql

IDP = str(Path(sys.executable).parent / "idp")
USERNAME = "1.234.567-2"
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://tramites.example.gub.uy/callback"
POST_LOGOUT_URI = "https://tramites.example.gub.uy/"
START_SECONDS = 60


@dataclass
class Provider:
    """One ``idp serve`` process."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def http(self) -> httpx.Client:
        """A client that talks to this process only (a relying party's server, pinned)."""
        return httpx.Client(base_url=self.url, timeout=30)


class RoundRobin(httpx.BaseTransport):
    """The load balancer, inside the browser: every request goes to the next process in turn.
    The request keeps its URL and ``Host`` (the issuer's), so cookies and redirects behave as
    behind a real balancer; ``served`` records which process answered what."""

    def __init__(self, providers: list[Provider]) -> None:
        self._next = itertools.cycle(providers)
        self._http = httpx.HTTPTransport()
        self.served: list[tuple[str, str, Provider]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        provider = next(self._next)
        forwarded = httpx.Request(
            request.method,
            request.url.copy_with(port=provider.port),
            headers=request.headers,
            stream=request.stream,
        )
        self.served.append((request.method, request.url.path, provider))
        return self._http.handle_request(forwarded)

    def close(self) -> None:
        self._http.close()


@dataclass
class Cluster:
    issuer: str
    a: Provider
    b: Provider
    client_id: str
    client_secret: str
    browsers: list[httpx.Client] = field(default_factory=list)

    def browser(self) -> tuple[httpx.Client, RoundRobin]:
        """A citizen's browser whose requests alternate between the two processes."""
        transport = RoundRobin([self.a, self.b])
        browser = httpx.Client(base_url=self.issuer, transport=transport, timeout=30)
        self.browsers.append(browser)
        return browser, transport

    def other(self, provider: Provider) -> Provider:
        return self.b if provider is self.a else self.a

    @property
    def basic(self) -> tuple[str, str]:
        return (self.client_id, self.client_secret)


# --- the two processes ---------------------------------------------------------------------------


def idp(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    result = subprocess.run(
        [IDP, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


def start_provider(env: dict[str, str], log: Path) -> Provider:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [IDP, "serve", "--port", str(port), "--workers", "1", "--log-level", "warning"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Provider(port=port, process=process, log=log)


def wait_until_ready(provider: Provider) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if provider.process.poll() is not None:
            pytest.fail(f"idp serve exited:\n{provider.log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{provider.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"idp serve was not ready in time:\n{provider.log.read_text(errors='replace')}")


def stop(provider: Provider) -> None:
    if provider.process.poll() is None:
        os.killpg(provider.process.pid, signal.SIGTERM)
        try:
            provider.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(provider.process.pid, signal.SIGKILL)
            provider.process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(postgresql_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two ``idp serve`` processes on one PostgreSQL database, with one confidential client
    and one citizen. The issuer is a port nobody listens on: the load balancer's address, so
    a request that bypassed the round robin would fail."""
    folder = tmp_path_factory.mktemp("two-processes")
    passphrase_file = folder / "key-passphrase"
    passphrase_file.write_text("a passphrase for both processes\n", encoding="utf-8")
    passphrase_file.chmod(0o600)
    database = _create_pg_database(postgresql_server)
    issuer = f"http://127.0.0.1:{free_port()}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("IDP_")}
    env |= {
        "IDP_ENV": "production",
        "IDP_ISSUER": issuer,
        "IDP_DATABASE_URL": postgresql_server.url(database),
        "IDP_KEYS_DIR": str(folder / "keys"),
        "IDP_KEY_PASSPHRASE_FILE": str(passphrase_file),
        "IDP_PAIRWISE_SALT": "a pairwise salt for both processes",
        "IDP_METRICS_TOKEN": "a metrics token",
        "IDP_DB_POOL_SIZE": "2",
        "IDP_DB_MAX_OVERFLOW": "2",
        "IDP_LOG_FORMAT": "text",
    }
    providers: list[Provider] = []
    browsers: list[httpx.Client] = []
    try:
        idp(env, "db", "upgrade")
        idp(env, "keys", "rotate")
        client = idp(
            env,
            "clients",
            "create",
            "--name",
            "Portal de trámites",
            "--redirect-uri",
            REDIRECT_URI,
            "--post-logout-redirect-uri",
            POST_LOGOUT_URI,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--grant-type",
            "client_credentials",
            "--json",
        )
        idp(
            env,
            "users",
            "create",
            "--username",
            USERNAME,
            "--given-name",
            "Ana",
            "--family-name",
            "Silva",
            "--password-stdin",
            "--json",
            stdin=PASSWORD + "\n",
        )
        providers = [start_provider(env, folder / f"provider-{name}.log") for name in "ab"]
        for provider in providers:
            wait_until_ready(provider)
        cluster = Cluster(
            issuer=issuer,
            a=providers[0],
            b=providers[1],
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            browsers=browsers,
        )
        yield cluster
    finally:
        for browser in browsers:
            browser.close()
        for provider in providers:
            stop(provider)
        _drop_pg_database(postgresql_server, database)


# --- helpers of the flows ------------------------------------------------------------------------


def log_in_and_consent(cluster: Cluster, browser: httpx.Client, transport: RoundRobin) -> Any:
    """The code flow's browser part, each request on the other process than the one before:
    returns (code, verifier, the process that issued the code)."""
    verifier, challenge = pkce_pair()
    received = authorize_in_browser(
        browser,
        authorize_url(cluster.client_id, REDIRECT_URI, challenge),
        redirect_uri=REDIRECT_URI,
        username=USERNAME,
        password=PASSWORD,
    )
    assert received.params["iss"] == cluster.issuer
    assert received.params["state"] == "state-123"
    served_by = {provider.port for _, _, provider in transport.served}
    assert served_by == {cluster.a.port, cluster.b.port}
    paths = [path for _, path, _ in transport.served]
    assert "/login" in paths, paths  # a real login form, with its CSRF token
    _, _, issuer_of_code = transport.served[-1]  # it answered with the redirect to the client
    return received.params["code"], verifier, issuer_of_code


def redeem(provider: Provider, cluster: Cluster, code: str, verifier: str) -> httpx.Response:
    with provider.http() as http:
        return http.post(
            "/token",
            auth=cluster.basic,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )


def refresh(provider: Provider, cluster: Cluster, refresh_token: str) -> httpx.Response:
    with provider.http() as http:
        return http.post(
            "/token",
            auth=cluster.basic,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        )


def userinfo(provider: Provider, access_token: str) -> httpx.Response:
    with provider.http() as http:
        return http.get("/userinfo", headers={"authorization": f"Bearer {access_token}"})


def assert_invalid_grant(response: httpx.Response, description: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "invalid_grant", "error_description": description}
    assert response.headers["cache-control"] == "no-store"


def claims_of(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def tokens_across(cluster: Cluster) -> tuple[dict[str, Any], Provider, httpx.Client]:
    """Log in on both processes, redeem the code at the process that did not issue it."""
    browser, transport = cluster.browser()
    code, verifier, issuer_of_code = log_in_and_consent(cluster, browser, transport)
    response = redeem(cluster.other(issuer_of_code), cluster, code, verifier)
    assert response.status_code == 200, response.text
    return response.json(), issuer_of_code, browser


# --- the flows -----------------------------------------------------------------------------------


def test_a_code_issued_by_one_process_is_redeemed_once_at_the_other(cluster: Cluster) -> None:
    browser, transport = cluster.browser()
    code, verifier, issuer_of_code = log_in_and_consent(cluster, browser, transport)
    redeemer = cluster.other(issuer_of_code)
    steps = [(method, path) for method, path, _ in transport.served]
    assert ("POST", "/login") in steps
    assert steps[-1] == ("POST", "/consent")  # a first visit: the citizen was asked

    tokens = redeem(redeemer, cluster, code, verifier)

    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert claims_of(body["id_token"])["iss"] == cluster.issuer
    assert claims_of(body["id_token"])["nonce"] == "nonce-456"
    # UserInfo answers on both processes with the same claims.
    answers = [userinfo(provider, body["access_token"]) for provider in (cluster.a, cluster.b)]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["sub"] == claims_of(body["id_token"])["sub"]
    assert answers[0].json()["given_name"] == "Ana"

    # The code is spent for every process: replayed at the one that issued it, it is refused
    # and its grant revoked, which the redeeming process honours at once.
    replay = redeem(issuer_of_code, cluster, code, verifier)

    assert_invalid_grant(replay, "The authorization code was already used; its tokens are revoked.")
    assert userinfo(redeemer, body["access_token"]).status_code == 401
    assert_invalid_grant(
        refresh(redeemer, cluster, body["refresh_token"]),
        "The grant has expired or was revoked.",
    )


def test_a_refresh_token_rotated_on_one_process_is_refused_on_the_other(
    cluster: Cluster,
) -> None:
    first, _, _ = tokens_across(cluster)

    rotated = refresh(cluster.a, cluster, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    for provider in (cluster.a, cluster.b):
        assert userinfo(provider, second["access_token"]).status_code == 200

    replay = refresh(cluster.b, cluster, first["refresh_token"])

    assert_invalid_grant(replay, "The refresh token was already used; the grant is revoked.")
    # The replay revoked the whole grant: the newest tokens die on both processes too.
    assert_invalid_grant(
        refresh(cluster.a, cluster, second["refresh_token"]),
        "The grant has expired or was revoked.",
    )
    for provider in (cluster.a, cluster.b):
        assert userinfo(provider, second["access_token"]).status_code == 401


def test_a_logout_on_one_process_ends_the_session_on_the_other(cluster: Cluster) -> None:
    tokens, _, browser = tokens_across(cluster)
    query = urlencode(
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": "bye",
        }
    )
    with cluster.a.http() as http:
        http.cookies = browser.cookies
        logout = http.get(f"/logout/oidc?{query}")
        assert logout.status_code in (302, 303), logout.text
        assert logout.headers["location"] == f"{POST_LOGOUT_URI}?state=bye"
        browser.cookies = http.cookies

    # The other process finds no session: a silent authorization asks for a login.
    _, challenge = pkce_pair()
    with cluster.b.http() as http:
        http.cookies = browser.cookies
        silent = http.get(authorize_url(cluster.client_id, REDIRECT_URI, challenge, prompt="none"))
    assert silent.status_code in (302, 303), silent.text
    location = silent.headers["location"]
    assert location.startswith(REDIRECT_URI)
    assert dict(parse_qsl(urlsplit(location).query))["error"] == "login_required"
    # The grant made in that session ended with it (it had no offline_access), everywhere.
    assert userinfo(cluster.b, tokens["access_token"]).status_code == 401
    assert_invalid_grant(
        refresh(cluster.b, cluster, tokens["refresh_token"]),
        "The grant has expired or was revoked.",
    )


def test_client_credentials_on_both_processes(cluster: Cluster) -> None:
    issued = []
    for provider in (cluster.a, cluster.b, cluster.a, cluster.b):
        with provider.http() as http:
            response = http.post(
                "/token", auth=cluster.basic, data={"grant_type": "client_credentials"}
            )
        assert response.status_code == 200, response.text
        issued.append(claims_of(response.json()["access_token"]))

    assert {claims["iss"] for claims in issued} == {cluster.issuer}
    assert {claims["client_id"] for claims in issued} == {cluster.client_id}
    assert len({claims["jti"] for claims in issued}) == len(issued)
    # Both processes publish the same keys, so a token of one verifies with the other's JWKS.
    jwks = []
    for provider in (cluster.a, cluster.b):
        with provider.http() as http:
            jwks.append(http.get("/jwks.json").json())
    assert jwks[0] == jwks[1]
