"""GDP_ENV=production: what must be configured, or the processes refuse to start (one line
naming the variable, non-zero exit); and where Meta's token may be sent in any mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_compat.app import create_app
from workers.errors import ConfigError
from workers.settings import META_GRAPH_URL, Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "EAAGm0PX4ZCpsBAexampletoken0123456789"


def gdp(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli.main", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_graph_url_defaults_to_meta_over_https() -> None:
    assert Settings().meta_graph_url == META_GRAPH_URL == "https://graph.facebook.com"
    assert Settings().graph_url_problem() is None


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        # Production: set on purpose, and https.
        ({"GDP_ENV": "production"}, "META_GRAPH_URL: must be set when GDP_ENV=production"),
        (
            {"GDP_ENV": "production", "META_GRAPH_URL": "http://127.0.0.1:8765"},
            "META_GRAPH_URL: must be an https URL when GDP_ENV=production",
        ),
        ({"GDP_ENV": "production", "META_GRAPH_URL": "https://graph.facebook.com"}, None),
        # Any mode: the token never goes in plain text to another machine.
        (
            {"META_GRAPH_URL": "http://graph.example.com", "META_CAPI_ACCESS_TOKEN": TOKEN},
            "META_GRAPH_URL: an http:// URL to another machine would send the access token",
        ),
        (
            {"META_GRAPH_URL": "http://10.1.2.3:8765", "META_CAPI_ACCESS_TOKEN": TOKEN},
            "META_GRAPH_URL: an http:// URL to another machine would send the access token",
        ),
        # The sandbox on this machine (the demo and tests), or no token at all: allowed.
        ({"META_GRAPH_URL": "http://127.0.0.1:8765", "META_CAPI_ACCESS_TOKEN": TOKEN}, None),
        ({"META_GRAPH_URL": "http://localhost:8765", "META_CAPI_ACCESS_TOKEN": TOKEN}, None),
        ({"META_GRAPH_URL": "http://[::1]:8765", "META_CAPI_ACCESS_TOKEN": TOKEN}, None),
        ({"META_GRAPH_URL": "http://graph.example.com"}, None),
        ({"META_GRAPH_URL": "graph.facebook.com"}, "META_GRAPH_URL: must be an http(s) URL"),
    ],
)
def test_graph_url_rules(
    values: dict[str, str], problem: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GDP_ENV", "META_GRAPH_URL", "META_CAPI_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    found = Settings().graph_url_problem()
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def test_the_token_file_counts_as_a_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    settings = Settings(
        META_GRAPH_URL="http://graph.example.com", META_CAPI_ACCESS_TOKEN_FILE=str(token_file)
    )
    assert settings.graph_url_problem() is not None


def test_a_worker_refuses_to_start_without_a_safe_graph_url(env: dict[str, str]) -> None:
    production = {**env, "GDP_ENV": "production", "META_CAPI_ACCESS_TOKEN": TOKEN}
    production.pop("META_GRAPH_URL", None)
    done = gdp(["worker", "capi", "--once"], production)
    assert done.returncode == 2
    assert done.stderr.strip() == "gdp: META_GRAPH_URL: must be set when GDP_ENV=production"
    plain = {**env, "META_GRAPH_URL": "http://graph.example.com", "META_CAPI_ACCESS_TOKEN": TOKEN}
    done = gdp(["worker", "capi", "--once"], plain)
    assert done.returncode == 2
    assert done.stderr.startswith("gdp: META_GRAPH_URL: an http:// URL to another machine")
    assert TOKEN not in done.stderr
    assert "Traceback" not in done.stderr


def test_the_service_refuses_to_start_without_allowed_origins_in_production(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    production = {**env, "GDP_ENV": "production", "PRODUCT_ID": "snapmix"}
    production.pop("GDP_RELAY_ALLOWED_ORIGINS", None)
    done = gdp(["serve", "--port", "1"], production)
    assert done.returncode == 2
    assert done.stderr.startswith("gdp: GDP_RELAY_ALLOWED_ORIGINS: must list the product's")
    assert "Traceback" not in done.stderr
    # The app itself refuses too (a plain `uvicorn --factory edge_compat.app:create_app`).
    monkeypatch.setenv("GDP_ENV", "production")
    monkeypatch.setenv("PRODUCT_ID", "snapmix")
    monkeypatch.delenv("GDP_RELAY_ALLOWED_ORIGINS", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="GDP_RELAY_ALLOWED_ORIGINS"):
            create_app(env["DATABASE_URL"])
        monkeypatch.setenv("GDP_RELAY_ALLOWED_ORIGINS", "https://snapmix.app")
        get_settings.cache_clear()
        create_app(env["DATABASE_URL"])  # set: starts
        # Without a relay to serve (no PRODUCT_ID) there is nothing for origins to guard.
        monkeypatch.delenv("GDP_RELAY_ALLOWED_ORIGINS")
        monkeypatch.delenv("PRODUCT_ID")
        get_settings.cache_clear()
        create_app(env["DATABASE_URL"])
    finally:
        get_settings.cache_clear()


def test_a_bad_environment_value_is_one_line(env: dict[str, str]) -> None:
    done = gdp(["serve"], {**env, "GDP_ENV": "prod"})
    assert done.returncode == 2
    assert done.stderr.strip() == ("gdp: GDP_ENV: Input should be 'development' or 'production'")


def test_metrics_listeners_bind_to_this_machine_by_default() -> None:
    """Their labels name products and pixels: never on every interface unless asked."""
    import inspect

    from workers.cli import serve_cmd, worker_cmd

    for command in (serve_cmd.serve, worker_cmd.worker):
        default = inspect.signature(command).parameters["metrics_host"].default
        host = getattr(default, "default", default)
        assert host == "127.0.0.1", command
