from __future__ import annotations

from pathlib import Path

import pytest

from datalayer.config import Settings, load_settings, mask_url
from datalayer.errors import InvalidData


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
    """A DatalayerError naming the variable, never a pydantic ValidationError, never the value."""
    monkeypatch.setenv("DATALAYER_POOL_MAX_SIZE", "zero")
    with pytest.raises(InvalidData, match="DATALAYER_POOL_MAX_SIZE: Input should be a valid integer"):
        Settings()
    monkeypatch.delenv("DATALAYER_POOL_MAX_SIZE")
    for secret, shown in (("short-secret", 12), (" " * 40, 0), ("x" * 31 + " ", 31)):
        monkeypatch.setenv("DATALAYER_API_KEY_SECRET", secret)
        with pytest.raises(InvalidData, match=rf"DATALAYER_API_KEY_SECRET must be at least 32 .*it has {shown}\)"):
            Settings()
    monkeypatch.setenv("DATALAYER_API_KEY_SECRET", "€" * 32)  # characters are counted, not bytes
    assert Settings().api_key_secret is not None
    monkeypatch.delenv("DATALAYER_API_KEY_SECRET")
    for url, problem in (("redis://127.0.0.1:6379/xyz", "must be a database number"), ("redis://", "names no host")):
        monkeypatch.setenv("REDIS_URL", url)
        with pytest.raises(InvalidData, match=f"^invalid settings: REDIS_URL .*{problem}"):
            Settings()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://u:pw@h:abc/db", "port 'abc' is not a number from 1 to 65535"),
        ("postgresql://u:pw@h:99999/db", "port '99999' is not a number"),
        ("postgresql://u:pw@h:-1/db", "port '-1' is not a number"),
        ("postgresql://u:pw@[::1/db", "Invalid IPv6 URL"),
        ("postgresql://u:pw@host with space/db", "host 'host with space' is not a host name"),
        ("postgresql://u:pw@h/a/b", "holds a '/'"),
        ("postgresql://u@h:abc/db?password=pw", "port 'abc'"),
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
        if "u:pw@" in url:
            assert "u:***@" in result.output
        elif "u@" in url:
            assert "u@" in result.output and ":***@" not in result.output  # no invented password
    flag = CliRunner().invoke(main, ["--database-url", url, "db", "url"], env={"DATABASE_URL": None})
    assert flag.exit_code == 2 and "--database-url" in flag.output and problem in flag.output, flag.output
    assert "pw" not in flag.output.replace("postgresql", "").replace("postgres", "")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:s3cret@127.0.0.1:1/x",
        "postgresql://postgres@127.0.0.1:1/x?password=s3cret",
        "postgresql://postgres@127.0.0.1:1/x?sslmode=disable&password=s3cret&connect_timeout=2",
        "postgresql://postgres:s3cret@127.0.0.1:1,127.0.0.1:2/x",
        "postgresql//postgres:s3cret@127.0.0.1:1/x",  # not a URL at all: a typo in the scheme
        "postgresql:/postgres:s3cret@127.0.0.1:1/x",
        "postgres ql://postgres:s3cret@127.0.0.1:1/x",
    ],
)
def test_no_password_is_ever_shown(url: str) -> None:
    """Wherever the URL is shown (db url, errors, health, --json), in the user part or the query string."""
    from click.testing import CliRunner

    from datalayer.cli import main
    from datalayer.config import mask_url, split_password

    assert "s3cret" not in mask_url(url)
    if url.startswith("postgresql://"):  # a real URL: its password can be taken out
        stripped, password = split_password(url)
        assert password == "s3cret" and "s3cret" not in stripped and "password=" not in stripped
    env = {"DATABASE_URL": url, "DATALAYER_CONNECT_TIMEOUT": "2"}
    for args in (["db", "url"], ["health", "--quick", "--json"], ["health", "--quick"], ["migrate", "--list"],
                 ["check", "--json"], ["twitter", "status", "--json"]):  # fmt: skip
        result = CliRunner().invoke(main, args, env=env)
        assert "s3cret" not in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_multi_host_url_is_accepted() -> None:
    from datalayer.config import url_problem

    assert url_problem("postgresql://u:p@h1:5432,h2:5433/db") is None
    assert url_problem("postgresql://u@[::1]:5432,h2/db") is None


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"DATALAYER_POOL_MIN_SIZE": "20"}, "DATALAYER_POOL_MIN_SIZE (20) is larger than DATALAYER_POOL_MAX_SIZE (10)"),
        ({"DATALAYER_POOL_MAX_SIZE": "abc"}, "DATALAYER_POOL_MAX_SIZE"),
        ({"DATALAYER_STATEMENT_CACHE_SIZE": "-1"}, "DATALAYER_STATEMENT_CACHE_SIZE"),
        ({"DATALAYER_HOME": "/etc/passwd"}, "DATALAYER_HOME: Value error, /etc/passwd is a file"),
    ],
)
def test_bad_settings_name_their_variable(env: dict[str, str], complaint: str) -> None:
    from click.testing import CliRunner

    from datalayer.cli import main

    result = CliRunner().invoke(main, ["db", "url"], env=env)
    assert result.exit_code == 1, result.output
    assert complaint.replace("Value error, ", "") in result.output and "Traceback" not in result.output


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
