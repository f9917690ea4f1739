"""Operations: probes, metrics, structured request logs and load shedding.

``install_operations`` wires them into an application (``create_app`` calls it once). The
middleware order, outermost first: request context (request id, access log, request metrics),
then load shedding, so that a shed request is still logged, counted and carries its id.
See docs/operations/observability.md.
"""

from __future__ import annotations

from logging import getLogger  # not `import logging`: idp.ops.logging shadows that name here

from fastapi import FastAPI

from idp.context import ProviderContext
from idp.ops import health, metrics
from idp.ops.logging import RequestContextMiddleware
from idp.ops.overload import OverloadMiddleware

logger = getLogger("idp.ops")

OPERATIONS_PATHS = frozenset({health.HEALTHZ_PATH, health.READYZ_PATH, metrics.METRICS_PATH})
"""Never shed, and logged at DEBUG (probes and scrapes come every few seconds)."""


def install_operations(app: FastAPI, context: ProviderContext) -> None:
    settings = context.settings
    provider_metrics = (
        metrics.ProviderMetrics.for_context(context) if settings.metrics_enabled else None
    )
    app.state.metrics = provider_metrics
    app.state.readiness = health.ReadinessProbe.for_context(context)

    app.include_router(health.router)
    if provider_metrics is not None:
        app.include_router(metrics.router)
        if settings.is_production and settings.metrics_token is None:
            logger.warning(
                "Metrics are served without a token: set IDP_METRICS_TOKEN, or make sure "
                "%s is reachable only from the monitoring network.",
                metrics.METRICS_PATH,
            )

    app.add_middleware(
        OverloadMiddleware,
        max_concurrent=settings.max_concurrent_requests,
        exempt_paths=OPERATIONS_PATHS,
        on_shed=provider_metrics.count_shed if provider_metrics else None,
    )
    app.add_middleware(
        RequestContextMiddleware,
        observe=provider_metrics.observe_request if provider_metrics else None,
        quiet_routes=OPERATIONS_PATHS,
    )
