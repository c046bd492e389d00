"""`datalayer accounts …`: the error-translator API's accounts, keys and usage from the command line.

Passwords come from a hidden prompt or standard input, never from the command line (where `ps` and the
shell history would see them). A new API key is printed once, by `create-key`, and never again."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import click
from rich.table import Table

from datalayer.cli import AppContext, emit_json, pass_app, show
from datalayer.db import Database
from datalayer.error_api.api_keys import ApiKeyRepository, KeyDigester
from datalayer.error_api.seed import seed
from datalayer.error_api.subscriptions import SubscriptionRepository
from datalayer.error_api.tokens import TokenBlacklistRepository
from datalayer.error_api.usage import UsageRepository
from datalayer.error_api.users import User, UserRepository
from datalayer.errors import NotFound


@click.group("accounts")
def group() -> None:
    """The AI error-translator API's accounts, API keys and usage (schema error_api).

    Example: datalayer accounts user-info user@example.com
    """


async def _user(db: Database, email: str) -> User:
    user = await UserRepository(db).get_by_email(email)
    if user is None:
        raise NotFound(f"no account with e-mail {email}")
    return user


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise click.UsageError("--password-stdin: standard input held no password")
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@group.command("create-user")
@click.argument("email")
@click.option("--full-name", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def create_user(app: AppContext, email: str, full_name: str | None, password_stdin: bool, as_json: bool) -> None:
    """Create an account; the password is asked for (hidden), or read from stdin. Never pass it as an argument.

    Example: echo 'a long passphrase' | datalayer accounts create-user ada@example.com --password-stdin
    """
    password = _read_password(password_stdin)
    user = app.with_db(lambda db: UserRepository(db).create(email, password, full_name))
    if as_json:
        emit_json(user.model_dump(mode="json"))
    else:
        click.echo(f"created {user.email} ({user.id}), tier {user.subscription_tier}")


@group.command("user-info")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def user_info(app: AppContext, email: str, as_json: bool) -> None:
    """An account, its keys (prefixes only) and its subscription.

    Example: datalayer accounts user-info ada@example.com --json
    """

    async def go(db: Database) -> dict[str, Any]:
        user = await _user(db, email)
        keys = await ApiKeyRepository(db).list_for_user(user.id)
        sub = await SubscriptionRepository(db).current_for_user(user.id)
        return {
            "user": user.model_dump(mode="json"),
            "api_keys": [k.model_dump(mode="json") for k in keys],
            "subscription": sub.model_dump(mode="json") if sub else None,
        }

    info = app.with_db(go)
    if as_json:
        emit_json(info)
        return
    table = Table("what", "value", show_header=False)
    for key, value in info["user"].items():
        table.add_row(key, "-" if value is None else str(value))
    sub = info["subscription"]
    table.add_row("subscription", f"{sub['tier']} ({sub['status']})" if sub else "-")
    show(table, 0)
    keys = Table("key id", "prefix", "name", "active", "last used", "expires")
    for k in info["api_keys"]:
        keys.add_row(
            k["id"],
            k["prefix"] + "…",
            k["name"],
            str(k["is_active"]),
            k["last_used"] or "-",
            k["expires_at"] or "never",
        )
    show(keys, 0)


@group.command("create-key")
@click.argument("email")
@click.option("--name", required=True, help="What the owner calls the key.")
@click.option("--expires-days", type=click.IntRange(1, 3650), help="Days until the key expires (default: never).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def create_key(app: AppContext, email: str, name: str, expires_days: int | None, as_json: bool) -> None:
    """Make an API key for an account and print it, once: only its digest is stored (DATALAYER_API_KEY_SECRET).

    Example: datalayer accounts create-key ada@example.com --name ci --expires-days 90
    """
    digester = KeyDigester.from_settings(app.settings)
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None

    async def go(db: Database) -> tuple[Any, str]:
        return await ApiKeyRepository(db, digester).create((await _user(db, email)).id, name, expires)

    row, key = app.with_db(go)
    if as_json:
        emit_json({**row.model_dump(mode="json"), "key": key})
        return
    click.echo(f"key {row.id} ({row.prefix}…) for {email}; shown once, store it now:")
    click.echo(key)


@group.command("revoke-key")
@click.argument("email")
@click.argument("key_id")
@pass_app
def revoke_key(app: AppContext, email: str, key_id: str) -> None:
    """Deactivate one of an account's keys, by its id (see user-info).

    Example: datalayer accounts revoke-key ada@example.com 3f0c6a52-8d0e-4c31-9d4e-0d2f7f1b9a10
    """
    try:
        kid = UUID(key_id)
    except ValueError:
        raise click.BadParameter(f"{key_id!r} is not a key id (a UUID; see `datalayer accounts user-info`)") from None

    async def go(db: Database) -> Any:
        row = await ApiKeyRepository(db).deactivate((await _user(db, email)).id, kid)
        if row is None:
            raise NotFound(f"{email} has no key {kid}")
        return row

    row = app.with_db(go)
    click.echo(f"deactivated key {row.id} ({row.prefix}…)")


@group.command()
@click.argument("email")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def usage(app: AppContext, email: str, days: int, as_json: bool) -> None:
    """An account's usage over the last N days: requests, errors, latency, top endpoints, per day.

    Example: datalayer accounts usage ada@example.com --days 7
    """

    async def go(db: Database) -> Any:
        return await UsageRepository(db).dashboard((await _user(db, email)).id, days)

    board = app.with_db(go)
    if as_json:
        emit_json(board.model_dump(mode="json"))
        return
    s = board.summary
    p95 = "-" if s.p95_response_ms is None else f"{s.p95_response_ms:.0f} ms"
    click.echo(f"{s.requests} requests in {days} days, {s.errors} errors ({s.error_rate:.1%}), p95 {p95}")
    table = Table("endpoint", "requests", "errors", "mean ms")
    for e in board.top_endpoints:
        table.add_row(
            e.endpoint, str(e.requests), str(e.errors), "-" if e.avg_response_ms is None else f"{e.avg_response_ms:.0f}"
        )
    show(table, 0)


@group.command()
@click.option("--months-ahead", default=3, show_default=True, type=click.IntRange(0, 120))
@click.option("--keep-days", type=click.IntRange(1, 36_500), help="Also drop usage older than this many days.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def maintain(app: AppContext, months_ahead: int, keep_days: int | None, as_json: bool) -> None:
    """Make usage partitions ahead; delete expired keys and revoked tokens; roll usage up into usage_daily (the
    dashboard reads it); with --keep-days, apply retention.

    Run it daily (cron). Partition drops wait at most 2 s for their lock, so request logging is never stuck.

    Example: datalayer accounts maintain --keep-days 90
    """

    async def go(db: Database) -> dict[str, Any]:
        usage = UsageRepository(db)
        result: dict[str, Any] = {
            "partitions_created": [str(m) for m in await usage.ensure_partitions_ahead(months_ahead)],
            "expired_keys_deleted": await ApiKeyRepository(db).cleanup_expired_keys(),
            "expired_tokens_deleted": await TokenBlacklistRepository(db).cleanup_expired_tokens(),
            "rate_counters_deleted": await usage.cleanup_rate_counters(),
            "usage_rollup_rows": await usage.rollup(),
        }
        if keep_days is not None:
            dropped, deleted = await usage.cleanup_old_logs(keep_days)
            result["partitions_dropped"], result["usage_rows_deleted"] = dropped, deleted
        return result

    report = app.with_db(go)
    if as_json:
        emit_json(report)
    else:
        for key, value in report.items():
            click.echo(f"{key}: {value}")


@click.command("error-api")
@click.option("--users", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--requests",
    "requests_per_user",
    default=200,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="Per user, over 30 days.",
)
@click.option(
    "--seed", "seed_", default=1, show_default=True, type=click.IntRange(0, 1000), help="Picks the e-mails and ids."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def seed_command(app: AppContext, users: int, requests_per_user: int, seed_: int, as_json: bool) -> None:
    """Sample accounts (password: sample-password), keys, subscriptions and requests (a re-run adds no rows).

    Example: datalayer seed error-api --users 50
    """
    digester = KeyDigester.from_settings(app.settings)
    report = asdict(
        app.with_db(lambda db: seed(db, digester, users=users, requests_per_user=requests_per_user, seed=seed_))
    )
    if as_json:
        emit_json(report)
    else:
        click.echo(", ".join(f"{v} {k}" for k, v in report.items()))
