"""`gdp serve`: the HTTP service (edge_compat) under uvicorn.

    python -m workers.cli.serve_cmd --port 8080 [--host 127.0.0.1] [--workers 2]

DATABASE_URL (workers.settings) names the database. Access logs are off (the /metrics counters
replace them); the service's own log lines carry ids and hashes only.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from typing import Annotated, Any

import typer

from workers.settings import get_settings


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


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8080,
    workers: Annotated[
        int, typer.Option(help="Server processes (one per core is a good start).", min=1)
    ] = 1,
) -> None:
    """Serve the HTTP API: /api/v1/meta/event, /functions/v1/track-conversion, /metrics."""
    import uvicorn

    settings = get_settings()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process counts into files here, so a scrape of any of them sees them all.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gdp-metrics-")
    level = settings.log_level.upper()
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
        backlog=4096,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    typer.run(serve)
