"""Dynamic filters (datalayer.filters) over chat_bot users: whitelisted columns, bound values, keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from datalayer import Database, InvalidData
from datalayer.chat_bot import CreateUserParams, Filter, Page, Sort, UserRepository, UserUpdate
from datalayer.chat_bot.users import USER_FILTERS


async def seeded(db: Database) -> list[int]:
    users = UserRepository(db)
    made = await users.create_many([
        CreateUserParams(telegram_id=500_000 + n, username=f"filter_{n:03d}", first_name="Ada" if n % 2 else "Bob",
                         language_code="en" if n % 3 else "de", is_premium=n % 4 == 0)
        for n in range(60)
    ])  # fmt: skip
    await users.update_many([UserUpdate(id=u.id, is_active=False) for u in made[:5]])
    return [u.id for u in made]


async def test_the_seed_example_filters_sorts_and_pages(db: Database) -> None:
    ids = await seeded(db)
    users = UserRepository(db)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    result = await users.find(
        [Filter(column="is_active", op="eq", value=True), Filter(column="created_at", op="ge", value=week_ago),
         Filter(column="telegram_id", op="ge", value=500_000)],
        [Sort(column="telegram_id", direction="desc")],
        Page(size=20, number=1),
    )  # fmt: skip
    assert [u.telegram_id for u in result.items] == [500_059 - n for n in range(20)] and result.has_more
    page3 = await users.find(
        [Filter(column="telegram_id", op="ge", value=500_000)], [Sort(column="telegram_id")], Page(size=25, number=3)
    )
    assert [u.id for u in page3.items] == ids[50:] and not page3.has_more
    assert len((await users.find([Filter(column="is_premium", op="eq", value=True),
                                  Filter(column="telegram_id", op="ge", value=500_000)])).items) == 15  # fmt: skip
    de = await users.find(
        [Filter(column="language_code", op="in", value=["de"]), Filter(column="telegram_id", op="ge", value=500_000)],
        page=Page(size=100),
    )
    assert len(de.items) == 20
    like = await users.find([Filter(column="username", op="like", value="filter_00%")])
    assert len(like.items) == 10
    nulls = await users.find(
        [Filter(column="last_name", op="is_null", value=True), Filter(column="telegram_id", op="ge", value=500_000)],
        page=Page(size=100),
    )
    assert len(nulls.items) == 60


async def test_keyset_pages_walk_everything_once(db: Database) -> None:
    await seeded(db)
    users = UserRepository(db)
    seen: list[int] = []
    page = Page(size=7)
    while True:
        result = await users.find(
            [Filter(column="telegram_id", op="ge", value=500_000)], [Sort(column="id", direction="desc")], page
        )
        seen += [u.id for u in result.items]
        if result.next_cursor is None:
            break
        page = Page(size=7, after=result.next_cursor)
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 60


@pytest.mark.parametrize(
    ("filters", "sorts", "page", "complaint"),
    [
        ([Filter(column="password", op="eq", value="x")], [], None, "unknown filter column 'password'"),
        ([Filter(column="id; DROP TABLE chat_bot.users", op="eq", value=1)], [], None, "unknown filter column"),
        ([], [Sort(column="preferences")], None, "unknown sort column 'preferences'"),
        ([Filter(column="message_count", op="gt", value="10")], [], None, "filter value for message_count"),
        ([Filter(column="is_active", op="eq", value=1)], [], None, "filter value for is_active"),
        ([Filter(column="username", op="eq", value=None)], [], None, "use is_null"),
        ([Filter(column="message_count", op="like", value="1%")], [], None, "like applies to text columns"),
        ([Filter(column="id", op="in", value=[])], [], None, "a list of 1 to 1000"),
        ([Filter(column="id", op="is_null", value=True)], [], None, "id is never null"),
        ([], [Sort(column="id"), Sort(column="created_at", direction="desc")], None, "one sort direction"),
        ([], [Sort(column="username")], None, "cannot sort on a nullable column"),
        ([], [], Page(after="not-a-cursor"), "invalid page cursor"),
        ([], [], Page(number=10_000, size=1000), "too deep"),
    ],
)
async def test_bad_filters_are_invalid_data_naming_what_was_wrong(db: Database, filters: list[Filter], sorts: list[Sort],
                                                                  page: Page | None, complaint: str) -> None:  # fmt: skip
    with pytest.raises(InvalidData, match=complaint):
        await UserRepository(db).find(filters, sorts, page)


def test_op_names_are_closed_and_values_never_reach_the_sql_text() -> None:
    with pytest.raises(Exception, match="op"):
        Filter(column="id", op="; DROP", value=1)  # type: ignore[arg-type]
    bound, values, _order, _keyset = USER_FILTERS.build(
        [Filter(column="username", op="eq", value="x'; DROP TABLE chat_bot.users; --")], [], Page()
    )
    assert "DROP" not in bound.sql and values[0] == "x'; DROP TABLE chat_bot.users; --"
    assert bound.sql.startswith("SELECT /* chat_bot.find_users */")  # counted and visible under the base query's name
