"""Prometheus metrics (``GET /metrics``: Prometheus text format, or OpenMetrics on request).

Each application owns its registry (no module-level singletons, so several apps in one process
do not collide). Labels are bounded: requests are labelled with the matched route *template*
(``/clients/{client_id}``), never the raw URL, an HTTP method from a fixed list, and the status
class (``2xx`` ... ``5xx``).

Several workers (``idp serve --workers N``): each worker is a process with its own counters, and
a scrape reaches one of them. With ``PROMETHEUS_MULTIPROC_DIR`` set before the workers start
(``idp serve`` makes a fresh directory per run), prometheus-client writes every worker's values
to files there and ``/metrics`` sums them (``MultiProcessCollector``), whichever worker answers.
The signing key age is computed at scrape time from the keyring, so it needs no aggregation.

Optional ``IDP_METRICS_TOKEN``: then a scrape needs ``Authorization: Bearer <token>``
(RFC 6750 2.1); without it, the endpoint is open and should be reachable only from the
monitoring network (production logs a warning).
"""

from __future__ import annotations

import hmac
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import anyio
from fastapi import APIRouter
from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from idp.accounts import login
from idp.errors import InvalidToken
from idp.oidc.clients import GrantType
from idp.ops.health import own_thread
from idp.signing_keys.keyring import KeyRing
from idp.storage.database import Database
from idp.storage.models import SigningKey

if TYPE_CHECKING:
    from idp.context import ProviderContext

logger = logging.getLogger("idp.ops.metrics")

METRICS_PATH = "/metrics"
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds; a password check (argon2id at the OWASP minimum) takes tens of milliseconds."""

_NO_STORE = {"cache-control": "no-store"}


class LoginOutcome(StrEnum):
    SUCCESS = "success"
    INVALID = "invalid"
    THROTTLED = "throttled"
    DISABLED = "disabled"


def login_outcome(outcome: object) -> LoginOutcome:
    """The label of a ``login.authenticate_with_password`` result."""
    match outcome:
        case login.LoginSucceeded():
            return LoginOutcome.SUCCESS
        case login.LoginThrottled():
            return LoginOutcome.THROTTLED
        case login.AccountDisabled():
            return LoginOutcome.DISABLED
        case _:
            return LoginOutcome.INVALID


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else "other"


def multiprocess_mode() -> bool:
    """Whether this process writes its values to ``PROMETHEUS_MULTIPROC_DIR`` files, which
    prometheus-client decides once, when it is imported, from that variable."""
    return values.ValueClass is not values.MutexValue


@contextmanager
def worker_metrics_directory(workers: int) -> Iterator[str | None]:
    """For ``idp serve --workers N`` (N > 1): a fresh, empty ``PROMETHEUS_MULTIPROC_DIR`` for
    this run, set before the workers start (they inherit it) and removed when they have
    stopped. Values of an earlier run must not leak into this one's counters. A directory the
    operator set holds the run's directory. One worker keeps the in-memory registry."""
    if workers <= 1:
        yield None
        return
    previous = os.environ.get(MULTIPROC_DIR_VARIABLE)
    directory = tempfile.mkdtemp(prefix="idp-metrics-", dir=previous or None)
    os.environ[MULTIPROC_DIR_VARIABLE] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_DIR_VARIABLE, None)
        else:
            os.environ[MULTIPROC_DIR_VARIABLE] = previous
        shutil.rmtree(directory, ignore_errors=True)


class SigningKeyAgeCollector(Collector):
    """``idp_signing_key_age_seconds{alg}``: seconds since the current key of each algorithm
    was created, computed at scrape time. The current kids come from the keyring; a kid's
    creation time is read from the database once and remembered."""

    NAME = "idp_signing_key_age_seconds"
    DOCUMENTATION = "Seconds since the current signing key of each algorithm was created."

    def __init__(
        self, *, keyring: KeyRing, database: Database, clock: Callable[[], datetime]
    ) -> None:
        self._keyring = keyring
        self._database = database
        self._clock = clock
        self._created: dict[str, datetime] = {}

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.NAME, self.DOCUMENTATION, labels=["alg"])

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()

    def ages(self) -> dict[str, float]:
        current = {
            alg: self._keyring.signing_material(alg).kid
            for alg in self._keyring.signing_algorithms()
        }
        unknown = [kid for kid in current.values() if kid not in self._created]
        if unknown:
            with self._database.transaction() as session:
                rows = session.execute(
                    select(SigningKey.kid, SigningKey.created_at).where(SigningKey.kid.in_(unknown))
                ).all()
            for kid, created_at in rows:
                self._created[kid] = created_at
        now = self._clock()
        return {
            alg: max(0.0, (now - self._created[kid]).total_seconds())
            for alg, kid in current.items()
            if kid in self._created
        }

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        try:
            ages = self.ages()
        except Exception as exc:  # a scrape must not fail because the database is away
            logger.warning("Signing key age unavailable (%s).", type(exc).__name__)
            ages = {}
        for alg, age in sorted(ages.items()):
            family.add_metric([alg], age)
        yield family


class ProviderMetrics:
    """The provider's metrics, in a registry of its own."""

    def __init__(self, *, key_age: Collector) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "idp_http_requests",
            "HTTP requests by method, route template and status class.",
            ["method", "route", "status_class"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "idp_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status class.",
            ["method", "route", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.logins = Counter(
            "idp_logins",
            "Password logins by outcome (success, invalid, throttled, disabled).",
            ["outcome"],
            registry=self.registry,
        )
        self.tokens_issued = Counter(
            "idp_tokens_issued",
            "Successful token endpoint responses by grant type.",
            ["grant_type"],
            registry=self.registry,
        )
        self.federation_failures = Counter(
            "idp_federation_failures",
            "Failures talking to an upstream identity provider, by upstream and reason.",
            ["upstream", "reason"],
            registry=self.registry,
        )
        self.requests_shed = Counter(
            "idp_requests_shed",
            "Requests refused with 503 because the worker had too many in flight.",
            registry=self.registry,
        )
        for outcome in LoginOutcome:
            self.logins.labels(outcome.value)
        for grant_type in GrantType:
            self.tokens_issued.labels(grant_type.value)
        self.key_age = key_age
        self.multiprocess = multiprocess_mode()
        if not self.multiprocess:
            self.registry.register(key_age)

    @classmethod
    def for_context(cls, context: ProviderContext) -> ProviderMetrics:
        return cls(
            key_age=SigningKeyAgeCollector(
                keyring=context.keyring, database=context.database, clock=context.clock
            )
        )

    def observe_request(self, method: str, route: str, status: int, duration: float) -> None:
        labels = (method_label(method), route, status_class(status))
        self.requests.labels(*labels).inc()
        self.request_duration.labels(*labels).observe(duration)

    def count_shed(self) -> None:
        self.requests_shed.inc()

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The scrape body and its content type (Prometheus text, or OpenMetrics when the
        scraper's ``Accept`` asks for it): this process's registry, or, with several workers,
        every worker's values summed."""
        encoder, content_type = choose_encoder(accept or "")
        if not self.multiprocess:
            return encoder(self.registry), content_type
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(self.key_age)
        return encoder(registry), content_type


def metrics_of(request: Request) -> ProviderMetrics | None:
    metrics: ProviderMetrics | None = getattr(request.app.state, "metrics", None)
    return metrics


def count_login(request: Request, outcome: object) -> None:
    """Count one password login by its outcome (the login form's handler calls this)."""
    metrics = metrics_of(request)
    if metrics is not None:
        metrics.logins.labels(login_outcome(outcome).value).inc()


def count_token_issued(request: Request, grant_type: str) -> None:
    """Count one successful token response (the token endpoint calls this)."""
    metrics = metrics_of(request)
    if metrics is not None:
        metrics.tokens_issued.labels(str(grant_type)).inc()


# --- the endpoint -------------------------------------------------------------------------------


def check_scrape_token(authorization: str | None, expected: str) -> None:
    """RFC 6750 2.1: ``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode("utf-8"), expected.encode("utf-8")
    ):
        raise InvalidToken(
            "A valid metrics token is required.", headers={"www-authenticate": "Bearer"}
        )


router = APIRouter()


@router.get(METRICS_PATH, include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    metrics = metrics_of(request)
    assert metrics is not None, "the metrics router is only mounted with metrics enabled"
    token = request.app.state.provider.settings.metrics_token
    if token is not None:
        check_scrape_token(request.headers.get("authorization"), token.get_secret_value())
    body, content_type = await anyio.to_thread.run_sync(
        metrics.exposition, request.headers.get("accept"), limiter=own_thread()
    )
    return Response(body, headers={**_NO_STORE, "content-type": content_type})
