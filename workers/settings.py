"""The one settings class: process configuration from the environment.

Everything a product admin changes at run time (flags, pixel ids, rules, audience map) lives in
rows in the database, not here. Only connection strings, endpoints and secrets come from the
environment (or Supabase Vault in production).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.capi.token_file import TokenFile

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/gdp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")

    # Meta Graph API: Meta's in production, the project's sandbox in the demo and the tests.
    meta_graph_url: str = Field(default="http://127.0.0.1:8765", alias="META_GRAPH_URL")
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

    # A product's relay (GAP-005), named as the PRD names them.
    product_id: str | None = Field(default=None, alias="PRODUCT_ID")
    waitlistlab_api_url: str | None = Field(default=None, alias="WAITLISTLAB_API_URL")
    waitlistlab_service_key: SecretStr | None = Field(default=None, alias="WAITLISTLAB_SERVICE_KEY")
    # Proxies (comma-separated addresses or CIDRs) whose X-Forwarded-For the relay believes;
    # empty: none, the client is the direct peer.
    gdp_trusted_proxies: str = Field(default="", alias="GDP_TRUSTED_PROXIES")
    # Origins (comma-separated, e.g. https://snapmix.app) whose pages may post to the relay;
    # empty: any origin.
    gdp_relay_allowed_origins: str = Field(default="", alias="GDP_RELAY_ALLOWED_ORIGINS")
    # Requests per visitor (client IP) the relay accepts, in the `limits` notation; empty: no
    # limit. A page sends a few events per view; this stops a script posing as one.
    gdp_relay_rate_limit: str = Field(default="20/second;300/minute", alias="GDP_RELAY_RATE_LIMIT")
    # Largest browser request the relay reads (bytes).
    relay_max_body_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, alias="GDP_RELAY_MAX_BODY_BYTES"
    )

    log_level: str = Field(default="INFO", alias="GDP_LOG_LEVEL")

    def present_secrets(self) -> list[str]:
        """Names (never values) of the secrets that are configured, for the deployment gate."""
        names = {
            "META_CAPI_ACCESS_TOKEN": self.meta_capi_access_token,
            "META_APP_SECRET": self.meta_app_secret,
            "META_WEBHOOK_VERIFY_TOKEN": self.meta_webhook_verify_token,
            "WAITLISTLAB_SERVICE_KEY": self.waitlistlab_service_key,
        }
        present = {k for k, v in names.items() if v is not None and v.get_secret_value()}
        if TokenFile(self.meta_capi_access_token_file).read() is not None:
            present.add("META_CAPI_ACCESS_TOKEN")
        return sorted(present)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
