"""datalayer: the PostgreSQL persistence of five bots, in raw SQL."""

from datalayer.config import Settings
from datalayer.db import Database, Transaction
from datalayer.errors import (
    Conflict,
    DatalayerError,
    InvalidData,
    MigrationError,
    NotFound,
    ReferenceMissing,
    Retryable,
    StateConflict,
    Unavailable,
    UsageError,
)
from datalayer.queries import Params
from datalayer.secrets import Cipher

__all__ = [
    "Cipher",
    "Conflict",
    "Database",
    "DatalayerError",
    "InvalidData",
    "MigrationError",
    "NotFound",
    "Params",
    "ReferenceMissing",
    "Retryable",
    "Settings",
    "StateConflict",
    "Transaction",
    "Unavailable",
    "UsageError",
]
