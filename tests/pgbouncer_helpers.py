"""A PgBouncer of the test's own, in transaction pooling mode, in front of the server under test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.redis_helpers import free_port


def pgbouncer_missing() -> str | None:
    if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
        return "no pgbouncer binary (apt-get install pgbouncer); the PgBouncer test is skipped"
    return None


@dataclass
class PgBouncer:
    server_url: str
    pool_size: int = 5  # server connections per database and user
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="datalayer-pgbouncer-")))

    def url(self, database_url: str) -> str:
        """database_url, through this PgBouncer."""
        parts = urlsplit(database_url)
        creds = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit((parts.scheme, f"{creds}127.0.0.1:{self.port}", parts.path, parts.query, ""))

    def start(self) -> PgBouncer:
        server = urlsplit(self.server_url)
        user = server.username or "postgres"
        (self.home / "users.txt").write_text(f'"{user}" ""\n')
        (self.home / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={server.hostname or '127.0.0.1'} port={server.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.home / 'users.txt'}\nadmin_users = {user}\n"
            f"pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = {self.pool_size}\n"
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.home / 'pgbouncer.log'}\npidfile = {self.home / 'pgbouncer.pid'}\n"
            # It also logs to stderr: never into a pipe nobody reads (a full pipe once froze it mid-suite).
            "log_connections = 0\nlog_disconnections = 0\n"
        )
        as_root = os.geteuid() == 0  # PgBouncer refuses to run as root
        if as_root:
            os.chmod(self.home, 0o777)
            for f in self.home.iterdir():
                os.chmod(f, 0o666)
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.proc = subprocess.Popen(
            [binary, str(self.home / "pgbouncer.ini")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            user="nobody" if as_root else None,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.home / "pgbouncer.log").read_text() if (self.home / "pgbouncer.log").exists() else ""
                    raise RuntimeError(f"pgbouncer did not start: {log[-2000:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        shutil.rmtree(self.home, ignore_errors=True)
