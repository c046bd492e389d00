"""Tools that cause faults for real: a TCP proxy that cuts connections at a chosen moment of the PostgreSQL
protocol, and a killer that terminates backends with pg_terminate_backend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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


@dataclass
class Proxy:
    """Forwards 127.0.0.1:<port> to the server. Rules (each fires once, on the first match):

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
    _after: bytes | None = None
    _before: bytes | None = None
    _pairs: set[_Pair] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self

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

    async def close(self) -> None:
        self.cut_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
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
                if pair.replies_left:  # before forwarding: the client may answer at once
                    pair.replies_left = max(0, pair.replies_left - data.count(READY_FOR_QUERY))
                    pair.cut_on_send = not pair.replies_left
                if pair.mute:
                    continue
                pair.client.write(data)
                await pair.client.drain()


@contextlib.asynccontextmanager
async def proxy_to(url: str) -> AsyncIterator[Proxy]:
    parts = urlsplit(url)
    proxy = await Proxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    try:
        yield proxy
    finally:
        await proxy.close()


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
