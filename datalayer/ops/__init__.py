"""Schema `ops`: what every bot shares — catalog lookups for `check`, health probes, the migration ledger,
and per-query statistics. One module per query file in queries/ops/."""
