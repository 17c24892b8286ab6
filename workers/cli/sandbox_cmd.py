"""`gdp sandbox`: run the Meta Graph API sandbox (meta_sandbox) on a local port.

Register in the main CLI with `app.add_typer(sandbox_cmd.app, name="sandbox")`; also runnable on
its own: `python -m workers.cli.sandbox_cmd --port 8765`.
"""

from __future__ import annotations

import gc
import logging
import socket
import sys

import structlog
import typer
import uvicorn

NOT_INSTALLED = (
    "the Meta Graph API sandbox is not installed: it is a development tool, left out of "
    "production installs. From a checkout of the repository: "
    "pip install -e ./meta_sandbox (or pip install ./meta_sandbox '.[sandbox]')"
)

try:
    from meta_sandbox.app import create_app
    from meta_sandbox.config import THROTTLE_CODES, FaultSettings, SandboxConfig
    from meta_sandbox.synthetic import Shape
except ModuleNotFoundError as missing:  # a production install: the sandbox is not part of it
    if (missing.name or "").partition(".")[0] != "meta_sandbox":
        raise
    typer.echo(f"gdp: {NOT_INSTALLED}", err=True)
    raise SystemExit(1) from None

DEFAULT_TOKEN = "sandbox-token"

app = typer.Typer(
    help="The Meta Graph API sandbox: CAPI, Custom Audiences, Insights and Lead Ads, offline.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"gdp: {message}", err=True)
    return typer.Exit(1)


def _check_port(host: str, port: int) -> None:
    """One clear line instead of uvicorn's traceback when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _configure_logging(level: str) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise _fail(f"unknown log level {level!r}")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def run_sandbox(
    host: str,
    port: int,
    *,
    fail_5xx: float = 0.0,
    throttle: float = 0.0,
    latency_ms: int = 0,
    expire_token: bool = False,
    lead_webhook_url: str | None = None,
    throttle_codes: tuple[int, ...] = (4, 17, 613, 80004),
    seed: int = 42,
    tokens: tuple[str, ...] = (),
    app_secret: str | None = None,
    ad_account_id: str = "act_1000000001",
    buc_capacity: int = 100_000,
    log_level: str = "info",
    insights_shape: str = "3x2x2",
) -> None:
    """Build the sandbox app from these settings and serve it until interrupted."""
    try:
        faults = FaultSettings(
            fail_5xx=fail_5xx,
            throttle=throttle,
            throttle_codes=throttle_codes,
            token_expired=expire_token,
            latency_ms=latency_ms,
            seed=None,
        )
        config = SandboxConfig(
            access_tokens=frozenset({DEFAULT_TOKEN, *tokens}),
            app_secret=app_secret or SandboxConfig().app_secret,
            ad_account_id=ad_account_id,
            lead_webhook_url=lead_webhook_url,
            faults=faults,
            seed=seed,
            buc_capacity=buc_capacity,
            insights_shape=_shape(insights_shape),
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _check_port(host, port)
    _configure_logging(log_level)
    typer.echo(
        f"Meta Graph API sandbox on http://{host}:{port}/v25.0/ "
        f"(inspection: http://{host}:{port}/_sandbox/health); ad account {ad_account_id}; "
        f"{len(config.access_tokens)} valid token(s); faults: 5xx={fail_5xx} "
        f"throttle={throttle} latency_ms={latency_ms} expired_token={expire_token}",
        err=True,
    )
    # The sandbox keeps every audience member's keys and parses uploads of 10,000 rows: at the
    # collector's default first-generation threshold it walks them a quarter of its CPU time.
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level, access_log=False)


def _shape(raw: str) -> Shape:
    parts = raw.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError("--insights-shape must be CAMPAIGNSxADSETSxADS, e.g. 3x2x2")
    campaigns, adsets, ads = (int(p) for p in parts)
    return Shape(campaigns, adsets, ads)


def _codes(raw: str) -> tuple[int, ...]:
    try:
        codes = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise _fail(f"--throttle-codes must be a comma list of {sorted(THROTTLE_CODES)}") from None
    return codes


@app.callback()
def sandbox(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
    fail_5xx: float = typer.Option(
        0.0, "--fail-5xx", min=0.0, max=1.0, help="Share of Graph calls answered 500/503."
    ),
    throttle: float = typer.Option(
        0.0, "--throttle", min=0.0, max=1.0, help="Share answered with a throttling error."
    ),
    throttle_codes: str = typer.Option(
        "4,17,613,80004", "--throttle-codes", help="Throttling codes to choose among."
    ),
    latency_ms: int = typer.Option(0, "--latency-ms", min=0, help="Added to every Graph call."),
    expire_token: bool = typer.Option(
        False, "--expire-token", help="Every token answers 190/463 (expired)."
    ),
    lead_webhook_url: str | None = typer.Option(
        None, "--lead-webhook-url", help="Where POST /_sandbox/leads delivers the webhook."
    ),
    seed: int = typer.Option(42, "--seed", help="Seeds the synthetic account and the faults."),
    token: list[str] = typer.Option(
        [],
        "--token",
        envvar="META_CAPI_ACCESS_TOKEN",
        show_envvar=False,
        help=f"Another valid access token ({DEFAULT_TOKEN} always is).",
    ),
    app_secret: str | None = typer.Option(
        None,
        "--app-secret",
        envvar="META_APP_SECRET",
        show_envvar=False,
        help="Signs webhooks and checks appsecret_proof (default: the sandbox's own).",
    ),
    ad_account_id: str = typer.Option("act_1000000001", "--ad-account-id"),
    buc_capacity: int = typer.Option(
        100_000, "--buc-capacity", min=1, help="Calls per minute that make BUC usage 100 %."
    ),
    log_level: str = typer.Option("info", "--log-level"),
    insights_shape: str = typer.Option(
        "3x2x2",
        "--insights-shape",
        help="Synthetic account size: campaigns per product x ad sets x ads (8 products).",
    ),
) -> None:
    """Serve the sandbox: Graph routes under /vN.N/, inspection and control under /_sandbox/."""
    run_sandbox(
        host,
        port,
        fail_5xx=fail_5xx,
        throttle=throttle,
        latency_ms=latency_ms,
        expire_token=expire_token,
        lead_webhook_url=lead_webhook_url,
        throttle_codes=_codes(throttle_codes),
        seed=seed,
        tokens=tuple(token),
        app_secret=app_secret,
        ad_account_id=ad_account_id,
        buc_capacity=buc_capacity,
        log_level=log_level,
        insights_shape=insights_shape,
    )


if __name__ == "__main__":
    app()
