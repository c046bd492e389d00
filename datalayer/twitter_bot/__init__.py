"""Twitter translation bot: schema `twitter_bot`. One module per aggregate, each the twin of a query file:
`tweets`, `translations`, `api_usage`, `cache`, `system_state`, `users`. Build a repository on a `Database`
or a `Transaction`."""

from datalayer.twitter_bot.api_usage import ApiUsage, ApiUsageRepository, LogApiCallParams
from datalayer.twitter_bot.cache import PutCachedTranslationParams, TranslationCache, TranslationCacheRepository
from datalayer.twitter_bot.system_state import SystemState, SystemStateRepository
from datalayer.twitter_bot.translations import (
    ImportDraftParams,
    Translation,
    TranslationAttempt,
    TranslationRepository,
)
from datalayer.twitter_bot.tweets import Tweet, TweetRepository, UpsertTweetParams
from datalayer.twitter_bot.users import User, UserRepository

__all__ = [
    "ApiUsage",
    "ApiUsageRepository",
    "ImportDraftParams",
    "LogApiCallParams",
    "PutCachedTranslationParams",
    "SystemState",
    "SystemStateRepository",
    "Translation",
    "TranslationAttempt",
    "TranslationCache",
    "TranslationCacheRepository",
    "TranslationRepository",
    "Tweet",
    "TweetRepository",
    "UpsertTweetParams",
    "User",
    "UserRepository",
]
