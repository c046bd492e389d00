"""Discord reminder bot: schema `discord_bot`. One module per aggregate, each the twin of a query file:
`guilds`, `members`, `events`, `reactions`, `reminders`, `integrity`; `importer` reads the old JSON store and
`seed` makes sample data. Build a repository on a `Database` or a `Transaction`."""

from datalayer.discord_bot.events import Event, EventRepository, UpsertEventParams
from datalayer.discord_bot.guilds import Guild, GuildRepository
from datalayer.discord_bot.integrity import IntegrityProblemRow, IntegrityRepository
from datalayer.discord_bot.members import Member, MemberRepository
from datalayer.discord_bot.reactions import MemberToRemindRow, Reaction, ReactionRepository
from datalayer.discord_bot.reminders import ClaimedReminder, ReminderLog, ReminderRepository

__all__ = [
    "ClaimedReminder",
    "Event",
    "EventRepository",
    "Guild",
    "GuildRepository",
    "IntegrityProblemRow",
    "IntegrityRepository",
    "Member",
    "MemberRepository",
    "MemberToRemindRow",
    "Reaction",
    "ReactionRepository",
    "ReminderLog",
    "ReminderRepository",
    "UpsertEventParams",
]
