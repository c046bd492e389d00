"""Settings from the environment (and CLI flags), read once by pydantic-settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

HOME_DIR = ".datalayer"


def default_home() -> Path:
    """Where the embedded cluster lives when DATALAYER_HOME is not set.

    Run from a source checkout (the usual case: `pip install -e .`), it is the checkout's `.datalayer/`, so
    the CLI finds the project's cluster from any folder. Otherwise the nearest `.datalayer/` in the current
    folder or one of its parents, else `./.datalayer`.
    """
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "migrations").is_dir():
        return checkout / HOME_DIR
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / HOME_DIR).is_dir():
            return folder / HOME_DIR
    return here / HOME_DIR


def url_problem(url: str) -> str | None:
    """Why `url` is not a usable PostgreSQL URL, or None. Never repeats the password."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError as exc:
        return str(exc).replace("Port", "port")
    if parts.scheme not in ("postgresql", "postgres"):
        return f"scheme {parts.scheme or '(none)'!r} is not postgresql://"
    if port == 0:
        return "port 0 is not a port"
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        return "it names no database (postgresql://user@host:port/DATABASE)"
    return None


class Settings(BaseSettings):
    """Every knob of the data layer. Environment names are shown in `datalayer --help`."""

    model_config = SettingsConfigDict(env_prefix="DATALAYER_", extra="ignore", frozen=True, hide_input_in_errors=True)

    # DATABASE_URL is the conventional name, so it takes no prefix.
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    home: Path = Field(default_factory=default_home, description="embedded cluster and state")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    acquire_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for a pooled connection")
    connect_timeout: float = Field(default=5.0, gt=0, description="seconds to open one connection")
    command_timeout: float | None = Field(default=60.0, gt=0, description="seconds per statement")
    statement_cache_size: int = Field(default=100, ge=0, description="0 for PgBouncer transaction mode")
    slow_query_ms: float = Field(default=500.0, ge=0, description="log named queries slower than this; 0 = off")
    secret_key: SecretStr | None = Field(default=None, description="key that encrypts stored API credentials")
    application_name: str = Field(default="datalayer", min_length=1, max_length=63)
    retry_attempts: int = Field(default=5, ge=1, le=100, description="tries of a retry-safe call, the first included")
    retry_backoff: float = Field(default=0.05, gt=0, description="first backoff in seconds; doubles, with jitter")
    retry_backoff_max: float = Field(default=1.0, gt=0, description="longest single backoff in seconds")
    retry_deadline: float = Field(default=15.0, gt=0, description="seconds after which a call stops retrying")
    transaction_attempts: int = Field(default=5, ge=1, le=100, description="runs of run_in_transaction's function")
    query_stats: bool = Field(default=True, description="per-query statistics in db.query_stats()")
    check_schema: bool = Field(default=True, description="refuse to connect to an unmigrated or drifted database")

    @field_validator("database_url", mode="before")
    @classmethod
    def _valid_url(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # DATABASE_URL= (empty) means unset
        if not isinstance(value, str):
            raise ValueError("must be a string")
        problem = url_problem(value.strip())
        if problem:
            raise ValueError(f"DATABASE_URL {mask_url(value.strip())} is not usable: {problem}")
        return value.strip()

    def with_overrides(self, **values: object) -> Settings:
        """A copy with the CLI flags that were given (None means 'not given')."""
        given = {k: v for k, v in values.items() if v is not None}
        if not given:
            return self
        data = self.model_dump()
        if data.get("database_url") is not None:
            data["database_url"] = self.database_url.get_secret_value() if self.database_url else None
        data["DATABASE_URL"] = data.pop("database_url")
        if "database_url" in given:
            data["DATABASE_URL"] = given.pop("database_url")
        return self.model_validate({**data, **given})


def settings_error(exc: ValidationError) -> str:
    """One line per bad setting, naming the variable, never echoing a value (a URL may hold a password)."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        field = str(err["loc"][0]) if err["loc"] else "?"
        name = "DATABASE_URL" if field in ("database_url", "DATABASE_URL") else f"DATALAYER_{field.upper()}"
        message = err["msg"].removeprefix("Value error, ")
        lines.append(message if message.startswith("DATABASE_URL") else f"{name}: {message}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment plus overrides; a ValueError with a clean one-line message when bad."""
    try:
        return Settings().with_overrides(**overrides)
    except ValidationError as exc:
        raise ValueError(settings_error(exc)) from None


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for anything that is shown or logged."""
    try:
        parts = urlsplit(url)
        password = parts.password
        port = parts.port
    except ValueError:
        # Unparseable: hide everything between :// and @ rather than risk showing a password.
        scheme, sep, rest = url.partition("://")
        creds, at, host = rest.rpartition("@")
        if not at:
            return url
        return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def environ_has(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())
