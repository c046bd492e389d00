"""Aggregate `tools` (queries/backup/tools.sql): the server's version, and the PostgreSQL client programs of that
version (pg_dump, pg_restore, pg_basebackup …), run as subprocesses that never see a password on their command
line and never outlive their caller."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import glob
import os
import re
import signal
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from datalayer import queries as q
from datalayer.config import mask_url, split_password
from datalayer.errors import Unavailable
from datalayer.repository import Repository, Row


class ServerInfo(Row):
    version_num: int
    version: str
    database: str
    user_name: str
    server_time: datetime

    @property
    def major(self) -> int:
        return self.version_num // 10000


_INFO = q.one("backup.get_server_info", ServerInfo)


class ServerRepository(Repository):
    async def info(self) -> ServerInfo:
        """Version, database, user and clock of the server this runs on."""
        row = await self._x.one(_INFO)
        assert row is not None  # one row, always
        return row


# -- progress ----------------------------------------------------------------------------------------------------
class Progress(Protocol):
    """Told how a long step advances: `stage` names it ("dump", "fingerprints" …), `total` is None when unknown,
    `detail` says what it is on (a table name). The CLI draws it; the library never prints."""

    def __call__(self, stage: str, completed: float, total: float | None, detail: str = "") -> None: ...


def no_progress(stage: str, completed: float, total: float | None, detail: str = "") -> None:
    """A Progress that shows nothing."""


# -- client programs ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tool:
    name: str
    path: Path
    version: str  # "18.6", "15.20"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def search_places() -> list[Path]:
    """Where client programs are looked for, in this order: the embedded wheel, every installed
    /usr/lib/postgresql/<major>/bin (Debian, Ubuntu), then each folder of PATH."""
    from datalayer.embedded import bin_dir

    places = [bin_dir()]
    places += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    places += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    seen: list[Path] = []
    for place in places:
        if place not in seen:
            seen.append(place)
    return seen


_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)*)")


@functools.cache
def tool_version(path: Path) -> str | None:
    """`18.6` from `pg_dump (PostgreSQL) 18.6`, or None when `path` does not run or says something else."""
    try:
        done = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(done.stdout)
    return match.group(1) if done.returncode == 0 and match else None


def find_tool(name: str, major: int, server: str = "the server") -> Tool:
    """The client program `name` of PostgreSQL `major`: a dump made by a newer pg_dump cannot be read by the
    server's own pg_restore, and an older one cannot dump a newer server. Unavailable, naming the server's
    version, the places searched and the versions found there, when there is none."""
    found: list[str] = []
    for place in search_places():
        path = place / name
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        version = tool_version(path)
        if version is None:
            continue
        if int(version.split(".")[0]) == major:
            return Tool(name, path, version)
        found.append(f"{version} in {place}")
    places = ", ".join(str(p) for p in search_places())
    others = f"; found only {', '.join(found)}" if found else ""
    raise Unavailable(
        f"no {name} of PostgreSQL {major} found, the major version of {server}: searched {places}{others}. "
        f"Install the PostgreSQL {major} client programs (e.g. apt-get install postgresql-client-{major}) or put "
        "their folder on PATH"
    )


@contextlib.contextmanager
def libpq_target(url: str, *, application_name: str, connect_timeout: float) -> Iterator[tuple[str, dict[str, str]]]:
    """The URL without its password and an environment for a libpq program: the password, when there is one,
    goes into a private temporary password file (PGPASSFILE), never onto the command line where `ps` shows it."""
    bare, password = split_password(url)
    env = {**os.environ, "PGAPPNAME": application_name, "PGCONNECT_TIMEOUT": str(max(2, round(connect_timeout)))}
    if password is None:
        yield bare, env
        return
    env.pop("PGPASSWORD", None)
    handle, name = tempfile.mkstemp(prefix="datalayer-pgpass-")  # 0600, readable by this user only
    try:
        escaped = password.replace("\\", "\\\\").replace(":", "\\:")
        with os.fdopen(handle, "w") as passfile:
            passfile.write(f"*:*:*:*:{escaped}\n")
        env["PGPASSFILE"] = name
        yield bare, env
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


@dataclass(frozen=True)
class ToolRun:
    tool: Tool
    seconds: float
    lines: list[str]  # the last lines it wrote to stderr


async def run_tool(
    tool: Tool,
    args: Sequence[str],
    env: dict[str, str],
    *,
    on_line: Callable[[str], None] | None = None,
    tool_timeout: float | None = None,
    url: str = "",
) -> ToolRun:
    """Run `tool` with `args`; each line it writes to stderr (split at \\r too: progress counters) goes to
    `on_line`. A failure, a timeout or a cancellation is an `Unavailable` naming the program and its error
    lines; the process never outlives this call (it is killed, with its process group)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        proc = await asyncio.create_subprocess_exec(
            str(tool.path), *args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise Unavailable(f"cannot run {tool.path}: {exc}") from exc
    tail: deque[str] = deque(maxlen=200)

    async def read() -> None:
        assert proc.stderr is not None
        pending = b""
        while chunk := await proc.stderr.read(65536):
            parts = re.split(rb"[\r\n]", pending + chunk)
            pending = parts.pop()
            for raw in parts:
                line = raw.decode(errors="replace").rstrip()
                if line:
                    tail.append(line)
                    if on_line is not None:
                        on_line(line)
        if pending.strip():
            tail.append(pending.decode(errors="replace").rstrip())

    try:
        await asyncio.wait_for(asyncio.gather(read(), proc.wait()), tool_timeout)
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        raise Unavailable(f"{tool.name} did not finish within {tool_timeout:g} s and was stopped") from None
    finally:
        if proc.returncode is None:  # cancelled (Ctrl-C) or failed while reading: never leave it running
            _kill(proc)
            with contextlib.suppress(BaseException):
                await asyncio.shield(proc.wait())
    lines = list(tail)
    if proc.returncode != 0:
        raise Unavailable(f"{tool.name} failed (exit {proc.returncode}): {error_text(lines, url)}")
    return ToolRun(tool, loop.time() - started, lines)


def error_text(lines: list[str], url: str = "") -> str:
    """The lines that say what went wrong (`error:`, `FATAL`, `could not`), else the last few; URLs masked."""
    wanted = [line for line in lines if re.search(r"error:|FATAL|could not|fatal:|failed", line)]
    text = " / ".join((wanted or lines[-5:])[-8:]) or "no message"
    if url:
        text = text.replace(url, mask_url(url))
    return text


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
