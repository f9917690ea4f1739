"""Liveness and readiness probes for an orchestrator or a load balancer.

``GET /healthz`` (liveness): the process answers; it touches nothing else, so a database outage
never gets healthy workers restarted. ``GET /readyz`` (readiness): the worker can serve now:
the database answers ``SELECT 1`` and the keyring has a current OIDC signing key for every
default algorithm (the same rule as the start-up check). Each check runs in a thread of its
own with a short timeout; 200 with ``{"status": "ready", "checks": {...}}``, else 503 with
``"status": "unavailable"`` and the failing check marked ``failed`` or ``timeout``. The cause
goes to the log, never to the response. Both answers are ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.requests import Request

from idp.signing_keys.algorithms import DEFAULT_ALGORITHMS
from idp.signing_keys.keyring import KeyRing, NoSigningKey
from idp.storage.database import Database

if TYPE_CHECKING:
    from idp.context import ProviderContext

logger = logging.getLogger("idp.ops.health")

HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
READINESS_TIMEOUT_SECONDS = 2.0
"""Per check; well under the usual probe timeouts, so a hung database reads as not ready."""

_NO_STORE = {"cache-control": "no-store"}


def own_thread() -> anyio.CapacityLimiter:
    """A limiter of one's own for a ``to_thread`` call: the call does not wait for a token of
    the default thread pool, so a pool busy with requests never delays a probe or a scrape."""
    return anyio.CapacityLimiter(1)


class CheckStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"


# --- the checks (blocking; each raises when the worker is not ready) ---------------------------


def database_answers(database: Database) -> None:
    with database.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def signing_keys_loaded(keyring: KeyRing) -> None:
    missing = [alg.value for alg in DEFAULT_ALGORITHMS if not keyring.can_sign(alg.value)]
    if missing:
        raise NoSigningKey(f"No current signing key for {', '.join(missing)}.")


# --- the probe ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, CheckStatus]

    @property
    def ready(self) -> bool:
        return all(status is CheckStatus.OK for status in self.checks.values())

    def body(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "unavailable",
            "checks": {name: status.value for name, status in self.checks.items()},
        }


class ReadinessProbe:
    """Runs the named checks concurrently, each in its own thread with a timeout. A check still
    running from an earlier probe (a hung connection) counts as a timeout without starting
    another thread, so probes against a hung database never pile threads up."""

    def __init__(
        self,
        checks: Mapping[str, Callable[[], None]],
        *,
        timeout_seconds: float = READINESS_TIMEOUT_SECONDS,
    ) -> None:
        self.checks = dict(checks)
        self.timeout_seconds = timeout_seconds
        self._running: set[str] = set()

    @classmethod
    def for_context(cls, context: ProviderContext) -> ReadinessProbe:
        return cls(
            {
                "database": lambda: database_answers(context.database),
                "signing_keys": lambda: signing_keys_loaded(context.keyring),
            }
        )

    async def run(self) -> Readiness:
        results: dict[str, CheckStatus] = {}
        async with anyio.create_task_group() as group:
            for name in self.checks:
                group.start_soon(self._run_one, name, results)
        return Readiness({name: results[name] for name in self.checks})

    async def _run_one(self, name: str, results: dict[str, CheckStatus]) -> None:
        if name in self._running:
            results[name] = CheckStatus.TIMEOUT
            return
        check = self.checks[name]
        self._running.add(name)

        def work() -> None:
            try:
                check()
            finally:
                self._running.discard(name)

        results[name] = CheckStatus.TIMEOUT
        with anyio.move_on_after(self.timeout_seconds):
            try:
                await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=own_thread())
            except Exception as exc:
                logger.warning("Readiness check %s failed (%s).", name, type(exc).__name__)
                results[name] = CheckStatus.FAILED
            else:
                results[name] = CheckStatus.OK
        if results[name] is CheckStatus.TIMEOUT:
            logger.warning("Readiness check %s timed out.", name)


# --- the endpoints ------------------------------------------------------------------------------

router = APIRouter()


@router.get(HEALTHZ_PATH, include_in_schema=False)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


@router.get(READYZ_PATH, include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    probe: ReadinessProbe = request.app.state.readiness
    readiness = await probe.run()
    return JSONResponse(
        readiness.body(), status_code=200 if readiness.ready else 503, headers=_NO_STORE
    )
