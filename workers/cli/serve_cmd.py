"""`gdp serve`: the HTTP service (edge_compat) under uvicorn.

    python -m workers.cli.serve_cmd --port 8080 [--host 127.0.0.1] [--workers 2]
        [--metrics-port 9465 [--metrics-host 127.0.0.1]]

DATABASE_URL (workers.settings) names the database. Access logs are off (the metrics counters
replace them); the service's own log lines carry ids and hashes only. uvicorn's proxy-header
handling is off: the relay reads X-Forwarded-For itself, believing only GDP_TRUSTED_PROXIES
(edge_compat.client_ip). Metrics have their own listener, never the API's port.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from typing import Annotated, Any

import typer

from workers.cli._common import one_line_errors
from workers.errors import ConfigError
from workers.settings import get_settings, require


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging plus the service's own logger (gdp.edge), one line per record."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"()": "edge_compat.logs.KeyValueFormatter"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "gdp": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
    workers: Annotated[
        int, typer.Option(help="Server processes (one per core is a good start).", min=1)
    ] = 1,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve Prometheus metrics on this port (a listener of its own; off if unset).",
            min=1,
            max=65535,
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address of the metrics listener (they name products, pixels).")
    ] = "127.0.0.1",
) -> None:
    """Serve the HTTP API: /api/v1/meta/event, /functions/v1/track-conversion, the relay."""
    import uvicorn

    from edge_compat.metrics import serve_metrics

    settings = get_settings()
    require(settings.relay_problem())
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process counts into files here, so a scrape sees them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gdp-metrics-")
    level = settings.log_level.upper()
    if metrics_port is not None:
        try:
            serve_metrics(metrics_host, metrics_port, settings.database_url)
        except OSError as exc:
            raise ConfigError(
                f"--metrics-port: cannot listen on {metrics_host}:{metrics_port} ({exc.strerror})"
            ) from None
        typer.echo(f"gdp serve: metrics at http://{metrics_host}:{metrics_port}/metrics", err=True)
    typer.echo(f"gdp serve: http://{host}:{port} (docs at /docs, {workers} process(es))", err=True)
    uvicorn.run(
        "edge_compat.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=log_config(level),
        log_level=level.lower(),
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        server_header=False,
        # The peer address stays the peer's: uvicorn would otherwise take the client from
        # X-Forwarded-For (for peers in FORWARDED_ALLOW_IPS, 127.0.0.1 by default).
        proxy_headers=False,
        backlog=4096,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    typer.run(serve)
