from __future__ import annotations

import pytest

from datalayer.config import Settings, mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p%40ss@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:pw@[::1]:5433/db", "postgresql://u:***@[::1]:5433/db"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:topsecret@h/db")
    monkeypatch.setenv("DATALAYER_POOL_MAX_SIZE", "3")
    monkeypatch.setenv("DATALAYER_STATEMENT_CACHE_SIZE", "0")
    s = Settings()
    assert s.pool_max_size == 3 and s.statement_cache_size == 0
    assert s.database_url is not None and s.database_url.get_secret_value().endswith("/db")
    assert "topsecret" not in repr(s) and "topsecret" not in str(s.model_dump())
    assert s.with_overrides(pool_max_size=5, database_url=None).pool_max_size == 5


def test_bad_setting_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATALAYER_POOL_MAX_SIZE", "zero")
    with pytest.raises(ValueError, match="pool_max_size"):
        Settings()
