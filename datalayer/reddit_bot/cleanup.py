"""Retention rules of the Reddit bot, run by `datalayer cleanup`: soft-deleted rows purged after the retention."""

from __future__ import annotations

from datalayer.maintenance import CleanupContext, rule
from datalayer.reddit_bot.comments import CommentRepository
from datalayer.reddit_bot.patterns import PatternRepository
from datalayer.reddit_bot.posts import PostRepository


@rule("reddit_bot.purged_comments", "comments soft-deleted longer ago than the retention")
async def purged_comments(c: CleanupContext) -> int:
    return await CommentRepository(c.db).purge_deleted(c.cutoff)


@rule("reddit_bot.purged_patterns", "patterns soft-deleted longer ago than the retention")
async def purged_patterns(c: CleanupContext) -> int:
    return await PatternRepository(c.db).purge_deleted(c.cutoff)


@rule("reddit_bot.purged_posts", "posts soft-deleted longer ago than the retention (after their comments)")
async def purged_posts(c: CleanupContext) -> int:
    return await PostRepository(c.db).purge_deleted(c.cutoff)
