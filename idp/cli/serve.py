"""``idp serve``: run the provider with uvicorn (one or several worker processes)."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from idp.cli import common
from idp.context import ProviderContext
from idp.ops.logging import log_format_of, logging_config
from idp.ops.metrics import worker_metrics_directory
from idp.startup import run_startup_checks


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
    log_level: Annotated[str, typer.Option()] = "info",
    worker_start_timeout: Annotated[
        int,
        typer.Option(
            min=5,
            max=600,
            help="Seconds a new worker may take to start before it is replaced (slow or "
            "busy machines need more than uvicorn's 5).",
        ),
    ] = 60,
) -> None:
    """Serve the provider. Refuses to start with a stale schema or unusable signing keys.

    Logs go to stderr as JSON lines (text in development; IDP_LOG_FORMAT). With several
    workers, metrics are summed across them through a fresh PROMETHEUS_MULTIPROC_DIR.
    """
    settings = common.settings()
    common.refuse_missing_database(settings)
    with common.operator_errors():
        context = ProviderContext.from_settings(settings, database=common.open_database(settings))
        try:
            run_startup_checks(context)
        finally:
            context.database.dispose()
    typer.echo(f"Identity provider {settings.issuer} listening on http://{host}:{port}")
    with worker_metrics_directory(workers):
        uvicorn.run(
            "idp.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=logging_config(log_format_of(settings), level=log_level),
            proxy_headers=True,
            server_header=False,
            access_log=False,
            timeout_worker_healthcheck=worker_start_timeout,
        )
