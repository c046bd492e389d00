"""`make lint`: squawk on every migration, with this project's policy.

Rules left out everywhere, each for a reason that holds for every migration of this project, are in GLOBAL.
Migrations that create the tables they index ran on empty tables, where `CREATE INDEX CONCURRENTLY` buys nothing:
NEW_TABLES. Findings in migrations applied before this lint existed cannot be fixed in place (editing an applied
file is drift): each is in ACCEPTED with why it was safe when it ran. Anything else fails the lint, so a new
migration on a populated table must use lock timeouts, `CONCURRENTLY`, and `NOT VALID` then `VALIDATE`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQUAWK = ROOT / ".tools" / "node_modules" / ".bin" / "squawk"

GLOBAL = {
    "require-lock-timeout": "`datalayer migrate` sets lock_timeout for every session it opens",
    "require-statement-timeout": "`datalayer migrate` sets statement_timeout for every session it opens",
    "prefer-robust-stmts": "each migration runs in one transaction (yoyo), or is rerunnable (IF NOT EXISTS) when not",
    "prefer-bigint-over-int": "int columns hold bounded counts, codes and minutes; every key is bigint or uuid",
    "prefer-bigint-over-smallint": "smallint columns hold bounded codes (an HTTP status)",
}
NEW_TABLES = {"0001", "0002", "0003", "0006", "0008", "0011", "0013", "0016", "0017"}
ACCEPTED = {
    ("0004", "adding-not-nullable-field"): "api_usage.call_id filled and made NOT NULL in one transaction, "
    "on a table of a few thousand rows at the time",
    ("0004", "constraint-missing-not-valid"): "the same small table: validation took milliseconds",
    ("0004", "disallowed-unique-constraint"): "the same small table: the unique index built in milliseconds",
    ("0004", "ban-drop-column"): "the column dropped was unused by every query (checked by `datalayer check`)",
    ("0012", "require-concurrent-index-deletion"): "the index dropped was on a table created one migration before",
}


def main(directory: Path = ROOT / "migrations") -> int:
    """Lint every migration in `directory`; prints each finding outside the policy; 1 when there is one."""
    if not SQUAWK.exists():
        print(f"squawk is not installed in {SQUAWK.parent}: run `make lint` (it installs it with npm)")
        return 1
    failures = 0
    files = sorted(p for p in directory.glob("*.sql") if not p.stem.endswith(".rollback"))
    for path in files:
        number = path.name.split(".")[0]
        excluded = set(GLOBAL) | ({"require-concurrent-index-creation"} if number in NEW_TABLES else set())
        done = subprocess.run([str(SQUAWK), "--reporter", "gitlab", f"--exclude={','.join(sorted(excluded))}",
                               str(path)], capture_output=True, text=True, timeout=120)  # fmt: skip
        try:
            findings = json.loads(done.stdout or "[]")
        except json.JSONDecodeError:
            print(f"{path.name}: squawk could not read it: {done.stderr.strip() or done.stdout.strip()}")
            failures += 1
            continue
        for f in findings:
            if (number, f["check_name"]) in ACCEPTED:
                continue
            failures += 1
            print(
                f"{path.name}:{f['location']['lines']['begin'] + 1}: {f['check_name']}: {f['description']}"
            )  # 0-based
    print(f"squawk: {len(files)} migrations, {failures} finding(s) outside the policy")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
