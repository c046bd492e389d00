"""AI conversation bot (Telegram): schema `chat_bot`. One module per aggregate, each the twin of a query file:
`users`, `activities`, `sessions`, `conversations`, `messages`, `personalities`, `risk`, `config`, `flags`,
`rate_limits`, `audit`, `security`, `metrics`, `gdpr`; `seed` makes sample data. Build a repository on a
`Database` or a `Transaction`."""

from datalayer.chat_bot.activities import ActivityRepository, UserActivity
from datalayer.chat_bot.audit import AppendAuditParams, AuditEntry, AuditRepository
from datalayer.chat_bot.config import ConfigChange, ConfigEntry, ConfigRepository
from datalayer.chat_bot.conversations import Conversation, ConversationRepository
from datalayer.chat_bot.flags import FeatureFlag, FeatureFlagRepository, UpsertFeatureFlagParams, rollout_bucket
from datalayer.chat_bot.gdpr import GdprRepository
from datalayer.chat_bot.messages import AddMessageParams, Message, MessageRepository, NewMessage
from datalayer.chat_bot.metrics import Measurement, MetricsRepository
from datalayer.chat_bot.personalities import (
    PersonalityRepository,
    UpsertPersonalityProfileParams,
    UpsertPersonalityTraitParams,
)
from datalayer.chat_bot.rate_limits import RateLimitRepository, UpsertRateLimitParams
from datalayer.chat_bot.risk import RecordRiskAssessmentParams, RiskRepository, UpsertRiskFactorParams
from datalayer.chat_bot.security import RecordSecurityEventParams, SecurityEventRepository
from datalayer.chat_bot.sessions import ConversationSession, SessionRepository
from datalayer.chat_bot.users import CreateUserParams, Registration, User, UserRepository, UserUpdate, register_user
from datalayer.filters import Filter, Page, PageResult, Sort

__all__ = [
    "ActivityRepository", "AddMessageParams", "AppendAuditParams", "AuditEntry", "AuditRepository", "ConfigChange",
    "ConfigEntry", "ConfigRepository", "Conversation", "ConversationRepository", "ConversationSession",
    "CreateUserParams", "FeatureFlag", "FeatureFlagRepository", "Filter", "GdprRepository", "Measurement", "Message",
    "MessageRepository", "MetricsRepository", "NewMessage", "Page", "PageResult", "PersonalityRepository",
    "RateLimitRepository", "RecordRiskAssessmentParams", "RecordSecurityEventParams", "Registration", "RiskRepository",
    "SecurityEventRepository", "SessionRepository", "Sort", "UpsertFeatureFlagParams", "UpsertPersonalityProfileParams",
    "UpsertPersonalityTraitParams", "UpsertRateLimitParams", "UpsertRiskFactorParams", "User", "UserActivity",
    "UserRepository", "UserUpdate", "register_user", "rollout_bucket",
]  # fmt: skip
