"""The Citus plan of datalayer/sharding.py stays true: every table is placed, every distribution column exists, and
every named query on a distributed table filters by its distribution column or is listed as multi-shard with why.

The SQL analysis is a heuristic over tokens, not a parser. It is meant to be strict: a filter is only an equality
(or `= ANY(…)` / `IN (…)` of values) on the distribution column in a WHERE or ON clause, joined by AND to the rest
(an OR at any enclosing level voids it), or an INSERT that supplies the column, or an equality joining the column to
the distribution column of a co-located table that is filtered itself. Whatever it cannot prove is reported; a query
too clever for it is listed in `MULTI_SHARD` rather than the check made looser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from datalayer import queries, sharding
from datalayer.sharding import MULTI_SHARD, PLAN, Distributed

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ("twitter_bot", "chat_bot", "error_api", "reddit_bot", "discord_bot", "ops", "public")

# ---------------------------------------------------------------------------------------------------------------
# Tokens


def strip_sql(sql: str) -> str:
    """The SQL without comments, with every string literal replaced by `''` and quoted identifiers unquoted, so
    nothing inside a comment or a string can look like a table or a filter."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):  # line comment
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):  # block comment; PostgreSQL's nest
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif c == "'":  # 'string' ('' inside); E'…' strings may also escape with a backslash
            escapes = i > 0 and sql[i - 1] in "eE" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            if escapes:
                out.pop()  # the E prefix
            i += 1
            while i < n:
                if escapes and sql[i] == "\\":
                    i += 2
                elif sql[i] == "'" and sql.startswith("''", i):
                    i += 2
                elif sql[i] == "'":
                    i += 1
                    break
                else:
                    i += 1
            out.append(" '' ")
        elif c == '"':  # "identifier"
            j = sql.find('"', i + 1)
            out.append(sql[i + 1 : j])
            i = j + 1
        elif (m := re.compile(r"\$([A-Za-z_]\w*)?\$").match(sql, i)) is not None:  # $tag$ … $tag$ (not $1)
            j = sql.find(m.group(0), m.end())
            out.append(" '' ")
            i = n if j < 0 else j + len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<param>\$\d+)
    | (?P<string>'')
    | (?P<name>[A-Za-z_]\w*(?:\.(?:[A-Za-z_]\w*|\*))*)   # a dotted name is one token: schema.table, alias.column
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
    | (?P<op>::|<>|!=|<=|>=|->>|->|\|\||[=<>(),;+\-*/%\[\]:.@#~^&|!?])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # param, string, name, number, op
    text: str  # names and keywords lower-cased (our SQL quotes no mixed-case identifier)
    depth: int  # parenthesis depth


def tokenize(sql: str) -> list[Tok]:
    toks: list[Tok] = []
    depth, pos, text = 0, 0, strip_sql(sql)
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot tokenize {text[pos : pos + 30]!r}")
        pos, kind = m.end(), m.lastgroup or ""
        value = m.group(0).lower() if kind == "name" else m.group(0)
        if kind == "space":
            continue
        if value == ")":
            depth -= 1
        toks.append(Tok(kind, value, depth))
        if value == "(":
            depth += 1
    return toks


# Views of our schemas that named queries read (test_views_read_no_distributed_table keeps this list true).
VIEWS = frozenset({"ops.pg_stat_statements", "ops.pg_stat_statements_info"})

# Words after a table name that are not its alias.
NOT_ALIAS = frozenset(
    """as where join inner left right full cross natural lateral on using set group order limit offset for returning
    union intersect except window having fetch values select default tablesample with only when then else end and
    or not do""".split()
)
# Where a condition's clause begins or ends: scanning from an equality stops at one of these at the same depth.
CLAUSE = frozenset(
    """select from where on join group order having limit offset returning set values using window union intersect
    except with insert update delete for when then else case end do conflict filter over partition by""".split()
)


# ---------------------------------------------------------------------------------------------------------------
# Analysis


@dataclass(frozen=True, slots=True)
class Ref:
    """One occurrence of a planned table in a statement."""

    table: str  # schema.table
    alias: str | None
    at: int  # index of the table's token
    insert_target: bool

    @property
    def qualifiers(self) -> set[str]:
        """How a column of this occurrence may be written qualified."""
        return {self.alias} if self.alias else {self.table.split(".")[1], self.table}


def table_refs(toks: list[Tok], tables: set[str], views: frozenset[str] = frozenset()) -> list[Ref]:
    """Every occurrence of a planned table: a two-part name of one of our schemas that is not a function call (a
    following `(`) or a type (a preceding `::`); its alias is the next word unless that is a keyword. A view is
    skipped (test_views_read_no_distributed_table looks inside); any other name is an error: plan it."""
    refs = []
    for i, t in enumerate(toks):
        if t.kind != "name" or t.text.count(".") != 1 or t.text.split(".")[0] not in SCHEMAS:
            continue
        if i + 1 < len(toks) and toks[i + 1].text == "(" and toks[i - 1].text != "into":
            continue  # schema.function(…); INSERT INTO t (cols) is a table
        if i > 0 and toks[i - 1].text == "::":
            continue
        if t.text in views:
            continue
        if t.text not in tables:
            raise ValueError(f"{t.text} is referenced but not in the sharding plan (a view? plan it)")
        j = i + 1
        if j < len(toks) and toks[j].text == "as":
            j += 1
        alias = None
        if j < len(toks) and toks[j].kind == "name" and "." not in toks[j].text and toks[j].text not in NOT_ALIAS:
            alias = toks[j].text
        insert = i >= 2 and toks[i - 1].text == "into" and toks[i - 2].text in ("insert", "merge")
        refs.append(Ref(t.text, alias, i, insert))
    return refs


def matching_close(toks: list[Tok], i: int) -> int:
    """Index of the `)` closing the `(` at i (a parenthesis token has the depth outside it)."""
    return next(j for j in range(i + 1, len(toks)) if toks[j].text == ")" and toks[j].depth == toks[i].depth)


def enclosing_open(toks: list[Tok], i: int) -> int:
    """Index of the `(` of the group that holds token i, or -1 at the top level."""
    return next((j for j in range(i - 1, -1, -1) if toks[j].depth < toks[i].depth), -1)


def in_conjunctive_filter(toks: list[Tok], i: int) -> bool:
    """Is the comparison at token i a condition of a WHERE or ON clause that every row must meet: joined to the
    rest by AND only, at its own level and at every parenthesised level around it up to the clause keyword?"""
    lo, hi = i, i
    while True:
        depth = toks[lo].depth
        left = lo - 1  # back to the clause keyword at this level, or to the `(` that opens this level
        while left >= 0 and toks[left].depth >= depth:
            if toks[left].depth == depth:
                if toks[left].text == "or":
                    return False
                if toks[left].text in CLAUSE:
                    break
            left -= 1
        right = hi + 1  # on to the next clause keyword at this level, or to the `)` that closes it
        while right < len(toks) and toks[right].depth >= depth:
            if toks[right].depth == depth:
                if toks[right].text == "or":
                    return False
                if toks[right].text in CLAUSE or toks[right].text == ";":
                    break
            right += 1
        if left < 0:
            return False  # no clause keyword at all
        if toks[left].depth == depth:  # the clause keyword: WHERE or a join's ON, not an aggregate's FILTER (WHERE …)
            opener = enclosing_open(toks, left)
            return toks[left].text in ("where", "on") and not (opener > 0 and toks[opener - 1].text == "filter")
        # toks[left] is the `(` of a parenthesised condition: it counts only as a condition itself (after AND,
        # WHERE, ON or another `(`), not as a function's argument, IN (…), ANY (…), EXISTS (…) or NOT (…).
        if left == 0 or toks[left - 1].text not in ("and", "where", "on", "("):
            return False
        lo, hi = left, matching_close(toks, left)


def value_end(toks: list[Tok], j: int) -> int | None:
    """If a plain value starts at token j (a parameter, a literal, `ANY(…)` or `ARRAY[…]` of those, each with
    casts), the index just after it; else None. A column or a subquery is not a value a router can prune with."""
    if j >= len(toks):
        return None
    t = toks[j]
    if t.kind in ("param", "string", "number"):
        end = j + 1
    elif t.text in ("any", "array") and j + 1 < len(toks) and toks[j + 1].text in ("(", "["):
        if toks[j + 1].text == "(":
            close = matching_close(toks, j + 1)
        else:  # brackets do not change the depth
            close = next(k for k in range(j + 2, len(toks)) if toks[k].text == "]" and toks[k].depth == t.depth)
        inner = toks[j + 2 : close]
        for k, x in enumerate(inner):  # only values, casts and the word ARRAY: no column, no SELECT
            if x.kind == "name" and x.text != "array" and (k == 0 or inner[k - 1].text != "::"):
                return None
        end = close + 1
    else:
        return None
    while end + 1 < len(toks) and toks[end].text == "::":  # casts: $1::bigint, $1::bigint[]
        end += 2
        while end + 1 < len(toks) and toks[end].text == "[" and toks[end + 1].text == "]":
            end += 2
    return end


def is_column(tok: Tok, ref: Ref, column: str, *, qualified: bool = False) -> bool:
    """Is the token this occurrence's column: qualified by its alias (or its table's name), or unqualified."""
    if tok.kind != "name":
        return False
    qualifier, _, name = tok.text.rpartition(".")
    return name == column and (qualifier in ref.qualifiers or (qualifier == "" and not qualified))


@dataclass(frozen=True, slots=True)
class Statement:
    toks: list[Tok]
    refs: list[Ref]
    plan: dict[str, Distributed]
    defaulted: frozenset[str]  # tables whose distribution column has a default (a sequence): an INSERT may omit it


def filtered(st: Statement, ref: Ref, seen: frozenset[int]) -> bool:
    """Does the statement route this occurrence of a distributed table to one shard (or hash each row it writes)?"""
    toks, refs, plan = st.toks, st.refs, st.plan
    placement = plan[ref.table]
    column = placement.column
    if ref.insert_target:
        # INSERT INTO t [AS a] (columns…) VALUES / SELECT: the column is supplied, each row goes to its shard; or
        # left to its default (the coordinator takes nextval first). A generated column is neither.
        j = ref.at + 1
        while j < len(toks) and toks[j].text != "(" and toks[j].text in ("as", ref.alias):
            j += 1
        if j < len(toks) and toks[j].text == "(":
            listed = {t.text for t in toks[j + 1 : matching_close(toks, j)]}
            return column in listed or ref.table in st.defaulted
        return True  # no column list: every column, the distribution column among them
    for i, t in enumerate(toks):
        if t.text not in ("=", "in") or i == 0 or i + 1 >= len(toks) or not in_conjunctive_filter(toks, i):
            continue
        if t.text == "in":  # column IN (values…)
            if is_column(toks[i - 1], ref, column) and toks[i - 2].text != "not" and toks[i + 1].text == "(":
                inner = toks[i + 2 : matching_close(toks, i + 1)]
                values = [x for x in inner if x.text != ","]
                if values and all(x.kind in ("param", "string", "number") for x in values):
                    return True
            continue
        if is_column(toks[i - 1], ref, column) and toks[i - 2].text != "not":  # column = …
            if value_end(toks, i + 1) is not None:
                return True
            other = i + 1
        elif is_column(toks[i + 1], ref, column):  # … = column
            if toks[i - 1].kind in ("param", "string", "number"):
                return True
            other = i - 1
        else:
            continue
        # column = peer.column, where peer is a co-located distributed table filtered itself.
        for peer in refs:
            peer_plan = plan.get(peer.table)
            if (
                peer.at != ref.at
                and peer.at not in seen
                and peer_plan is not None
                and peer_plan.group == placement.group
                and is_column(toks[other], peer, peer_plan.column, qualified=True)
                and filtered(st, peer, seen | {ref.at})
            ):
                return True
    return False


def unfiltered(
    sql: str,
    defaulted: frozenset[str],
    plan: dict[str, Distributed] | None = None,
    views: frozenset[str] = VIEWS,
) -> list[str]:
    """The distributed tables of one statement that it does not route to one shard (see the module's doc)."""
    plan = sharding.distributed() if plan is None else plan
    toks = tokenize(sql)
    refs = table_refs(toks, set(PLAN) | set(plan), views)
    st = Statement(toks, refs, plan, defaulted)
    return sorted({r.table for r in refs if r.table in plan and not filtered(st, r, frozenset())})


# ---------------------------------------------------------------------------------------------------------------
# The plan against the schema


@dataclass(frozen=True, slots=True)
class Column:
    type: str
    not_null: bool
    defaulted: bool  # a default or an identity (not a generated column)


async def catalog(conn: asyncpg.Connection) -> dict[str, dict[str, Column]]:
    """Every table (not partition) of our schemas: qualified name → its columns."""
    rows = await conn.fetch(
        """
        SELECT n.nspname || '.' || c.relname AS name, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
               a.attnotnull, (a.atthasdef AND a.attgenerated = '') OR a.attidentity <> '' AS defaulted
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        """,
        list(SCHEMAS),
    )
    tables: dict[str, dict[str, Column]] = {}
    for r in rows:
        tables.setdefault(r["name"], {})[r["attname"]] = Column(r["type"], r["attnotnull"], r["defaulted"])
    return tables


def defaulted_tables(tables: dict[str, dict[str, Column]]) -> frozenset[str]:
    plan = sharding.distributed()
    return frozenset(
        name
        for name, p in plan.items()
        if name in tables and p.column in tables[name] and tables[name][p.column].defaulted
    )


async def test_every_table_is_planned_and_every_planned_table_exists(conn: asyncpg.Connection) -> None:
    tables = set(await catalog(conn))
    assert not tables - set(PLAN), "tables missing from datalayer/sharding.py PLAN (add a placement)"
    assert not set(PLAN) - tables, "tables in datalayer/sharding.py PLAN that do not exist"


async def test_distribution_columns_exist_share_their_group_type_and_are_never_null(conn: asyncpg.Connection) -> None:
    tables = await catalog(conn)
    types: dict[str, set[str]] = {}
    for name, p in sharding.distributed().items():
        columns = tables[name]
        if p.add_column:  # the Citus migration adds it: it must not exist yet, and the plan must say so
            assert p.column not in columns, f"{name}.{p.column} exists: drop add_column from the plan"
            assert any(c.startswith(f"add {p.column}") for c in p.changes), name
            continue
        assert p.column in columns, f"{name} has no column {p.column}"
        types.setdefault(p.group, set()).add(columns[p.column].type)
        if not columns[p.column].not_null:  # Citus refuses a NULL distribution value
            assert any(f"{p.column} becomes NOT NULL" in c for c in p.changes), f"{name}.{p.column} may be NULL"
    for group, found in types.items():
        assert len(found) == 1, f"co-location group {group} mixes column types {found}"


async def test_every_query_on_a_distributed_table_filters_by_its_column_or_is_listed(conn: asyncpg.Connection) -> None:
    defaulted = defaulted_tables(await catalog(conn))
    loaded = queries.load()
    unlisted, stale, checked, routed = [], [], 0, 0
    for name, q in sorted(loaded.items()):
        toks = tokenize(q.sql)
        if not any(r.table in sharding.distributed() for r in table_refs(toks, set(PLAN), VIEWS)):
            continue
        checked += 1
        missing = unfiltered(q.sql, defaulted)
        if missing and name not in MULTI_SHARD:
            unlisted.append(f"{name}: {', '.join(missing)} (filter by the distribution column, or list it)")
        elif not missing:
            routed += 1
            if name in MULTI_SHARD:
                stale.append(f"{name} filters by the distribution column of every distributed table it reads")
    assert not unlisted, "queries that would span shards, not in MULTI_SHARD:\n  " + "\n  ".join(unlisted)
    assert not stale, "MULTI_SHARD lists queries that route to one shard:\n  " + "\n  ".join(stale)
    assert not set(MULTI_SHARD) - set(loaded), f"MULTI_SHARD names unknown queries: {set(MULTI_SHARD) - set(loaded)}"
    assert all(why.strip() for why in MULTI_SHARD.values())
    assert checked == routed + len(MULTI_SHARD) and checked > 100


async def test_views_read_no_distributed_table(conn: asyncpg.Connection) -> None:
    """The views named queries read are views, and none hides a distributed table from the check above."""
    for view in VIEWS:
        definition = await conn.fetchval("SELECT pg_get_viewdef($1::regclass)", view)
        assert definition is not None, view
        assert not {r.table for r in table_refs(tokenize(definition), set(PLAN))} & set(sharding.distributed())


# ---------------------------------------------------------------------------------------------------------------
# The checker itself: it must be able to fail

EVENTS = frozenset({"discord_bot.guilds"})  # guild_id has no default; stands in for the catalog's answer


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM discord_bot.events WHERE message_id = $1",  # a unique key, not the distribution column
        "SELECT * FROM discord_bot.events AS e WHERE e.guild_id = $1 OR e.is_paused",  # OR voids it
        "SELECT * FROM discord_bot.events AS e WHERE (e.guild_id = $1 OR true) AND e.id = $2",
        "SELECT * FROM discord_bot.events AS e WHERE NOT (e.guild_id = $1)",
        "SELECT * FROM discord_bot.events e WHERE coalesce(e.guild_id = $1, true)",  # a function's argument
        "SELECT e.guild_id = $1 AS mine FROM discord_bot.events AS e",  # in the select list
        "SELECT count(*) FILTER (WHERE e.guild_id = $1) FROM discord_bot.events AS e",
        "SELECT * FROM discord_bot.events AS e WHERE e.guild_id <> $1",
        "SELECT * FROM discord_bot.events AS e WHERE e.guild_id = ANY(SELECT guild_id FROM x)",
        "SELECT * FROM discord_bot.events AS e, discord_bot.events AS f WHERE e.guild_id = $1",  # f unfiltered
        "SELECT * FROM discord_bot.events AS e WHERE x.guild_id = $1",  # another alias's column
        "SELECT * FROM discord_bot.events AS e JOIN discord_bot.guilds g ON g.guild_id = e.guild_id",  # neither
        "WITH c AS (SELECT $1 AS guild_id) UPDATE discord_bot.events AS e SET title = '' FROM c "
        "WHERE e.guild_id = c.guild_id",  # a CTE's column is not a parameter
        "INSERT INTO discord_bot.events (message_id, title) VALUES ($1, $2)",  # the column not supplied
        "DELETE FROM discord_bot.events WHERE created_at < $1 -- AND guild_id = $2",  # a comment is not a filter
        "SELECT * FROM discord_bot.events WHERE title = 'guild_id = 1'",  # nor a string
        "SELECT * FROM discord_bot.events WHERE title = $x$ AND guild_id = $1 $x$",  # nor a dollar-quoted one
    ],
)
def test_the_checker_flags_a_query_without_the_filter(sql: str) -> None:
    assert "discord_bot.events" in unfiltered(sql, EVENTS)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM discord_bot.events WHERE guild_id = $1 AND message_id = $2",
        "SELECT * FROM discord_bot.events AS e WHERE e.id = $2 AND e.guild_id = $1::bigint",
        "SELECT * FROM discord_bot.events e WHERE (e.is_paused OR e.title = '') AND ($1 = e.guild_id)",
        "SELECT * FROM discord_bot.events WHERE events.guild_id = ANY($1::bigint[])",
        "SELECT * FROM discord_bot.events WHERE guild_id IN ($1, $2)",
        "UPDATE discord_bot.events AS e SET title = $2 WHERE e.guild_id = $1 RETURNING e.id",
        "INSERT INTO discord_bot.events AS e (guild_id, message_id) SELECT * FROM unnest($1::bigint[], $2::bigint[])",
        "SELECT * FROM discord_bot.guilds AS g JOIN discord_bot.events AS e ON e.guild_id = g.guild_id "
        "WHERE g.guild_id = $1",  # joined on the column to a co-located table that is filtered
    ],
)
def test_the_checker_accepts_a_query_with_the_filter(sql: str) -> None:
    assert unfiltered(sql, EVENTS) == []


def test_the_checker_refuses_a_table_missing_from_the_plan() -> None:
    with pytest.raises(ValueError, match="not in the sharding plan"):
        unfiltered("SELECT * FROM discord_bot.new_table WHERE guild_id = $1", EVENTS)


def test_a_default_distribution_column_may_be_left_out_of_an_insert() -> None:
    sql = "INSERT INTO chat_bot.users (telegram_id) VALUES ($1)"
    assert unfiltered(sql, frozenset()) == ["chat_bot.users"]
    assert unfiltered(sql, frozenset({"chat_bot.users"})) == []


# ---------------------------------------------------------------------------------------------------------------
# The README's table is the plan


def test_the_readme_table_is_the_plan() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Scaling out") : readme.index("## Performance")]
    rows = dict(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| ([^|]+) \|", section, re.MULTILINE))
    for name, p in PLAN.items():
        if isinstance(p, Distributed):
            want = f"distributed by `{p.column}`{' (to add)' if p.add_column else ''}, group `{p.group}`"
        else:
            want = p.kind
        assert rows.get(name, "").strip() == want, (name, rows.get(name), want)
    assert set(rows) == set(PLAN)
    listed = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", section[section.index("### Multi-shard") :]))
    assert set(MULTI_SHARD) <= listed, set(MULTI_SHARD) - listed
