"""Query files follow the house conventions; the row builder is exactly pydantic's validation, only faster."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from datalayer import queries as q
from datalayer.check import import_repositories
from datalayer.twitter_bot import SystemState, Translation, Tweet

VERBS = ("get_", "list_", "create_", "update_", "delete_", "count_", "search_", "claim_", "set_", "upsert_", "mark_",
         "save_", "approve_", "rollback_", "retry_", "log_", "import_", "ensure_", "drop_", "check_", "put_", "purge_",
         "advance_", "increment_", "touch_", "record_", "lock_", "unlock_", "ping", "add_", "reset_",
         "release_", "remove_", "replace_", "authenticate_", "deactivate_", "revoke_", "restore_",
         "allow_", "add_", "record_", "expire_", "close_", "start_", "refresh_", "append_", "erase_", "export_", "resolve_",
         "find_", "rollup_")  # fmt: skip


def test_every_query_is_named_documented_and_declares_parameters() -> None:
    for name, query in q.load().items():
        short = name.rsplit(".", 1)[-1]
        assert re.fullmatch(r"[a-z][a-z0-9_]*", short), name
        assert short.startswith(VERBS) or short.endswith(("_stats", "_rate", "_percentiles",
                                                           "_today", "_errors", "_by_period")), f"{name}: not a verb name"  # fmt: skip
        assert query.doc.strip(), f"{name} ({query.source}) has no -- doc line"
        assert len(set(query.params)) == len(query.params), name


def test_every_query_is_bound_by_a_repository() -> None:
    import_repositories()
    assert set(q.load()) == set(q.REGISTRY)


NOW = datetime(2026, 11, 1, tzinfo=UTC)
TWEET = {"id": 1, "author_id": 2, "author_username": "a", "text": "hi", "created_at": NOW, "character_count": 2,
         "language": "en", "processed_at": NOW, "metadata": {"k": [1, {"x": None}]}, "fetched_at": NOW}  # fmt: skip


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (Tweet, TWEET),
        (Tweet, {**TWEET, "language": None, "processed_at": None}),  # NULLs take the validating path
        (SystemState, {"key": "k", "value": [1, "a"], "updated_at": NOW}),
        (Translation, {"id": 1, "tweet_id": 1, "target_language": "es", "status": "posted", "translated_text": "hola",
                       "confidence": 0.5, "posted_tweet_id": 9, "retry_count": 0, "last_error": "x", "claimed_by": "w",
                       "claimed_until": NOW, "claim_id": None, "created_at": NOW, "updated_at": NOW}),
    ],
)  # fmt: skip
def test_row_builder_equals_validation(model: type, row: dict[str, object]) -> None:
    built = q.row_builder(model)(row)
    validated = model.model_validate(row)
    assert built == validated and type(built) is model
    assert built.model_dump() == validated.model_dump() and built.model_fields_set == validated.model_fields_set
    with pytest.raises(ValidationError):
        built.id = 5  # frozen, like a validated instance


def test_row_builder_rejects_what_validation_rejects() -> None:
    build = q.row_builder(Tweet)
    with pytest.raises(ValidationError, match="author_username"):
        build({**TWEET, "author_username": None})  # NULL in a non-optional field
    with pytest.raises(ValidationError, match="extra"):
        build({**TWEET, "surprise": 1})  # a column the model does not know
    with pytest.raises(ValidationError, match="fetched_at"):
        build({k: v for k, v in TWEET.items() if k != "fetched_at"})
    with pytest.raises(ValidationError, match="fetched_at"):
        build({**{k: v for k, v in TWEET.items() if k != "fetched_at"}, "fetched": NOW})  # same width, other name


def test_none_is_only_checked_where_the_model_forbids_it() -> None:
    from datalayer.queries import _admits_none

    assert {n for n, f in Tweet.model_fields.items() if _admits_none(f.annotation)} == {"language", "processed_at"}
    assert _admits_none(SystemState.model_fields["value"].annotation)  # JsonValue includes null


def test_a_placeholder_the_query_does_not_declare_is_a_clear_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiosql reads `[1:5]` as a parameter `:5`; loading says so instead of failing later with a ValueError."""
    (tmp_path / "queries" / "demo").mkdir(parents=True)
    (tmp_path / "queries" / "demo" / "things.sql").write_text(
        "-- name: list_firsts(now)\n-- Up to five names.\nSELECT (array_agg(name))[1:5] FROM demo.t WHERE at < :now;\n"
    )
    monkeypatch.setattr(q, "queries_dir", lambda: tmp_path / "queries")
    with pytest.raises(
        TypeError, match=r"demo.list_firsts \(queries/demo/things.sql:1\) uses :5 but declares only \['now'\]"
    ):
        q.load.__wrapped__()
