"""Tools that cause faults for real: a TCP proxy that cuts connections at a chosen moment of the PostgreSQL
protocol or misbehaves like a bad network (delay, a closed port, a black hole), a private network namespace for
a black hole the kernel sees (no ACK at all), and a killer that terminates backends with pg_terminate_backend."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import asyncpg

READY_FOR_QUERY = b"Z\x00\x00\x00\x05"  # ReadyForQuery (+ a status byte): a reply is complete


def _messages(marker: bytes) -> int:
    """Client messages of one statement: a simple-protocol one (COMMIT) is one; a named query through asyncpg's
    extended protocol is two (Parse/Describe/Flush carrying the SQL text, then Bind/Execute/Sync, which the
    server runs). Either way the reply ends with one ReadyForQuery."""
    return 1 if marker.startswith((b"COMMIT", b"BEGIN", b"ROLLBACK")) else 2


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    replies_left: int = 0  # after this many more complete replies, cut on the client's next message
    cut_on_send: bool = False
    mute: bool = False  # drop what the server sends: the caller never hears back
    sends_left: int = -1  # cut after forwarding this many more client messages (0: now)

    def abort(self) -> None:
        for w in (self.client, self.server):
            with contextlib.suppress(Exception):
                w.transport.abort()


Mode = Literal["forward", "drop", "black_hole"]


def _reset_at_once(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as a host answers a connection to a closed port."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class Proxy:
    """Forwards 127.0.0.1:<port> to the server. Network modes, switched at any time:

    - `delay(seconds)`: every chunk is forwarded `seconds` late, both ways (a request and its reply: 2 × seconds).
    - `drop()`: new connections are reset at once, like a closed port (open ones are left alone: `cut_all()`).
    - `black_hole()`: nothing is forwarded and nothing is closed, on open and on new connections (these are
      accepted, then hear nothing): the packets just stop. The peers' kernels still see this proxy's ACKs, so
      TCP keepalive cannot notice; `NetNamespace` makes a black hole the kernel sees.
    - `cut_all()`: reset every open connection now.
    - `heal()`: forward normally again; what a black hole held is delivered then, as TCP would retransmit it.

    Rules (each fires once, on the first match):

    - `cut_after_reply_to(marker)`: when a client message holding `marker` passes, forward the server's reply
      to the client, then drop both sides on the client's next message (the pool's reset on release): the
      caller got its answer, and putting the connection back fails.
    - `cut_before_reply_to(marker)`: forward the message to the server, then drop both sides at once: the
      server ran it, the caller never hears back.
    Use a Database with statement_cache_size=0 so every call sends its SQL text (and its name comment).
    """

    host: str
    port: int
    listen_port: int = 0
    cuts: int = 0
    netns: NetNamespace | None = None  # listen inside it (its clients connect from inside); the server is outside
    accepted: int = 0
    refused: int = 0
    mode: Mode = "forward"
    seconds_late: float = 0.0
    _after: bytes | None = None
    _before: bytes | None = None
    _pairs: set[_Pair] = field(default_factory=set)
    _held: set[asyncio.StreamWriter] = field(default_factory=set)  # accepted into a black hole, not yet paired
    _flowing: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False
    _server: asyncio.Server | None = None

    async def start(self) -> Proxy:
        self._flowing.set()
        with self.netns.entered() if self.netns is not None else contextlib.nullcontext():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._server = await asyncio.start_server(self._accept, sock=sock)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self

    def delay(self, seconds: float) -> None:
        self.heal()
        self.seconds_late = seconds

    def drop(self) -> None:
        self.heal()
        self.mode = "drop"

    def black_hole(self) -> None:
        self.heal()
        self.mode = "black_hole"
        self._flowing.clear()

    def heal(self) -> None:
        self.mode = "forward"
        self.seconds_late = 0.0
        self._flowing.set()

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        creds = f"{netloc[0]}@" if len(netloc) == 2 else ""
        query = "sslmode=disable" + (f"&{parts.query}" if parts.query else "")
        return urlunsplit((parts.scheme, f"{creds}127.0.0.1:{self.listen_port}", parts.path, query, ""))

    def cut_after_reply_to(self, marker: bytes) -> None:
        self._after = marker

    def cut_before_reply_to(self, marker: bytes) -> None:
        self._before = marker

    def cut_all(self) -> None:
        for pair in list(self._pairs):
            pair.abort()
        for writer in list(self._held):
            writer.transport.abort()

    async def close(self) -> None:
        self._closed = True
        self._flowing.set()  # what waits on a black hole wakes, sees the proxy closed, and ends
        self.cut_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _forward(self) -> bool:
        """Wait while black-holed, then the delay; False when the proxy closed meanwhile."""
        await self._flowing.wait()
        if self.seconds_late:
            await asyncio.sleep(self.seconds_late)
        return not self._closed

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.netns is None:
            return await asyncio.open_connection(self.host, self.port)
        with self.netns.left():  # the server is in this process's own namespace
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (self.host, self.port))
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "drop" or self._closed:
            self.refused += 1
            _reset_at_once(writer)
            return
        self.accepted += 1
        if not self._flowing.is_set():  # a black hole: accepted, then nothing (the client's bytes stay unread)
            self._held.add(writer)
            try:
                await self._flowing.wait()
            finally:
                self._held.discard(writer)
            if self._closed or writer.transport.is_closing():
                writer.transport.abort()
                return
        try:
            up_reader, up_writer = await self._open_upstream()
        except OSError:
            writer.transport.abort()
            return
        pair = _Pair(writer, up_writer)
        self._pairs.add(pair)
        pumps = [
            asyncio.create_task(self._to_server(reader, pair)),
            asyncio.create_task(self._to_client(up_reader, pair)),
        ]
        try:
            # When one side closes (a Terminate, a cut), close the other too, as a real network path would.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            pair.abort()
            self._pairs.discard(pair)

    async def _to_server(self, reader: asyncio.StreamReader, pair: _Pair) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if not await self._forward():
                    return
                if pair.cut_on_send:  # the caller has its reply; what it sends now (the pool's reset) dies
                    self.cuts += 1
                    pair.abort()
                    return
                if self._before is not None and self._before in data:
                    pair.sends_left = _messages(self._before) - 1
                    self._before = None
                elif pair.sends_left > 0:
                    pair.sends_left -= 1
                if self._after is not None and self._after in data:
                    pair.replies_left = 1
                    self._after = None
                if pair.sends_left == 0:
                    pair.mute = True
                pair.server.write(data)
                await pair.server.drain()
                if pair.sends_left == 0:
                    await asyncio.sleep(0.05)  # let the server take it before the cut
                    self.cuts += 1
                    pair.abort()
                    return

    async def _to_client(self, reader: asyncio.StreamReader, pair: _Pair) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if not await self._forward():
                    return
                if pair.replies_left:  # before forwarding: the client may answer at once
                    pair.replies_left = max(0, pair.replies_left - data.count(READY_FOR_QUERY))
                    pair.cut_on_send = not pair.replies_left
                if pair.mute:
                    continue
                pair.client.write(data)
                await pair.client.drain()


@contextlib.asynccontextmanager
async def proxy_to(url: str, netns: NetNamespace | None = None) -> AsyncIterator[Proxy]:
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.startswith("/"):
        raise ValueError(f"the proxy forwards TCP; {url} names a Unix socket")
    proxy = await Proxy(parts.hostname or "127.0.0.1", parts.port or 5432, netns=netns).start()
    try:
        yield proxy
    finally:
        await proxy.close()


_CLONE_NEWNET = 0x40000000


class NetNamespace:
    """A private network namespace (only a loopback) that this thread can make sockets in.

    A client whose sockets are made in it (`with ns.entered():` around the code that connects) reaches a proxy
    listening in it (`proxy_to(url, netns=ns)`), which reaches the server from this process's own namespace.
    `black_hole()` makes the kernel route nothing inside it (an `ip rule ... blackhole`): packets vanish in
    both directions, no ACK, no RST, so TCP keepalive and TCP_USER_TIMEOUT see a dead peer, as across a
    failed router. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN), `unshare` and `ip`; `available()` says.
    """

    def __init__(self) -> None:
        self._holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c",
             "ip link set lo up && ip rule del pref 0 && ip rule add pref 100 lookup local && echo up && "
             "exec sleep 3600"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert self._holder.stdout is not None
        if self._holder.stdout.readline().strip() != b"up":
            self._holder.kill()
            self._holder.wait()
            raise OSError("could not set up a network namespace")
        self._ns = os.open(f"/proc/{self._holder.pid}/ns/net", os.O_RDONLY)
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.holed = False
        self._inside = False

    @staticmethod
    def available() -> bool:
        return os.geteuid() == 0 and bool(shutil.which("unshare")) and bool(shutil.which("ip"))

    def _setns(self, fd: int) -> None:
        if self._libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns: {os.strerror(errno)}")

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Sockets this thread makes inside the block are made in the namespace (others stay where they are)."""
        with self._in(True):
            yield

    @contextlib.contextmanager
    def left(self) -> Iterator[None]:
        """Sockets this thread makes inside the block are made in this process's own namespace."""
        with self._in(False):
            yield

    @contextlib.contextmanager
    def _in(self, inside: bool) -> Iterator[None]:
        was = self._inside
        self._setns(self._ns if inside else self._home)
        self._inside = inside
        try:
            yield
        finally:
            self._setns(self._ns if was else self._home)
            self._inside = was

    def _ip(self, *args: str) -> None:
        subprocess.run(["nsenter", "-t", str(self._holder.pid), "-n", "ip", *args], check=True)

    def black_hole(self) -> None:
        if not self.holed:
            self._ip("rule", "add", "pref", "10", "blackhole")
            self.holed = True

    def heal(self) -> None:
        if self.holed:
            self._ip("rule", "del", "pref", "10")
            self.holed = False

    def close(self) -> None:
        os.close(self._ns)
        os.close(self._home)
        self._holder.kill()
        self._holder.wait()


@contextlib.contextmanager
def private_netns() -> Iterator[NetNamespace]:
    ns = NetNamespace()
    try:
        yield ns
    finally:
        ns.close()


async def terminate_backends(admin: asyncpg.Connection, application_name: str) -> int:
    """pg_terminate_backend every backend of `application_name` in this database; returns how many."""
    killed = await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()",
        application_name,
    )
    return int(killed or 0)


@contextlib.asynccontextmanager
async def killing(url: str, application_name: str, every: float = 0.15) -> AsyncIterator[list[int]]:
    """Terminate every backend of `application_name` every `every` seconds while the block runs."""
    admin = await asyncpg.connect(url)
    kills: list[int] = []
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            kills.append(await terminate_backends(admin, application_name))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    task = asyncio.create_task(loop())
    try:
        yield kills
    finally:
        stop.set()
        await task
        await admin.close()
