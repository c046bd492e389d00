"""Twitter translation bot: schema `twitter_bot`. Build a repository on a `Database` or a `Transaction`."""

from datalayer.twitter_bot.models import (
    ImportDraftParams,
    LogApiCallParams,
    PutCachedTranslationParams,
    SystemState,
    Translation,
    TranslationAttempt,
    TranslationCache,
    Tweet,
    UpsertTweetParams,
    User,
)
from datalayer.twitter_bot.repositories import (
    ApiUsageRepository,
    SystemStateRepository,
    TranslationCacheRepository,
    TranslationRepository,
    TweetRepository,
    UserRepository,
)

__all__ = [
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
