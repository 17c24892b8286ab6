"""The one settings class: process configuration from the environment.

Everything a product admin changes at run time (flags, pixel ids, rules, audience map) lives in
rows in the database, not here. Only connection strings, endpoints and secrets come from the
environment (or Supabase Vault in production).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.errors import ConfigError
from workers.token_file import TokenFile

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/gdp"
META_GRAPH_URL = "https://graph.facebook.com"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    # "production" makes the checks of production_problems() fatal at start.
    gdp_env: Literal["development", "production"] = Field(default="development", alias="GDP_ENV")

    # Meta Graph API: Meta's by default (so a worker never sends a real token anywhere else by
    # accident); the demo and the tests point it at the project's sandbox.
    meta_graph_url: str = Field(default=META_GRAPH_URL, alias="META_GRAPH_URL")
    meta_api_version: str = Field(default="v25.0", alias="META_API_VERSION")
    meta_capi_access_token: SecretStr | None = Field(default=None, alias="META_CAPI_ACCESS_TOKEN")
    # A file holding the token instead (a mounted secret): the CAPI worker re-reads it while
    # running, so a rotated or fixed token takes effect without a restart.
    meta_capi_access_token_file: Path | None = Field(
        default=None, alias="META_CAPI_ACCESS_TOKEN_FILE"
    )
    meta_app_secret: SecretStr | None = Field(default=None, alias="META_APP_SECRET")
    meta_webhook_verify_token: SecretStr | None = Field(
        default=None, alias="META_WEBHOOK_VERIFY_TOKEN"
    )
    # A Page access token for reading Lead Ads leads (leads_retrieval); the lead worker uses
    # META_CAPI_ACCESS_TOKEN when it is not set.
    meta_leads_access_token: SecretStr | None = Field(default=None, alias="META_LEADS_ACCESS_TOKEN")
    # Default region for phone numbers written without a country code (ISO 3166-1 alpha-2).
    meta_default_phone_region: str = Field(default="US", alias="META_DEFAULT_PHONE_REGION")

    # The product whose browser relay (GAP-005) this process serves.
    product_id: str | None = Field(default=None, alias="PRODUCT_ID")
    # A product-side relay's GDP endpoint and service key (GDP's own relay needs neither: it
    # stores events in-process). The PRD's names, WAITLISTLAB_*, are accepted as aliases.
    gdp_api_url: str | None = Field(
        default=None, validation_alias=AliasChoices("GDP_API_URL", "WAITLISTLAB_API_URL")
    )
    gdp_service_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GDP_SERVICE_KEY", "WAITLISTLAB_SERVICE_KEY")
    )
    # Proxies (comma-separated addresses or CIDRs) whose X-Forwarded-For the relay believes;
    # empty: none, the client is the direct peer.
    gdp_trusted_proxies: str = Field(default="", alias="GDP_TRUSTED_PROXIES")
    # Origins (comma-separated, e.g. https://snapmix.app) whose pages may post to the relay;
    # empty: any origin (refused at start in production while the relay is configured).
    gdp_relay_allowed_origins: str = Field(default="", alias="GDP_RELAY_ALLOWED_ORIGINS")
    # Requests per visitor (client IP) the relay accepts, in the `limits` notation; empty: no
    # limit. A page sends a few events per view; this stops a script posing as one.
    gdp_relay_rate_limit: str = Field(default="20/second;300/minute", alias="GDP_RELAY_RATE_LIMIT")
    # Largest browser request the relay reads (bytes).
    relay_max_body_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, alias="GDP_RELAY_MAX_BODY_BYTES"
    )

    # The project's JWT secret (Supabase: Project Settings -> API -> JWT secret), used only by
    # `gdp keys create PRODUCT --jwt` to sign a product's credential; no running process needs it.
    jwt_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SUPABASE_JWT_SECRET", "GDP_JWT_SECRET")
    )

    # Rows per Custom Audiences upload (and replace) request: Meta's maximum unless lowered.
    # Smaller requests re-send less when a run is cut off mid-request; the tests use them to
    # exercise several requests per run without tens of thousands of people.
    meta_audience_rows_per_request: int = Field(
        default=10_000, ge=1, le=10_000, alias="META_AUDIENCE_ROWS_PER_REQUEST"
    )

    log_level: str = Field(default="INFO", alias="GDP_LOG_LEVEL")

    def present_secrets(self) -> list[str]:
        """Names (never values) of the secrets that are configured, for the deployment gate."""
        names = {
            "META_CAPI_ACCESS_TOKEN": self.meta_capi_access_token,
            "META_APP_SECRET": self.meta_app_secret,
            "META_WEBHOOK_VERIFY_TOKEN": self.meta_webhook_verify_token,
            "GDP_SERVICE_KEY": self.gdp_service_key,
        }
        present = {k for k, v in names.items() if v is not None and v.get_secret_value()}
        if TokenFile(self.meta_capi_access_token_file).read() is not None:
            present.add("META_CAPI_ACCESS_TOKEN")
        return sorted(present)


    @property
    def production(self) -> bool:
        return self.gdp_env == "production"

    def configured_token(self) -> bool:
        token = self.meta_capi_access_token
        return bool(token is not None and token.get_secret_value()) or (
            TokenFile(self.meta_capi_access_token_file).read() is not None
        )

    def graph_url_problem(self) -> str | None:
        """Why a process that calls Meta must not start with this META_GRAPH_URL, or None.

        The token travels in every request body: over plain http to another machine anyone on
        the path reads it. Loopback (the sandbox, a local proxy) is the one http:// allowed, and
        only outside production, where the URL must also be set on purpose.
        """
        url = urlsplit(self.meta_graph_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            return "META_GRAPH_URL: must be an http(s) URL such as https://graph.facebook.com"
        if self.production:
            if "meta_graph_url" not in self.model_fields_set:
                return "META_GRAPH_URL: must be set when GDP_ENV=production"
            if url.scheme != "https":
                return "META_GRAPH_URL: must be an https URL when GDP_ENV=production"
        elif url.scheme == "http" and not _loopback(url.hostname) and self.configured_token():
            return (
                "META_GRAPH_URL: an http:// URL to another machine would send the access token "
                "in plain text; use https (http is allowed only to this machine)"
            )
        return None

    def relay_problem(self) -> str | None:
        """Why the HTTP service must not start with this relay configuration, or None."""
        if self.production and self.product_id and not self.gdp_relay_allowed_origins.strip():
            return (
                "GDP_RELAY_ALLOWED_ORIGINS: must list the product's origins when GDP_ENV="
                "production and PRODUCT_ID is set (otherwise any site's pages could post events "
                "in the product's name)"
            )
        return None


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require(*problems: str | None) -> None:
    """Raise ConfigError with the first problem found (a process refusing to start)."""
    for problem in problems:
        if problem is not None:
            raise ConfigError(problem)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process settings; an unusable variable is a ConfigError naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "environment"
        raise ConfigError(f"{name}: {first['msg']}") from None
