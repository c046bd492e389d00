"""Settings from the environment (and CLI flags), read once by pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the data layer. Environment names are shown in `datalayer --help`."""

    model_config = SettingsConfigDict(env_prefix="DATALAYER_", extra="ignore", frozen=True)

    # DATABASE_URL is the conventional name, so it takes no prefix.
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    home: Path = Field(default=Path(".datalayer"), description="embedded cluster and state")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    acquire_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for a pooled connection")
    command_timeout: float | None = Field(default=60.0, gt=0, description="seconds per statement")
    statement_cache_size: int = Field(default=100, ge=0, description="0 for PgBouncer transaction mode")
    slow_query_ms: float = Field(default=500.0, ge=0, description="log named queries slower than this; 0 = off")
    secret_key: SecretStr | None = Field(default=None, description="key that encrypts stored API credentials")

    def with_overrides(self, **values: object) -> Settings:
        """A copy with the CLI flags that were given (None means 'not given')."""
        given = {k: v for k, v in values.items() if v is not None}
        if not given:
            return self
        return self.model_validate({**self.model_dump(), **given})


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for anything that is shown or logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
