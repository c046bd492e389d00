"""Settings from the environment (and CLI flags), read once by pydantic-settings."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
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


_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._%~-]+)$")  # a name, an IPv4 or a [bracketed IPv6] literal


def _hosts(netloc: str) -> list[tuple[str, str]]:
    """(host, port text) of each `host[:port]` of a URL's netloc (libpq and asyncpg accept `h1:p1,h2:p2`)."""
    hostspec = netloc.rpartition("@")[2]
    out = []
    for part in hostspec.split(","):
        if part.startswith("["):
            host, _, rest = part.partition("]")
            out.append((host + "]", rest.removeprefix(":")))
        else:
            host, _, port = part.partition(":")
            out.append((host, port))
    return out


def url_problem(url: str) -> str | None:
    """What makes `url` unusable (None when it is fine), with any password in it masked."""
    problem = _url_problem(url)
    return None if problem is None else mask_url(problem)


def _url_problem(url: str) -> str | None:
    """Why `url` is not a usable PostgreSQL URL, or None. Never repeats the password."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("postgresql", "postgres"):
        return f"scheme {parts.scheme or '(none)'!r} is not postgresql://"
    for host, port in _hosts(parts.netloc):
        if host and not _HOST.match(host):
            return f"host {host!r} is not a host name or IP address"
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            return f"port {port!r} is not a number from 1 to 65535"
    database = unquote(parts.path.removeprefix("/"))
    if not database:
        return "it names no database (postgresql://user@host:port/DATABASE)"
    if "/" in parts.path.removeprefix("/"):
        return f"database name {database!r} holds a '/': write it as %2F if that is really its name"
    return None


class Settings(BaseSettings):
    """Every knob of the data layer. Environment names are shown in `datalayer --help`."""

    model_config = SettingsConfigDict(env_prefix="DATALAYER_", extra="ignore", frozen=True, hide_input_in_errors=True)

    # DATABASE_URL is the conventional name, so it takes no prefix.
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    home: Path = Field(default_factory=default_home, description="embedded cluster and state")
    # A streaming replica for reads that tolerate lag (bindings declared `replica=True`); unset: all on the primary.
    database_replica_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_REPLICA_URL")
    replica_max_lag: float = Field(
        default=5.0, gt=0, le=86400, description="seconds a replica may be behind and still serve lag-tolerant reads"
    )
    replica_check_interval: float = Field(
        default=1.0, gt=0, le=3600, description="seconds between measurements of the replica's lag"
    )
    replica_retry: float = Field(
        default=5.0, gt=0, le=3600, description="seconds a failed replica is left alone (its reads go to the primary)"
    )
    replica_pool_max_size: int = Field(default=10, ge=1, description="connections of the replica's pool")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    acquire_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for a pooled connection")
    connect_timeout: float = Field(default=5.0, gt=0, description="seconds to open one connection")
    command_timeout: float | None = Field(default=60.0, gt=0, description="seconds per statement")
    tcp_keepalives_idle: int = Field(
        default=30, ge=0, le=86_400,
        description="seconds a connection may be silent before TCP keepalive probes start; 0 = no keepalive, "
        "and no TCP_USER_TIMEOUT unless tcp_user_timeout is set (a peer that vanished without an RST is then "
        "noticed only by command_timeout, or never)",
    )  # fmt: skip
    tcp_keepalives_interval: int = Field(
        default=10, ge=1, le=3600, description="seconds between two unanswered keepalive probes"
    )
    tcp_keepalives_count: int = Field(
        default=3, ge=1, le=100, description="unanswered keepalive probes after which the connection is dead"
    )
    tcp_user_timeout: float | None = Field(
        default=None, ge=0, le=86_400,
        description="seconds sent data may stay unacknowledged before the connection is dead (TCP_USER_TIMEOUT, "
        "Linux; it also bounds keepalive); unset = tcp_keepalives_idle + interval x count; 0 = the OS default",
    )  # fmt: skip
    statement_cache_size: int = Field(default=100, ge=0, description="0 for PgBouncer transaction mode")
    migrate_lock_timeout: float = Field(
        default=5.0, gt=0, description="seconds a migration statement waits for a lock before it fails (no queue)"
    )
    migrate_statement_timeout: float = Field(
        default=3600.0, ge=0, description="seconds one migration statement may run; 0 = no limit"
    )
    slow_query_ms: float = Field(default=500.0, ge=0, description="log named queries slower than this; 0 = off")
    secret_key: SecretStr | None = Field(default=None, description="key that encrypts stored API credentials")
    api_key_secret: SecretStr | None = Field(
        default=None, description="server secret of the error API's key digests (HMAC-SHA256), ≥ 32 characters"
    )
    application_name: str = Field(default="datalayer", min_length=1, max_length=63)
    retry_attempts: int = Field(default=5, ge=1, le=100, description="tries of a retry-safe call, the first included")
    retry_backoff: float = Field(default=0.05, gt=0, description="first backoff in seconds; doubles, with jitter")
    retry_backoff_max: float = Field(default=1.0, gt=0, description="longest single backoff in seconds")
    retry_deadline: float = Field(default=15.0, gt=0, description="seconds after which a call stops retrying")
    transaction_attempts: int = Field(default=5, ge=1, le=100, description="runs of run_in_transaction's function")
    query_stats: bool = Field(default=True, description="per-query statistics in db.query_stats()")
    check_schema: bool = Field(default=True, description="refuse to connect to an unmigrated or drifted database")
    # The repository read cache (datalayer.cache). REDIS_URL is the conventional name, so it takes no prefix.
    redis_url: SecretStr | None = Field(default=None, validation_alias="REDIS_URL")
    cache: bool = Field(default=True, description="the repository read cache (reads bound with cache=)")
    cache_size: int = Field(default=10_000, ge=1, le=10_000_000, description="entries of the in-process tier")
    cache_local_ttl: float = Field(
        default=2.0, gt=0, le=3600, description="with Redis: longest in-process life of an entry (staleness bound)"
    )
    cache_redis_timeout: float = Field(default=0.2, gt=0, le=30, description="seconds a Redis call may take")
    cache_redis_retry: float = Field(
        default=2.0, gt=0, le=3600, description="seconds Redis is left alone after a failure"
    )

    @field_validator("database_url", "database_replica_url", mode="before")
    @classmethod
    def _valid_url(cls, value: Any, info: ValidationInfo) -> Any:
        variable = "DATABASE_URL" if info.field_name == "database_url" else "DATABASE_REPLICA_URL"
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # DATABASE_URL= (empty) means unset
        if not isinstance(value, str):
            raise ValueError(f"{variable} must be a string")
        problem = url_problem(value.strip())
        if problem:
            raise ValueError(f"{variable} {mask_url(value.strip())} is not usable: {problem}")
        return value.strip()

    @field_validator("redis_url", mode="before")
    @classmethod
    def _valid_redis_url(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # REDIS_URL= (empty) means unset
        if not isinstance(value, str):
            raise ValueError("must be a string")
        value = value.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"REDIS_URL {mask_url(value)} is not usable: {exc}") from None
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"REDIS_URL {mask_url(value)} is not usable: scheme {parts.scheme!r} is not redis://")
        if parts.scheme != "unix":
            if not parts.hostname:
                raise ValueError(f"REDIS_URL {mask_url(value)} is not usable: it names no host")
            database = parts.path.strip("/")
            if database and not database.isdigit():
                raise ValueError(
                    f"REDIS_URL {mask_url(value)} is not usable: the path must be a database number, not {database!r}"
                )
        return value

    @field_validator("api_key_secret", mode="before")
    @classmethod
    def _strong_secret(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("DATALAYER_API_KEY_SECRET must be a string")
        if len(value.strip()) < 32:
            raise ValueError(
                f"DATALAYER_API_KEY_SECRET must be at least 32 characters other than spaces (it has "
                f"{len(value.strip())}); `datalayer secret-key` makes one"
            )
        return value

    @field_validator("home")
    @classmethod
    def _home_is_a_folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file; DATALAYER_HOME names the folder of the embedded cluster")
        return value

    @model_validator(mode="after")
    def _pool_sizes(self) -> Settings:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"DATALAYER_POOL_MIN_SIZE ({self.pool_min_size}) is larger than DATALAYER_POOL_MAX_SIZE "
                f"({self.pool_max_size})"
            )
        if self.replica_check_interval >= self.replica_max_lag:
            raise ValueError(
                f"DATALAYER_REPLICA_CHECK_INTERVAL ({self.replica_check_interval:g} s) must be shorter than "
                f"DATALAYER_REPLICA_MAX_LAG ({self.replica_max_lag:g} s): the lag is known only to within one interval"
            )
        return self

    def __init__(self, **values: Any) -> None:
        # A bad setting is a DatalayerError with one line per variable, like every other bad input: a pydantic
        # ValidationError (with its internals and the offending value) never reaches the caller.
        try:
            super().__init__(**values)
        except ValidationError as exc:
            from datalayer.errors import InvalidData

            raise InvalidData(f"invalid settings: {settings_error(exc)}") from None

    def with_overrides(self, **values: object) -> Settings:
        """A copy with the CLI flags that were given (None means 'not given')."""
        given = {k: v for k, v in values.items() if v is not None}
        if not given:
            return self
        data = self.model_dump()
        if data.get("database_url") is not None:
            data["database_url"] = self.database_url.get_secret_value() if self.database_url else None
        data["DATABASE_URL"] = data.pop("database_url")
        replica = self.database_replica_url
        data.pop("database_replica_url")
        data["DATABASE_REPLICA_URL"] = replica.get_secret_value() if replica else None
        data["REDIS_URL"] = data.pop("redis_url")  # validation aliases: fields are given by their variable name
        if "database_url" in given:
            data["DATABASE_URL"] = given.pop("database_url")
        return self.model_validate({**data, **given})


def settings_error(exc: ValidationError) -> str:
    """One line per bad setting, naming the variable, never echoing a value (a URL may hold a password)."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        field = str(err["loc"][0]) if err["loc"] else ""
        aliases = {
            "database_url": "DATABASE_URL",
            "redis_url": "REDIS_URL",
            "database_replica_url": "DATABASE_REPLICA_URL",
        }
        name = aliases.get(field.lower(), field if field.isupper() else f"DATALAYER_{field.upper()}")
        message = err["msg"].removeprefix("Value error, ")
        lines.append(
            message
            if message.startswith(("DATABASE_URL", "DATABASE_REPLICA_URL", "DATALAYER_", "REDIS_URL")) or not field
            else f"{name}: {message}"
        )
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment plus overrides; a ValueError with a clean one-line message when bad."""
    from datalayer.errors import InvalidData

    try:
        return Settings().with_overrides(**overrides)
    except ValidationError as exc:
        raise ValueError(settings_error(exc)) from None
    except InvalidData as exc:
        raise ValueError(str(exc).removeprefix("invalid settings: ")) from None


_NETLOC_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*?:)[^/?#@]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
# For text that is not a URL at all (`postgresql//u:pw@h`, `postgres ql://…`): any `:secret@` is masked.
_LOOSE_PASSWORD = re.compile(r":[^:/?#@\s]*@")


def mask_url(url: str) -> str:
    """The URL with every password (`user:PASSWORD@` and `?password=`) replaced by ***, for anything shown
    or logged. Works on text, so an unparseable URL is masked too."""
    masked, found = _NETLOC_PASSWORD.subn(r"\1***@", url, count=1)
    if not found:
        masked = _LOOSE_PASSWORD.sub(":***@", masked)
    return _QUERY_PASSWORD.sub(r"\1***", masked)


def split_password(url: str) -> tuple[str, str | None]:
    """The URL without its password (from `user:PASSWORD@` or `?password=`), and the password, decoded."""
    password = None
    netloc = _NETLOC_PASSWORD.match(url)
    if netloc:
        password = unquote(url[netloc.end(1) : netloc.end() - 1])
        url = url[: netloc.end(1) - 1] + "@" + url[netloc.end() :]
    query = _QUERY_PASSWORD.search(url)
    if query:
        password = unquote(query.group(0)[len(query.group(1)) :])
        head, tail = url[: query.start()], url[query.end() :]
        if query.group(1).startswith("?"):
            url = head + ("?" + tail[1:] if tail.startswith("&") else tail)
        else:
            url = head + tail
    return url, password


def environ_has(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())
