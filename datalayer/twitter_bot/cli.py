"""`datalayer twitter …`: the Twitter bot's data from the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from datalayer.cli import AppContext, emit_json, pass_app, show
from datalayer.db import Database
from datalayer.twitter_bot.api_usage import ApiUsageRepository
from datalayer.twitter_bot.cache import TranslationCacheRepository
from datalayer.twitter_bot.importer import import_directory
from datalayer.twitter_bot.system_state import SystemStateRepository
from datalayer.twitter_bot.translations import TranslationRepository


@click.group("twitter")
def group() -> None:
    """The Twitter translation bot (schema twitter_bot).

    Example: datalayer twitter status
    """


@group.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def import_(app: AppContext, directory: Path, as_json: bool) -> None:
    """Import the old file store in DIRECTORY (logs/last_tweet_id.txt, logs/api_usage.json, drafts/*.json).

    Idempotent; validates every file first and imports nothing when any input is malformed.

    Example: datalayer twitter import ~/twitter-bot
    """
    report = app.with_db(lambda db: import_directory(db, directory)).as_dict()
    if as_json:
        emit_json(report)
        return
    last = report["last_tweet_id"]
    click.echo(
        f"last_tweet_id: {'file ' + str(last['file']) + ', stored ' + str(last['stored']) if last['present'] else 'no file'}"
    )
    usage = report["api_usage"]
    click.echo(
        f"api_usage: {usage['imported']} imported, {usage['replaced']} replaced by a corrected record, "
        f"{usage['unchanged']} already there"
        if usage["present"]
        else "api_usage: no file"
    )
    drafts = report["drafts"]
    click.echo(f"drafts: {drafts['files']} files, {drafts['imported']} imported, {len(drafts['skipped'])} skipped")
    for name in drafts["skipped"]:
        click.echo(f"  skipped {name}: that tweet already has a translation into its language")


async def _status(db: Database) -> dict[str, Any]:
    cache = await TranslationCacheRepository(db).stats()
    today = await ApiUsageRepository(db).today()
    return {
        "translations": await TranslationRepository(db).count_by_status(),
        "last_tweet_id": await SystemStateRepository(db).last_tweet_id(),
        "cache": {
            "entries": cache.live_entries,
            "expired": cache.expired_entries,
            "hit_rate": round(cache.hit_rate, 4),
        },
        "api_calls_today": {"calls": today.calls, "failures": today.failures, "error_rate": round(today.error_rate, 4)},
    }


@group.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Translations by status, last tweet id, cache size and hit rate, API calls today and error rate.

    Example: datalayer twitter status --json
    """
    report = app.with_db(_status)
    if as_json:
        emit_json(report)
        return
    table = Table("what", "value", show_header=False)
    for name, count in report["translations"].items():
        table.add_row(f"translations {name}", str(count))
    table.add_row("last tweet id", str(report["last_tweet_id"] or "-"))
    table.add_row("cache entries", str(report["cache"]["entries"]))
    table.add_row("cache hit rate", f"{report['cache']['hit_rate']:.1%}")
    table.add_row("API calls today", str(report["api_calls_today"]["calls"]))
    table.add_row("API error rate today", f"{report['api_calls_today']['error_rate']:.1%}")
    show(table, 0)


@group.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Most drafts to show.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def drafts(app: AppContext, limit: int, as_json: bool) -> None:
    """Drafts waiting for approval, oldest first.

    Example: datalayer twitter drafts --limit 10
    """
    rows = app.with_db(lambda db: TranslationRepository(db).list_drafts(limit))
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        click.echo("no drafts")
        return
    table = Table("id", "tweet", "lang", "confidence", "original", "translation")
    for r in rows:
        conf = "-" if r.confidence is None else f"{r.confidence:.2f}"
        table.add_row(str(r.id), str(r.tweet_id), r.target_language, conf, r.original_text, r.translated_text or "")
    show(table, 0)


@group.command()
@click.option(
    "--months-ahead",
    default=2,
    show_default=True,
    type=click.IntRange(0, 120),
    help="Monthly api_usage partitions to create ahead.",
)
@click.option("--keep-days", type=click.IntRange(1, 36_500), help="Also delete attempts and API usage older than this.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def maintain(app: AppContext, months_ahead: int, keep_days: int | None, as_json: bool) -> None:
    """Create api_usage partitions ahead, purge expired cache entries, roll api_usage up into api_usage_hourly
    (the reports read it), and apply retention when asked.

    Run it daily (cron). Retention drops whole old partitions first, then deletes older rows.

    Example: datalayer twitter maintain --keep-days 365
    """

    async def go(db: Database) -> dict[str, Any]:
        usage = ApiUsageRepository(db)
        result: dict[str, Any] = {
            "partitions_created": [str(m) for m in await usage.ensure_partitions_ahead(months_ahead)],
            "cache_entries_purged": await TranslationCacheRepository(db).purge_expired(),
            "api_usage_rollup_rows": await usage.rollup(),
        }
        if keep_days is not None:
            cutoff = datetime.now(UTC) - timedelta(days=keep_days)
            result["partitions_dropped"] = await usage.drop_partitions_before(cutoff)
            result["api_usage_deleted"] = await usage.delete_older_than(cutoff)
            result["api_usage_rollup_deleted"] = await usage.delete_rollup_before(cutoff)
            result["attempts_deleted"] = await TranslationRepository(db).delete_attempts_older_than(cutoff)
        return result

    report = app.with_db(go)
    if as_json:
        emit_json(report)
    else:
        for key, value in report.items():
            click.echo(f"{key}: {value}")


@click.command("twitter-bot")
@click.option("--tweets", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", "seed_", default=1, show_default=True, type=click.IntRange(0, 1000), help="Picks the ids.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def seed_command(app: AppContext, tweets: int, seed_: int, as_json: bool) -> None:
    """Sample tweets, translations (posted, failed, pending), API calls, cache entries and operators for the
    Twitter bot (a re-run the same day adds no rows).

    Example: datalayer seed twitter-bot --tweets 50
    """
    from dataclasses import asdict

    from datalayer.twitter_bot.seed import seed

    report = asdict(app.with_db(lambda db: seed(db, tweets=tweets, seed=seed_)))
    if as_json:
        emit_json(report)
    else:
        click.echo(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.items()))
