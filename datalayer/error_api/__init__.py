"""AI error-translator API: schema `error_api`. One module per aggregate, each the twin of a query file:
`users`, `api_keys`, `subscriptions`, `usage`, `tokens`; `seed` makes sample data. Build a repository on a
`Database` or a `Transaction`."""

from datalayer.error_api.api_keys import ApiKey, ApiKeyRepository, AuthenticatedKeyRow, KeyDigester
from datalayer.error_api.subscriptions import Subscription, SubscriptionRepository, UpsertSubscriptionParams
from datalayer.error_api.tokens import TokenBlacklistRepository
from datalayer.error_api.usage import Dashboard, LogRequestParams, RateLimitRow, UsageRepository
from datalayer.error_api.users import User, UserRepository

__all__ = [
    "ApiKey",
    "ApiKeyRepository",
    "AuthenticatedKeyRow",
    "Dashboard",
    "KeyDigester",
    "LogRequestParams",
    "RateLimitRow",
    "Subscription",
    "SubscriptionRepository",
    "TokenBlacklistRepository",
    "UpsertSubscriptionParams",
    "UsageRepository",
    "User",
    "UserRepository",
]
