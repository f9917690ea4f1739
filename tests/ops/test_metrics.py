"""Prometheus metrics over HTTP: the counters after real logins and tokens, bounded labels
(route templates, never raw URLs), the scrape token, and the sum across worker processes."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from idp.app import create_app
from idp.config import Settings
from idp.context import utc_now
from idp.oidc.clients import ApplicationType, ClientMetadata, SubjectType, register_client
from idp.ops.metrics import MULTIPROC_DIR_VARIABLE, worker_metrics_directory
from idp.storage.models import ClientAuthMethod
from tests.helpers import DEMO_USERNAME, add_citizen, log_in

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["cache-control"] == "no-store"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def register_service_client(app: FastAPI) -> tuple[str, str]:
    """A client_credentials client (client_secret_basic); returns its id and secret."""
    metadata = ClientMetadata(
        client_name="Servicio de consulta",
        redirect_uris=[],
        grant_types=["client_credentials"],
        scopes=["document"],
        token_endpoint_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC,
        application_type=ApplicationType.WEB,
        subject_type=SubjectType.PUBLIC,
    )
    with app.state.provider.database.transaction() as session:
        row, secret = register_client(session, metadata=metadata, now=utc_now())
    assert secret is not None
    return row.client_id, secret


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_logins_and_tokens_are_counted(app: FastAPI, client: TestClient) -> None:
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    assert log_in(client).status_code == 303
    assert log_in(client, password="not the password").status_code == 401
    client_id, secret = register_service_client(app)
    token = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "document"},
        headers={"authorization": basic(client_id, secret)},
    )
    assert token.status_code == 200, token.text
    refused = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"authorization": basic(client_id, "wrong secret")},
    )
    assert refused.status_code == 401

    samples = scrape(client)
    assert value(samples, "idp_logins_total", outcome="success") == 1
    assert value(samples, "idp_logins_total", outcome="invalid") == 1
    assert value(samples, "idp_logins_total", outcome="throttled") == 0
    assert value(samples, "idp_logins_total", outcome="disabled") == 0
    assert value(samples, "idp_tokens_issued_total", grant_type="client_credentials") == 1
    assert value(samples, "idp_tokens_issued_total", grant_type="authorization_code") == 0
    post_token = {"method": "POST", "route": "/token"}
    assert value(samples, "idp_http_requests_total", **post_token, status_class="2xx") == 1
    assert value(samples, "idp_http_requests_total", **post_token, status_class="4xx") == 1
    assert value(samples, "idp_http_requests_total", method="POST", route="/login",
                 status_class="3xx") == 1  # fmt: skip
    assert (
        value(
            samples,
            "idp_http_request_duration_seconds_count",
            **post_token,
            status_class="2xx",
        )
        == 1
    )
    assert value(samples, "idp_requests_shed_total") == 0


def test_labels_are_route_templates_never_raw_urls(app: FastAPI, client: TestClient) -> None:
    @app.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    for thing_id in ("a1", "b2", "c3"):
        assert client.get(f"/things/{thing_id}?code=secret-code").status_code == 200
    client.get("/static/style.css")
    client.get("/clients/1234567/secret-path?access_token=abc")  # no such route: a 404

    samples = scrape(client)
    routes = {
        dict(labels)["route"] for name, labels in samples if name == "idp_http_requests_total"
    }
    assert "/things/{thing_id}" in routes
    assert "/static/{path}" in routes
    assert "<unmatched>" in routes
    everything = " ".join(str(key) for key in samples)
    for raw in ("a1", "secret-code", "1234567", "secret-path", "abc", "style.css"):
        assert raw not in everything
    assert (
        value(
            samples,
            "idp_http_requests_total",
            method="GET",
            route="/things/{thing_id}",
            status_class="2xx",
        )
        == 3
    )


def test_signing_key_age_is_computed_at_scrape_time(app: FastAPI, client: TestClient) -> None:
    samples = scrape(client)
    for alg in ("RS256", "ES256"):
        age = value(samples, "idp_signing_key_age_seconds", alg=alg)
        assert age is not None
        assert 0 <= age < 600  # the keys were made when the app started


def test_openmetrics_when_the_scraper_asks_for_it(client: TestClient) -> None:
    response = client.get(
        "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_the_metrics_token_is_required_when_set(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    app = create_app(settings_factory(sqlite_database_url, metrics_token="scrape-token-0123456789"))
    try:
        with TestClient(app) as client:
            for headers in (
                {},
                {"authorization": "Bearer wrong-token"},
                {"authorization": "Basic c2NyYXBlLXRva2VuLTAxMjM0NTY3ODk="},
            ):
                response = client.get("/metrics", headers=headers)
                assert response.status_code == 401
                assert response.json()["error"] == "invalid_token"
                assert response.headers["www-authenticate"] == "Bearer"
                assert "idp_" not in response.text
            samples = scrape(client, authorization="Bearer scrape-token-0123456789")
            assert value(samples, "idp_logins_total", outcome="success") == 0
    finally:
        app.state.provider.database.dispose()


def test_metrics_can_be_turned_off(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    app = create_app(settings_factory(sqlite_database_url, metrics_enabled=False))
    try:
        with TestClient(app) as client:
            assert client.get("/metrics").status_code == 404
            assert client.get("/healthz").status_code == 200
            assert log_in(client, username=DEMO_USERNAME).status_code == 401
    finally:
        app.state.provider.database.dispose()


# --- several workers ----------------------------------------------------------------------------

WORKER = """
import sys
from prometheus_client.registry import Collector
from idp.ops.metrics import ProviderMetrics

class NoKeys(Collector):
    def collect(self):
        return iter(())

metrics = ProviderMetrics(key_age=NoKeys())
assert metrics.multiprocess
metrics.logins.labels("success").inc(int(sys.argv[1]))
metrics.observe_request("GET", "/login", 200, 0.01)
if sys.argv[2] == "scrape":
    body, _ = metrics.exposition()
    sys.stdout.write(body.decode())
"""


def test_worker_processes_are_summed_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two worker processes share PROMETHEUS_MULTIPROC_DIR; either one's scrape shows both."""
    env = {**os.environ, MULTIPROC_DIR_VARIABLE: str(tmp_path)}

    def worker(count: int, action: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", WORKER, str(count), action],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    worker(2, "exit")
    exposition = worker(3, "scrape")
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    assert value(samples, "idp_logins_total", outcome="success") == 5
    assert (
        value(samples, "idp_http_requests_total", method="GET", route="/login", status_class="2xx")
        == 2
    )


def test_serve_makes_a_fresh_directory_per_run_only_for_several_workers() -> None:
    before = os.environ.get(MULTIPROC_DIR_VARIABLE)
    with worker_metrics_directory(1) as directory:
        assert directory is None
        assert os.environ.get(MULTIPROC_DIR_VARIABLE) == before
    with worker_metrics_directory(4) as directory:
        assert directory is not None
        assert os.environ[MULTIPROC_DIR_VARIABLE] == directory
        assert os.listdir(directory) == []
        Path(directory, "counter_1.db").write_bytes(b"")
    assert not os.path.exists(directory)
    assert os.environ.get(MULTIPROC_DIR_VARIABLE) == before


def test_an_operators_directory_holds_the_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_DIR_VARIABLE, str(tmp_path))
    with worker_metrics_directory(2) as directory:
        assert directory is not None
        assert Path(directory).parent == tmp_path
    assert os.environ[MULTIPROC_DIR_VARIABLE] == str(tmp_path)
    assert list(tmp_path.iterdir()) == []
