"""`datalayer reddit …`: the Reddit bot's data from the command line."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from rich.table import Table

from datalayer.cli import AppContext, emit_json, pass_app, show
from datalayer.db import Database
from datalayer.reddit_bot.comments import CommentRepository
from datalayer.reddit_bot.patterns import PatternRepository
from datalayer.reddit_bot.posts import PostRepository
from datalayer.reddit_bot.seed import seed


@click.group("reddit")
def group() -> None:
    """The Reddit bot (schema reddit_bot).

    Example: datalayer reddit status
    """


@group.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Comments by status, and per subreddit: posts, unprocessed, queued / posted / failed comments, karma, patterns.

    Example: datalayer reddit status --json
    """

    async def go(db: Database) -> dict[str, Any]:
        return {
            "comments": await CommentRepository(db).count_by_status(),
            "subreddits": [r.model_dump(mode="json") for r in await PostRepository(db).stats()],
        }

    report = app.with_db(go)
    if as_json:
        emit_json(report)
        return
    click.echo("comments: " + ", ".join(f"{k} {v}" for k, v in report["comments"].items()))
    table = Table(
        "subreddit", "posts", "unprocessed", "queued", "posted", "failed", "not posted", "mean karma", "patterns"
    )
    for r in report["subreddits"]:
        karma = "-" if r["avg_karma"] is None else f"{r['avg_karma']:.1f}"
        table.add_row(
            r["subreddit"],
            *(str(r[k]) for k in ("posts", "unprocessed", "queued", "posted", "failed", "not_posted")),
            karma,
            str(r["patterns"]),
        )
    show(table, 0)


@group.command()
@click.argument("query")
@click.option("--posts", "in_posts", is_flag=True, help="Search posts instead of comments.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def search(app: AppContext, query: str, in_posts: bool, limit: int, as_json: bool) -> None:
    """Full-text search of live comments (or posts), ranked by relevance then karma (or score), with snippets.

    QUERY uses web-search syntax: words, "a phrase", -excluded, or.

    Example: datalayer reddit search "type hints" --limit 5
    """

    async def go(db: Database) -> list[Any]:
        if in_posts:
            return list(await PostRepository(db).search(query, limit))
        return list(await CommentRepository(db).search(query, limit))

    rows = app.with_db(go)
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        click.echo("no matches")
        return
    table = Table("id", "rank", "score" if in_posts else "karma", "snippet")
    for r in rows:
        table.add_row(str(r.id), f"{r.rank:.3f}", str(r.score if in_posts else r.karma_score), r.snippet)
    show(table, 0)


@group.command()
@click.option("--older-than", "days", required=True, type=click.IntRange(0, 36_500), help="Days since the soft delete.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def purge(app: AppContext, days: int, yes: bool, as_json: bool) -> None:
    """Remove for good the posts, comments and patterns soft-deleted more than DAYS ago (asks first).

    Example: datalayer reddit purge --older-than 30 --yes
    """
    if not yes and not click.confirm(f"Remove for good everything soft-deleted more than {days} days ago?"):
        raise click.Abort()
    cutoff = datetime.now(UTC) - timedelta(days=days)

    async def go(db: Database) -> dict[str, int]:
        async with db.transaction() as tx:
            return {
                "comments": await CommentRepository(tx).purge_deleted(cutoff),
                "posts": await PostRepository(tx).purge_deleted(cutoff),
                "patterns": await PatternRepository(tx).purge_deleted(cutoff),
            }

    report = app.with_db(go)
    if as_json:
        emit_json({"purged": report, "deleted_before": cutoff.isoformat()})
    else:
        click.echo("purged: " + ", ".join(f"{v} {k}" for k, v in report.items()))


@click.command("reddit-bot")
@click.option("--posts", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", "seed_", default=1, show_default=True, type=click.IntRange(0, 1000), help="Picks the ids.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def seed_command(app: AppContext, posts: int, seed_: int, as_json: bool) -> None:
    """Sample posts, comments and successful patterns for the Reddit bot (a re-run adds no rows).

    Example: datalayer seed reddit-bot --posts 100
    """
    report = asdict(app.with_db(lambda db: seed(db, posts=posts, seed=seed_)))
    if as_json:
        emit_json(report)
    else:
        click.echo(", ".join(f"{v} {k}" for k, v in report.items()))
