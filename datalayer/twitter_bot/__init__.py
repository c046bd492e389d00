"""Twitter translation bot: schema `twitter_bot`."""

from datalayer.twitter_bot.models import SystemState
from datalayer.twitter_bot.repositories import SystemStateRepository

__all__ = ["SystemState", "SystemStateRepository"]
