"""Twitter translation bot: schema `twitter_bot`."""

from datalayer.twitter_bot.repositories import SystemStateRepository
from datalayer.twitter_bot.models import SystemState

__all__ = ["SystemState", "SystemStateRepository"]
