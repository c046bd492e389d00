from __future__ import annotations

from pathlib import Path

import pytest

from datalayer.config import Settings, load_settings, mask_url


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


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://u:pw@h:abc/db", "port could not be cast to integer"),
        ("postgresql://u:pw@h:99999/db", "port out of range"),
        ("postgresql://u:pw@[::1/db", "Invalid IPv6 URL"),
        ("postgres://", "names no database"),
        ("postgresql://u:pw@h:5432", "names no database"),
        ("postgresql://u:pw@h:5432/", "names no database"),
        ("mysql://u:pw@h/db", "is not postgresql://"),
    ],
)
def test_bad_database_url_is_one_clear_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    from click.testing import CliRunner

    from datalayer.cli import main

    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ValueError, match=problem):
        load_settings()
    for args in (["migrate"], ["health"], ["db", "url"], ["check"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and problem in lines[0] and "DATABASE_URL" in lines[0], result.output
        assert "pw" not in result.output.replace("postgresql", "").replace("postgres", "")
        assert "Traceback" not in result.output


def test_empty_database_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    assert load_settings().database_url is None
    monkeypatch.setenv("DATABASE_URL", "   ")
    assert load_settings().database_url is None


def test_flag_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://a@h/one")
    s = load_settings(database_url="postgresql://b@h/two", pool_max_size=3)
    assert s.database_url is not None and s.database_url.get_secret_value().endswith("/two")
    assert s.pool_max_size == 3


def test_default_home_is_the_checkout_from_any_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DATALAYER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    checkout = Path(__file__).resolve().parent.parent
    assert Settings().home == checkout / ".datalayer"
    monkeypatch.setenv("DATALAYER_HOME", str(tmp_path / "elsewhere"))
    assert Settings().home == tmp_path / "elsewhere"
