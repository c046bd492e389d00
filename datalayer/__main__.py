"""`python -m datalayer` is the `datalayer` command."""

from datalayer.cli import main

main()
