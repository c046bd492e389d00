"""`datalayer chat …`: the AI conversation bot's configuration, flags, users and GDPR requests."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table

from datalayer.chat_bot.config import ConfigRepository
from datalayer.chat_bot.flags import FeatureFlagRepository, UpsertFeatureFlagParams
from datalayer.chat_bot.gdpr import GdprRepository
from datalayer.chat_bot.seed import seed
from datalayer.chat_bot.users import User, UserRepository
from datalayer.cli import AppContext, console, emit_json, pass_app, show
from datalayer.db import Database
from datalayer.errors import InvalidData, NotFound
from datalayer.validation import INT64_MAX


@click.group("chat")
def group() -> None:
    """The AI conversation bot (schema chat_bot).

    Example: datalayer chat config get conversation.max_history_length
    """


def _json_value(text: str, hint: str = "quote strings: '\"friendly\"'") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{text!r} is not JSON ({exc.msg}); {hint}") from None


@group.group()
def config() -> None:
    """Runtime configuration: get, set (with a reason), history.

    Example: datalayer chat config history rate_limiting.messages_per_minute
    """


@config.command("get")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def config_get(app: AppContext, key: str, as_json: bool) -> None:
    """The value of KEY (exit 1 when it is not set).

    Example: datalayer chat config get conversation.max_history_length
    """
    entry = app.with_db(lambda db: ConfigRepository(db).get(key))
    if entry is None:
        raise NotFound(f"configuration key {key} is not set")
    if as_json:
        emit_json(entry.model_dump(mode="json"))
    else:
        click.echo(json.dumps(entry.value))


@config.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--reason", required=True, help="Why: kept in the history.")
@click.option("--by", "changed_by", default="cli", show_default=True, help="Who.")
@pass_app
def config_set(app: AppContext, key: str, value: str, reason: str, changed_by: str) -> None:
    """Set KEY to VALUE (JSON: 30, true, '"text"', '{"a": 1}'), writing its history row in the same statement.

    Example: datalayer chat config set rate_limiting.messages_per_minute 30 --reason "premium launch"
    """
    parsed = _json_value(value)
    entry = app.with_db(lambda db: ConfigRepository(db).set_config_value(key, parsed, reason, changed_by=changed_by))
    click.echo(f"{entry.key} = {json.dumps(entry.value)}")


@config.command("history")
@click.argument("key")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def config_history(app: AppContext, key: str, limit: int, as_json: bool) -> None:
    """The changes of KEY, newest first (exit 1 when it was never set).

    Example: datalayer chat config history ai.default_personality --json
    """

    async def go(db: Database) -> list[Any] | None:
        repo = ConfigRepository(db)
        rows = await repo.history(key, limit)
        return rows if rows or await repo.get(key) is not None else None

    rows = app.with_db(go)
    if rows is None:  # like `get`: a key never set is an error, not an empty history
        raise NotFound(f"configuration key {key} is not set and has no history")
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("change", "when", "from", "to", "by", "why")
    for r in rows:
        table.add_row(
            str(r.id),
            r.changed_at.isoformat(timespec="seconds"),
            json.dumps(r.old_value),
            json.dumps(r.new_value),
            r.changed_by or "-",
            r.change_reason,
        )
    show(table, 0)


@group.group()
def flags() -> None:
    """Feature flags: list, set, check for a user.

    Example: datalayer chat flags list
    """


@flags.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def flags_list(app: AppContext, as_json: bool) -> None:
    """Every flag with its rollout and how many active users its percentage admits.

    Example: datalayer chat flags list --json
    """
    rows = app.with_db(lambda db: FeatureFlagRepository(db).get_flag_statistics())
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("flag", "enabled", "rollout %", "rules", "users in rollout")
    for r in rows:
        table.add_row(
            r.key,
            str(r.is_enabled),
            str(r.rollout_percentage),
            str(r.rules),
            f"{r.users_in_rollout} / {r.active_users}",
        )
    show(table, 0)


@flags.command("set")
@click.argument("key")
@click.option("--enabled/--disabled", default=None, help="Turn it on or off (default: as it is, or off when new).")
@click.option("--rollout", type=click.IntRange(0, 100), help="Percentage of users.")
@click.option(
    "--rules", help='Targeting rules, a JSON array: [{"attribute": "premium", "operator": "eq", "value": true}].'
)
@click.option("--description", help="What it turns on.")
@pass_app
def flags_set(
    app: AppContext, key: str, enabled: bool | None, rollout: int | None, rules: str | None, description: str | None
) -> None:
    """Create or change flag KEY.

    Example: datalayer chat flags set personality_adaptation --enabled --rollout 25
    """
    example = '[{"attribute": "premium", "operator": "eq", "value": true}]'
    parsed_rules = _json_value(rules, f"--rules is a JSON array such as '{example}'") if rules is not None else None
    if parsed_rules is not None and not isinstance(parsed_rules, list):
        raise click.BadParameter("--rules is a JSON array of rules")

    async def go(db: Database) -> Any:
        repo = FeatureFlagRepository(db)
        current = await repo.get(key)
        return await repo.set(UpsertFeatureFlagParams(
            key=key, description=description,
            is_enabled=enabled if enabled is not None else (current.is_enabled if current else False),
            rollout_percentage=rollout if rollout is not None else (current.rollout_percentage if current else 0),
            targeting_rules=parsed_rules if parsed_rules is not None else (list(current.targeting_rules) if current else []),
        ))  # fmt: skip

    flag = app.with_db(go)
    click.echo(
        f"{flag.key}: {'enabled' if flag.is_enabled else 'disabled'}, rollout {flag.rollout_percentage}%, {len(flag.targeting_rules)} rule(s)"
    )


@flags.command("check")
@click.argument("key")
@click.option("--user", "user_key", required=True, help="The user's id as the bot passes it.")
@click.option(
    "--attr",
    "attrs",
    multiple=True,
    help="An attribute name=value (repeatable): a JSON value such as premium=true or age=42, else text: country=DE.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def flags_check(app: AppContext, key: str, user_key: str, attrs: tuple[str, ...], as_json: bool) -> None:
    """Whether flag KEY is on for a user with the given attributes (exit 0 either way).

    Example: datalayer chat flags check personality_adaptation --user 42 --attr premium=true
    """
    attributes: dict[str, Any] = {}
    for a in attrs:
        name, sep, raw = a.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{a!r}: give name=value", param_hint="'--attr'")
        try:  # JSON when it is JSON (premium=true, age=42, tags='["a"]'), else the text itself (country=DE)
            attributes[name] = json.loads(raw)
        except json.JSONDecodeError:
            attributes[name] = raw
    on = app.with_db(lambda db: FeatureFlagRepository(db).is_flag_enabled(key, user_key, attributes))
    if as_json:
        emit_json({"flag": key, "user": user_key, "enabled": on})
    else:
        click.echo("on" if on else "off")


@group.group()
def users() -> None:
    """Users of the bot.

    Example: datalayer chat users show 123456789
    """


async def _by_telegram(db: Database, telegram_id: int) -> User:
    user = await UserRepository(db).get_by_telegram_id(telegram_id)
    if user is None:
        raise NotFound(f"no live user with Telegram id {telegram_id}")
    return user


@users.command("show")
@click.argument("telegram_id", type=click.IntRange(1, INT64_MAX))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def users_show(app: AppContext, telegram_id: int, as_json: bool) -> None:
    """A user and its statistics (messages, conversations, activity, sentiment, tokens).

    Example: datalayer chat users show 7000100000 --json
    """

    async def go(db: Database) -> dict[str, Any]:
        user = await _by_telegram(db, telegram_id)
        stats = await UserRepository(db).statistics(user.id)
        return {"user": user.model_dump(mode="json"), "statistics": stats.model_dump(mode="json")}

    report = app.with_db(go)
    if as_json:
        emit_json(report)
        return
    table = Table("what", "value", show_header=False)
    for k, v in {**report["user"], **report["statistics"]}.items():
        table.add_row(k, "-" if v is None else str(v))
    show(table, 0)


@group.group()
def gdpr() -> None:
    """GDPR requests: export a user's data, erase it.

    Example: datalayer chat gdpr export 7000100000 --out user.json
    """


@gdpr.command("export")
@click.argument("telegram_id", type=click.IntRange(1, INT64_MAX))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON here instead of stdout.")
@pass_app
def gdpr_export(app: AppContext, telegram_id: int, out: Path | None) -> None:
    """Every row about a user as one JSON document.

    Example: datalayer chat gdpr export 7000100000 --out user.json
    """

    async def go(db: Database) -> dict[str, Any]:
        return await GdprRepository(db).export((await _by_telegram(db, telegram_id)).id)

    document = app.with_db(go)
    text = json.dumps(document, indent=2, default=str)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n")
        click.echo(f"wrote {out}", err=True)


@gdpr.command("erase")
@click.argument("telegram_id", type=click.IntRange(1, INT64_MAX))
@click.option("--by", "actor", default="admin:cli", show_default=True, help="Who asks (kept in the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def gdpr_erase(app: AppContext, telegram_id: int, actor: str, yes: bool, as_json: bool) -> None:
    """Erase a user's personal data for good (aggregates stay); asks first unless --yes.

    Example: datalayer chat gdpr erase 7000100000 --yes
    """
    if not yes and not click.confirm(
        f"Erase every personal field of Telegram user {telegram_id}? This cannot be undone"
    ):
        raise click.Abort()

    async def go(db: Database) -> Any:
        user = await _by_telegram(db, telegram_id)
        async with db.transaction() as tx:
            return await GdprRepository(tx).erase(user.id, actor=actor)

    row = app.with_db(go)
    if as_json:
        emit_json(row.model_dump(mode="json"))
    else:
        click.echo(f"erased user {row.user_id}: {row.messages} messages, {row.conversations} conversations, "
                   f"{row.activities} activities, {row.security_events} security events, {row.audit_entries} audit entries redacted")  # fmt: skip


@click.command("chat-bot")
@click.option("--users", "n_users", default=20, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", "seed_", default=1, show_default=True, type=click.IntRange(0, 1000), help="Picks the ids.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def seed_command(app: AppContext, n_users: int, seed_: int, as_json: bool) -> None:
    """Sample data for the conversation bot (users, conversations, messages, flags, config …), with progress.

    Example: datalayer seed chat-bot --users 100
    """

    async def go(db: Database) -> Any:
        with Progress(console=console, transient=True, disable=as_json) as bar:
            task = bar.add_task("seeding chat_bot", total=n_users)
            return await seed(db, users=n_users, seed=seed_, progress=lambda n: bar.advance(task, n))

    report = asdict(app.with_db(go))
    if as_json:
        emit_json(report)
    else:
        click.echo(f"{report['users']} users ({report['created']} new), {report['messages']} new messages")


_ = InvalidData  # re-exported errors become clean messages at the CLI edge (datalayer.cli)
