"""HttpFetcher: outbound rules, and a whole Trust Chain resolved over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn

from idp.config import Settings
from idp.federation.fetcher import HttpFetcher, entity_configuration_url
from idp.federation.statements import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    MAX_STATEMENT_LENGTH,
    Reason,
    TrustChainError,
)
from idp.federation.trust_chain import resolve_trust_chain
from tests.federation.builder import Federation

STATEMENT = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def fetch_failed(call: Any, *args: Any) -> TrustChainError:
    with pytest.raises(TrustChainError) as caught:
        call(*args)
    assert caught.value.reason is Reason.FETCH_FAILED, caught.value
    return caught.value


# --- URLs ----------------------------------------------------------------------------------


def test_configuration_url_follows_section_9() -> None:
    assert entity_configuration_url("https://op.example.org") == (
        "https://op.example.org/.well-known/openid-federation"
    )
    assert entity_configuration_url("https://example.org/uy/") == (
        "https://example.org/uy/.well-known/openid-federation"
    )


@pytest.mark.parametrize(
    "entity_id",
    [
        "ftp://op.example.org",
        "https://",
        "https://op.example.org?x=1",
        "https://op.example.org#f",
        "https://user@op.example.org",
        "https://[::1",
    ],
)
def test_bad_entity_identifiers_are_refused(entity_id: str) -> None:
    fetch_failed(entity_configuration_url, entity_id)


# --- refusal rules (no network needed) -------------------------------------------------------


def test_private_addresses_are_refused_by_default() -> None:
    fetcher = HttpFetcher(settings())
    error = fetch_failed(fetcher.fetch_entity_configuration, "https://127.0.0.1:9")
    assert "non-public" in str(error)
    fetch_failed(fetcher.fetch_entity_configuration, "http://127.0.0.1:9")


def test_the_fetch_request_carries_only_sub() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(
            200, text=STATEMENT, headers={"content-type": ENTITY_STATEMENT_MEDIA_TYPE}
        )

    fetcher = HttpFetcher(
        settings(allow_private_network_fetches=True), transport=httpx.MockTransport(handler)
    )
    token = fetcher.fetch_subordinate_statement(
        "http://127.0.0.1/fetch?tenant=uy", "http://127.0.0.1", "https://op.example.org/a b"
    )
    assert token == STATEMENT
    assert dict(seen[0].params) == {"tenant": "uy", "sub": "https://op.example.org/a b"}


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(302, headers={"location": "http://127.0.0.1/elsewhere"}),
        httpx.Response(404, json={"error": "not_found"}),
        httpx.Response(200, text=STATEMENT, headers={"content-type": "text/plain"}),
        httpx.Response(200, text=STATEMENT),
        httpx.Response(
            200,
            text="x" * (MAX_STATEMENT_LENGTH + 1),
            headers={"content-type": ENTITY_STATEMENT_MEDIA_TYPE},
        ),
        httpx.Response(
            200, content="é".encode(), headers={"content-type": ENTITY_STATEMENT_MEDIA_TYPE}
        ),
    ],
)
def test_unusable_answers_are_failed_fetches(response: httpx.Response) -> None:
    fetcher = HttpFetcher(
        settings(allow_private_network_fetches=True),
        transport=httpx.MockTransport(lambda request: response),
    )
    fetch_failed(fetcher.fetch_entity_configuration, "http://127.0.0.1")


def test_transport_errors_are_failed_fetches() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    fetcher = HttpFetcher(
        settings(allow_private_network_fetches=True), transport=httpx.MockTransport(handler)
    )
    fetch_failed(fetcher.fetch_entity_configuration, "http://127.0.0.1")


def test_a_fetch_endpoint_with_a_fragment_is_refused() -> None:
    fetcher = HttpFetcher(settings(allow_private_network_fetches=True))
    fetch_failed(fetcher.fetch_subordinate_statement, "http://127.0.0.1/f#x", "i", "s")


# --- a real server -------------------------------------------------------------------------


class FederationServer:
    """Serves an in-memory federation whose entities live under paths of one origin."""

    def __init__(self) -> None:
        self.federation = Federation(now=int(time.time()))
        self.origin = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path: str = scope["path"]
        status, body = 404, b'{"error":"not_found"}'
        content_type = "application/json"
        if path.endswith("/.well-known/openid-federation"):
            entity_id = self.origin + path.removesuffix("/.well-known/openid-federation")
            if entity_id in self.federation.entities:
                status, body = 200, self.federation.configuration(entity_id).encode()
                content_type = ENTITY_STATEMENT_MEDIA_TYPE
        elif path.endswith("/fetch"):
            issuer = self.origin + path.removesuffix("/fetch")
            query = parse_qs(scope["query_string"].decode())
            subject = query.get("sub", [""])[0]
            if (issuer, subject) in self.federation.subordinate_claims:
                status, body = 200, self.federation.statement(issuer, subject).encode()
                content_type = ENTITY_STATEMENT_MEDIA_TYPE
        elif path == "/redirect":
            status, body = 302, b""
        elif path == "/slow":
            await self._drip(send)
            return
        headers = [(b"content-type", content_type.encode())]
        if status == 302:
            headers.append((b"location", f"{self.origin}/ta".encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _drip(self, send: Any) -> None:
        headers = [(b"content-type", ENTITY_STATEMENT_MEDIA_TYPE.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for _ in range(15):
            await send({"type": "http.response.body", "body": b"e", "more_body": True})
            await asyncio.sleep(0.1)
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def server() -> Iterator[FederationServer]:
    app = FederationServer()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.02)
    port = uvicorn_server.servers[0].sockets[0].getsockname()[1]
    app.origin = f"http://127.0.0.1:{port}"
    trust_anchor, intermediate, leaf = (f"{app.origin}/{name}" for name in ("ta", "int", "op"))
    federation = app.federation
    federation.add(trust_anchor, authority=True)
    federation.add(intermediate, authority_hints=[trust_anchor], authority=True)
    federation.add(
        leaf, authority_hints=[intermediate], metadata={"openid_provider": {"issuer": leaf}}
    )
    federation.subordinate(
        trust_anchor,
        intermediate,
        metadata_policy={"openid_provider": {"contacts": {"add": ["ops@ta.example.org"]}}},
    )
    federation.subordinate(intermediate, leaf)
    try:
        yield app
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)


def test_a_chain_resolves_over_http(server: FederationServer) -> None:
    origin = server.origin
    chain = resolve_trust_chain(
        f"{origin}/op",
        trust_anchors=server.federation.trust_anchors(f"{origin}/ta"),
        fetcher=HttpFetcher(settings(allow_private_network_fetches=True)),
        now=int(time.time()),
    )
    assert chain.trust_anchor_id == f"{origin}/ta"
    assert chain.metadata == {"issuer": f"{origin}/op", "contacts": ["ops@ta.example.org"]}


def test_the_real_server_is_refused_without_the_private_network_setting(
    server: FederationServer,
) -> None:
    fetcher = HttpFetcher(settings())
    fetch_failed(fetcher.fetch_entity_configuration, f"{server.origin}/op")


def test_redirects_are_not_followed(server: FederationServer) -> None:
    fetcher = HttpFetcher(settings(allow_private_network_fetches=True))
    error = fetch_failed(fetcher._get, f"{server.origin}/redirect")
    assert "302" in str(error)


def test_unknown_subjects_are_failed_fetches(server: FederationServer) -> None:
    fetcher = HttpFetcher(settings(allow_private_network_fetches=True))
    error = fetch_failed(
        fetcher.fetch_subordinate_statement, f"{server.origin}/ta/fetch", "ta", "nobody"
    )
    assert "404" in str(error)


def test_a_slow_drip_is_cut_off(server: FederationServer) -> None:
    fetcher = HttpFetcher(
        settings(allow_private_network_fetches=True, outbound_timeout_seconds=0.4)
    )
    started = time.monotonic()
    error = fetch_failed(fetcher._get, f"{server.origin}/slow")
    assert "too slowly" in str(error)
    assert time.monotonic() - started < 1.2
