"""Scaling out with Citus, on paper: where every table of the data layer would live, and which named queries would
span shards. Data only: importable without a database, it binds no query. tests/test_sharding.py keeps it true
against the migrated schema and the SQL of every named query; README "Scaling out" explains it.

- `Distributed(column, group)`: hash-distributed by `column`; tables of one co-location `group` have their shards on
  the same nodes by the same hash ranges, so joins and foreign keys between them stay on one node. `changes` are
  the schema changes Citus needs first (a distributed table's primary and unique keys must include the
  distribution column; a foreign key between distributed tables must be co-located and include it too).
  `add_column`: the table has no such column yet; the Citus migration adds it (filled from its parent).
- `Reference()`: small, read everywhere, rarely written: one full copy on every node, joinable with anything.
- `Local()`: stays on the coordinator (a plain or Citus-local table): bookkeeping and logs never joined with tenant
  data.

A new table fails tests/test_sharding.py until it gets a line here; so does a new named query on a distributed
table that does not filter by its distribution column, until it filters or is listed in `MULTI_SHARD` with why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Distributed:
    column: str
    group: str
    changes: tuple[str, ...] = ()
    add_column: bool = False
    kind = "distributed"


@dataclass(frozen=True, slots=True)
class Reference:
    why: str
    changes: tuple[str, ...] = ()
    kind = "reference"


@dataclass(frozen=True, slots=True)
class Local:
    why: str
    changes: tuple[str, ...] = ()
    kind = "local"


Placement = Distributed | Reference | Local

_CONFIG = "configuration: a few rows, read by every request, changed by an operator"


def _pk(old: str, new: str) -> str:
    return f"primary key ({old}) becomes ({new})"


PLAN: Mapping[str, Placement] = MappingProxyType(
    {
        # --- twitter_bot: a tweet and everything about it on one shard ---------------------------------------------
        "twitter_bot.tweets": Distributed("id", "twitter_tweet"),
        "twitter_bot.translations": Distributed("tweet_id", "twitter_tweet", (_pk("id", "tweet_id, id"),)),
        "twitter_bot.translation_attempts": Distributed(
            "tweet_id",
            "twitter_tweet",
            (
                _pk("id", "tweet_id, id"),
                "foreign key (translation_id) → translations(id) becomes (tweet_id, translation_id) → "
                "translations(tweet_id, id)",
            ),
        ),
        "twitter_bot.api_usage": Distributed(
            "call_id",
            "twitter_api_usage",
            (
                _pk("id, called_at", "call_id, called_at")
                + " (today's unique key; id stays an identity column without a key of its own)",
            ),
        ),
        "twitter_bot.translation_cache": Distributed(
            "cache_key",
            "twitter_cache",
            (
                "cache_key is a generated column, which Citus cannot distribute by: it becomes a plain column the "
                "queries fill with the same hash (a CHECK keeps it equal), computed before the statement",
            ),
        ),
        "twitter_bot.users": Reference("the bot's operators: a handful of rows"),
        "twitter_bot.system_state": Local("the bot's own counters and cursor: one writer, never joined"),
        "twitter_bot.api_usage_hourly": Local(
            "the usage log rolled up per hour, service and endpoint: small, and what the reports read"
        ),
        "twitter_bot.translation_cache_misses": Local(
            "16 counter rows (one per backend slot) the cache statistics sum; no tenant"
        ),
        # --- chat_bot: a user and everything of theirs on one shard --------------------------------------------
        "chat_bot.users": Distributed(
            "id",
            "chat_user",
            (
                "unique (telegram_id) cannot hold across shards: a lookup table chat_bot.telegram_ids "
                "(telegram_id primary key, user_id) distributed by telegram_id, written in the user's transaction",
            ),
        ),
        "chat_bot.conversation_sessions": Distributed("user_id", "chat_user", (_pk("id", "user_id, id"),)),
        "chat_bot.conversations": Distributed(
            "user_id",
            "chat_user",
            (
                _pk("id", "user_id, id"),
                "foreign key (session_id) → conversation_sessions(id) becomes (user_id, session_id) → "
                "conversation_sessions(user_id, id) ON DELETE SET NULL (session_id)",
            ),
        ),
        "chat_bot.messages": Distributed(
            "user_id",
            "chat_user",
            (
                _pk("id", "user_id, id"),
                "unique (request_id) becomes (user_id, request_id)",
                "foreign key (conversation_id) → conversations(id) becomes (user_id, conversation_id) → "
                "conversations(user_id, id)",
            ),
        ),
        "chat_bot.conversation_analytics": Distributed(
            "user_id",
            "chat_user",
            (
                "add user_id (filled from conversations)",
                _pk("conversation_id", "user_id, conversation_id"),
                "foreign key becomes (user_id, conversation_id) → conversations(user_id, id)",
            ),
            add_column=True,
        ),
        "chat_bot.conversation_risks": Distributed(
            "user_id",
            "chat_user",
            (
                "add user_id (filled from conversations)",
                _pk("conversation_id", "user_id, conversation_id"),
                "foreign key becomes (user_id, conversation_id) → conversations(user_id, id)",
            ),
            add_column=True,
        ),
        "chat_bot.risk_assessments": Distributed(
            "user_id",
            "chat_user",
            (
                _pk("id", "user_id, id"),
                "foreign keys (conversation_id), (message_id) become (user_id, conversation_id) → "
                "conversations(user_id, id) and (user_id, message_id) → messages(user_id, id)",
            ),
        ),
        "chat_bot.user_activities": Distributed("user_id", "chat_user", (_pk("id", "user_id, id"),)),
        "chat_bot.user_personality_mappings": Distributed("user_id", "chat_user"),
        "chat_bot.security_events": Local(
            "read by time and state, never per user; user_id may be NULL, which a distribution column may not",
            (
                "foreign key (user_id) → users is dropped (a coordinator table cannot reference a distributed "
                "one): deleting a user sets its events' user_id to NULL in the same transaction",
            ),
        ),
        "chat_bot.audit_logs": Local("the operators' audit trail: low volume, read by entity, actor or time"),
        "chat_bot.performance_metrics": Local("the bot's own metrics, summarised by name; no tenant"),
        "chat_bot.system_configurations": Reference(_CONFIG),
        "chat_bot.configuration_history": Reference("follows system_configurations, which it references"),
        "chat_bot.feature_flags": Reference(_CONFIG),
        "chat_bot.rate_limit_configs": Reference(_CONFIG),
        "chat_bot.personality_profiles": Reference("a catalogue of profiles every user's mapping references"),
        "chat_bot.personality_traits": Reference("a catalogue of traits"),
        "chat_bot.risk_factors": Reference("a catalogue of patterns every message is scored against"),
        # --- error_api: an account and everything of its on one shard ----------------------------------------------
        "error_api.users": Distributed(
            "id",
            "error_api_user",
            (
                "unique lower(email) and unique (stripe_customer_id) cannot hold across shards: lookup tables "
                "distributed by email and by customer id, written in the user's transaction",
            ),
        ),
        "error_api.api_keys": Distributed(
            "user_id",
            "error_api_user",
            (
                _pk("id", "user_id, id"),
                "unique (key_digest) cannot hold across shards: a lookup table error_api.api_key_digests "
                "(key_digest primary key, user_id, key id) distributed by key_digest, which authentication reads "
                "first (or the user id in the key's public prefix)",
            ),
        ),
        "error_api.subscriptions": Distributed(
            "user_id",
            "error_api_user",
            (
                _pk("id", "user_id, id"),
                "unique (stripe_subscription_id) cannot hold across shards: a lookup table by Stripe id, or the "
                "user id in the Stripe subscription's metadata so webhooks can route",
            ),
        ),
        "error_api.usage_logs": Distributed(
            "user_id",
            "error_api_user",
            (
                _pk("request_id, created_at", "user_id, request_id, created_at"),
                "user_id becomes NOT NULL (a distribution column may not be NULL): anonymous requests are logged "
                "under one reserved account",
            ),
        ),
        "error_api.usage_minutes": Distributed("user_id", "error_api_user"),
        "error_api.usage_daily": Distributed("user_id", "error_api_user"),
        "error_api.token_blacklist": Distributed(
            "token_jti", "error_api_token", (_pk("id", "token_jti, id") + " (unique (token_jti) already fits)",)
        ),
        "error_api.tiers": Reference("the subscription tiers: three rows every account references"),
        # --- reddit_bot: a post and its comments on one shard ----------------------------------------------------
        "reddit_bot.posts": Distributed("id", "reddit_post"),
        "reddit_bot.comments": Distributed(
            "post_id",
            "reddit_post",
            (
                _pk("id", "post_id, id"),
                "unique (reddit_id) and unique (request_id) become (post_id, reddit_id) and (post_id, request_id)",
            ),
        ),
        "reddit_bot.comment_finishes": Distributed(
            "post_id",
            "reddit_post",
            (
                "add post_id (filled from comments)",
                _pk("comment_id, claim_id", "post_id, comment_id, claim_id"),
                "foreign key becomes (post_id, comment_id) → comments(post_id, id)",
            ),
            add_column=True,
        ),
        "reddit_bot.successful_patterns": Reference("a few hundred patterns per subreddit, read to write comments"),
        # --- discord_bot: a guild and everything in it on one shard -----------------------------------------------
        "discord_bot.guilds": Distributed("guild_id", "discord_guild"),
        "discord_bot.members": Distributed("guild_id", "discord_guild"),
        "discord_bot.events": Distributed(
            "guild_id",
            "discord_guild",
            (_pk("id", "guild_id, id"), "unique (message_id) becomes (guild_id, message_id)"),
        ),
        "discord_bot.reactions": Distributed(
            "guild_id",
            "discord_guild",
            (
                "add guild_id (filled from events)",
                _pk("event_id, user_id, emoji", "guild_id, event_id, user_id, emoji"),
                "foreign key becomes (guild_id, event_id) → events(guild_id, id)",
            ),
            add_column=True,
        ),
        "discord_bot.reminder_logs": Distributed(
            "guild_id",
            "discord_guild",
            (
                "add guild_id (filled from events)",
                _pk("id", "guild_id, id"),
                "unique (event_id, scheduled_at) becomes (guild_id, event_id, scheduled_at)",
                "foreign key becomes (guild_id, event_id) → events(guild_id, id)",
            ),
            add_column=True,
        ),
        # --- ops and the migrations' bookkeeping: the coordinator's own ---------------------------------------------
        "ops.query_stats": Local("statistics of this deployment's processes"),
        "ops.rollup_watermarks": Local("how far each rollup is complete: one row per rollup"),
        "ops.table_size_history": Local("sizes the coordinator samples"),
        "public._yoyo_migration": Local("migrations bookkeeping"),
        "public._yoyo_version": Local("migrations bookkeeping"),
        "public._yoyo_log": Local("migrations bookkeeping"),
        "public.yoyo_lock": Local("migrations bookkeeping"),
        "public._datalayer_migration_checksum": Local("migrations bookkeeping"),
    }
)

# Why a query spans shards, in a few words each; the caller-side fix where there is one.
_STATS = "statistics over every tenant: one query per shard, merged on the coordinator (fine for a report)"
_QUEUE = "a work queue claimed across tenants: FOR UPDATE SKIP LOCKED on every shard (or one queue per tenant)"
_RETENTION = "retention: deletes old rows on every shard (or drops their partitions)"
_SEARCH = "full-text search across tenants: every shard searches, the coordinator merges the top rows"
_ACROSS = "lists across tenants (newest, unprocessed, due …): every shard sorts, the coordinator merges"
_ROLLUP = "a rollup over every tenant's new rows: each shard aggregates its own, the coordinator writes the result"
_VIA_CTE = "reaches the table through a CTE's rows, not a parameter: Citus runs the CTE first, then asks every shard"


def _by(key: str, column: str) -> str:
    return f"by {key}, not {column}: every shard is asked; the caller knows the {column} and should pass it too"


def _unique(key: str) -> str:
    return f"by {key}, unique across tenants: through the lookup table of the plan, then one shard"


def _no_column(table: str, column: str, key: str) -> str:
    return f"{table} has no {column} yet (the Citus migration adds it): by {key} only until the query passes it"


MULTI_SHARD: Mapping[str, str] = MappingProxyType(
    {
        # twitter_bot
        "twitter_bot.api_response_time_percentiles": _STATS,
        "twitter_bot.get_api_usage_rollup_state": _ROLLUP,
        "twitter_bot.rollup_api_usage_hours": _ROLLUP,
        "twitter_bot.api_success_rate": _STATS,
        "twitter_bot.api_usage_by_period": _STATS,
        "twitter_bot.api_usage_today": _STATS,
        "twitter_bot.top_api_errors": _STATS,
        "twitter_bot.check_rate_limit": "counts a service's calls in a window, which are spread over every shard",
        "twitter_bot.import_api_calls": "checks which rows existed by joining the batch it wrote: every shard",
        "twitter_bot.delete_api_usage_older_than": _RETENTION,
        "twitter_bot.delete_attempts_older_than": _RETENTION,
        "twitter_bot.purge_expired_cache": _RETENTION,
        "twitter_bot.cache_stats": _STATS,
        "twitter_bot.get_cached_translation": "the key is computed in SQL (sha256 of the text): compute it first",
        "twitter_bot.put_cached_translation": "the key is a generated column: compute it first and insert it",
        "twitter_bot.translation_stats": _STATS,
        "twitter_bot.count_translations_by_status": _STATS,
        "twitter_bot.claim_pending_translations": _QUEUE,
        "twitter_bot.retry_failed_translations": _QUEUE,
        "twitter_bot.list_drafts": _ACROSS,
        "twitter_bot.list_recent_tweets": _ACROSS,
        "twitter_bot.list_unprocessed_tweets": _ACROSS,
        "twitter_bot.search_tweets": _SEARCH,
        "twitter_bot.get_translation": _by("translation id", "tweet_id"),
        "twitter_bot.approve_draft": _by("translation id", "tweet_id"),
        "twitter_bot.mark_translation_failed": _by("translation id", "tweet_id"),
        "twitter_bot.mark_translation_posted": _by("translation id", "tweet_id"),
        "twitter_bot.save_translation_draft": _by("translation id", "tweet_id"),
        "twitter_bot.find_translation_finish": _by("translation id", "tweet_id"),
        "twitter_bot.rollback_translation_to_attempt": _by("attempt id", "tweet_id"),
        # chat_bot
        "chat_bot.get_conversation": _by("conversation id", "user_id"),
        "chat_bot.set_conversation_status": _by("conversation id", "user_id"),
        "chat_bot.add_message": _by("conversation id", "user_id") + "; then updates through a CTE's rows",
        "chat_bot.add_messages": "a batch of messages of many conversations, found by conversation id",
        "chat_bot.record_activity": _VIA_CTE + " (the user: add u.id = $1)",
        "chat_bot.record_risk_assessment": _by("conversation id", "user_id"),
        "chat_bot.refresh_conversation_analytics": _by("conversation id", "user_id"),
        "chat_bot.get_message_analytics": _by("conversation id", "user_id"),
        "chat_bot.list_conversation_messages": _by("conversation id", "user_id"),
        "chat_bot.get_conversation_risk": _no_column("conversation_risks", "user_id", "conversation id"),
        "chat_bot.export_user_data": _no_column("conversation_analytics", "user_id", "conversation id")
        + "; its messages are found by conversation",
        "chat_bot.close_session": _by("session id", "user_id"),
        "chat_bot.touch_session": _by("session id", "user_id"),
        "chat_bot.expire_idle_sessions": "expires idle sessions of every user: every shard",
        "chat_bot.get_user_by_telegram_id": _unique("telegram_id"),
        "chat_bot.update_users": "a batch of users by id: every shard (one statement per user would route)",
        "chat_bot.find_users": _ACROSS,
        "chat_bot.get_flag_statistics": _STATS,
        "chat_bot.get_assessment_statistics": _STATS,
        "chat_bot.list_high_risk_assessments": _ACROSS,
        # error_api
        "error_api.authenticate_api_key": _unique("key_digest") + " (every request: the lookup table matters)",
        "error_api.create_api_key": _unique("key_digest") + " (the repeat's fallback)",
        "error_api.get_user_by_email": _unique("email"),
        "error_api.get_user_credentials": _unique("email"),
        "error_api.upsert_subscription": _unique("stripe_subscription_id") + " (the conflict target)",
        "error_api.count_active_users": _STATS,
        "error_api.get_monitoring_summary": _STATS,
        "error_api.delete_expired_api_keys": _RETENTION,
        "error_api.delete_expired_tokens": _RETENTION,
        "error_api.delete_old_usage_minutes": _RETENTION,
        "error_api.delete_usage_older_than": _RETENTION,
        "error_api.delete_usage_daily_before": _RETENTION,
        "error_api.get_usage_rollup_state": _ROLLUP,
        "error_api.rollup_usage_days": _ROLLUP,
        # reddit_bot
        "reddit_bot.claim_pending_comments": _QUEUE,
        "reddit_bot.count_comments_by_status": _STATS,
        "reddit_bot.subreddit_stats": _STATS,
        "reddit_bot.list_recent_posts": "by subreddit, whose posts are spread over every shard",
        "reddit_bot.list_unprocessed_posts": _ACROSS,
        "reddit_bot.search_comments": _SEARCH,
        "reddit_bot.search_posts": _SEARCH,
        "reddit_bot.purge_deleted_comments": _RETENTION,
        "reddit_bot.purge_deleted_posts": _RETENTION,
        "reddit_bot.create_comment": _unique("request_id") + " (the repeat's fallback): add post_id = $1",
        "reddit_bot.get_comment": _by("comment id", "post_id"),
        "reddit_bot.delete_comment": _by("comment id", "post_id"),
        "reddit_bot.restore_comment": _by("comment id", "post_id"),
        "reddit_bot.set_comment_review": _by("comment id", "post_id"),
        "reddit_bot.mark_comment_failed": _by("comment id", "post_id"),
        "reddit_bot.mark_comment_posted": _by("comment id", "post_id"),
        "reddit_bot.mark_comment_skipped": _by("comment id", "post_id"),
        "reddit_bot.find_comment_finish": _no_column("comment_finishes", "post_id", "comment id"),
        "reddit_bot.update_comment_karma": _unique("reddit_id") + " (or pass post_id)",
        "reddit_bot.delete_post": _VIA_CTE + " (its comments: add c.post_id = $2)",
        "reddit_bot.restore_post": _VIA_CTE + " (its comments: add c.post_id = $1)",
        # discord_bot
        "discord_bot.claim_due_events": _QUEUE,
        "discord_bot.release_reminder_claims": "gives back a worker's claims in every guild: every shard",
        "discord_bot.count_due_events": _STATS,
        "discord_bot.reminder_stats": _STATS,
        "discord_bot.list_due_events": _ACROSS,
        "discord_bot.list_recent_failures": _ACROSS,
        "discord_bot.list_integrity_problems": "the integrity check reads every table whole: every shard",
        "discord_bot.get_event": _by("event id", "guild_id"),
        "discord_bot.get_event_by_message_id": _by("message id", "guild_id"),
        "discord_bot.delete_event": _by("message id", "guild_id"),
        "discord_bot.set_event_interval": _by("message id", "guild_id"),
        "discord_bot.set_event_paused": _by("message id", "guild_id"),
        "discord_bot.upsert_event": _by("message id", "guild_id") + " (the conflict target)",
        "discord_bot.add_reaction": _no_column("reactions", "guild_id", "message id"),
        "discord_bot.remove_reaction": _no_column("reactions", "guild_id", "message id"),
        "discord_bot.replace_event_reactions": _no_column("reactions", "guild_id", "event id"),
        "discord_bot.list_reactions": _no_column("reactions", "guild_id", "event id"),
        "discord_bot.list_members_to_remind": _by("event id", "guild_id"),
        "discord_bot.get_reminder": _no_column("reminder_logs", "guild_id", "reminder id"),
        "discord_bot.list_reminder_history": _no_column("reminder_logs", "guild_id", "event id"),
        "discord_bot.record_reminder_sent": _no_column("reminder_logs", "guild_id", "reminder id"),
        "discord_bot.record_reminder_failed": _no_column("reminder_logs", "guild_id", "reminder id"),
    }
)


def distributed() -> dict[str, Distributed]:
    """The distributed tables of the plan, by qualified name."""
    return {name: p for name, p in PLAN.items() if isinstance(p, Distributed)}
