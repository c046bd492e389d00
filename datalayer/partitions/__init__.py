"""Monthly partitions of every partitioned table of the data layer (`datalayer partitions`): made ahead, listed,
dropped after their retention — without stalling the bots. `partitions` is the twin of
queries/partitions/partitions.sql; `cli` is the `datalayer partitions` command."""

from datalayer.partitions.partitions import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_MONTHS_AHEAD,
    Partition,
    PartitionedTable,
    PartitionRepository,
    TableReport,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_MONTHS_AHEAD",
    "Partition",
    "PartitionRepository",
    "PartitionedTable",
    "TableReport",
]
