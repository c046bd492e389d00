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
    Unavailable,
)

__all__ = [
    "Conflict",
    "Database",
    "DatalayerError",
    "InvalidData",
    "MigrationError",
    "NotFound",
    "ReferenceMissing",
    "Retryable",
    "Settings",
    "Transaction",
    "Unavailable",
]
