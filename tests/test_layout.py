"""The shape of the code: one Python module per query file, and every write says whether it may be retried."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from datalayer import queries as q
from datalayer.check import import_repositories
from datalayer.repository import Repository

ROOT = Path(__file__).resolve().parent.parent
NOT_TWINS = {"__init__", "cleanup", "cli", "importer", "seed"}


def test_every_query_file_has_its_python_twin_and_back() -> None:
    sql = {p.relative_to(ROOT / "queries").with_suffix("") for p in (ROOT / "queries").glob("*/*.sql")}
    schemas = {p.parts[0] for p in sql}
    py = {
        p.relative_to(ROOT / "datalayer").with_suffix("")
        for schema in schemas
        for p in (ROOT / "datalayer" / schema).glob("*.py")
        if p.stem not in NOT_TWINS
    }
    assert sql == py
    import_repositories()
    for name, bindings in q.REGISTRY.items():
        schema, aggregate = name.split(".")[0], q.load()[name].source.split("/")[-1].split(".sql")[0]
        owners = {b.owner for b in bindings if not b.owner.startswith("tests.")}
        assert owners <= {f"datalayer.{schema}.{aggregate}"}, (name, owners)


def test_every_write_method_says_whether_it_is_retry_safe() -> None:
    import_repositories()
    writes = {b.name for bs in q.REGISTRY.values() for b in bs if not q.is_plain_read(b.sql)}
    checked = 0
    for path in sorted((ROOT / "datalayer").glob("*/*.py")):
        if path.stem == "cli":
            continue  # command-line modules bind no queries
        module = importlib.import_module(f"datalayer.{path.parent.name}.{path.stem}")
        bindings = {k: v for k, v in vars(module).items() if isinstance(v, q.Bound)}
        for cls in vars(module).values():
            if not (inspect.isclass(cls) and issubclass(cls, Repository) and cls.__module__ == module.__name__):
                continue
            for name, fn in vars(cls).items():
                if not inspect.iscoroutinefunction(fn):
                    continue
                used = {bindings[v].name for v in re.findall(r"\b(_[A-Z_]+)\b", inspect.getsource(fn)) if v in bindings}
                if used & writes:
                    checked += 1
                    doc = (fn.__doc__ or "").lower()
                    assert "retry-safe" in doc, (
                        f"{cls.__name__}.{name} writes but its docstring says nothing of retries"
                    )
    assert checked > 30
