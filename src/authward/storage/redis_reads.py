"""The read a request makes on one Redis node, pipelined on a connection of its own.

Through `Redis.execute_command` a one-key read cost about 2.5 times its bare round
trip: redis-py takes a connection from the pool under an asyncio lock and a condition,
checks it, records metrics, wraps the command in its retry, runs the write in a task of
its own (`asyncio.wait_for`) and the read under a timeout context, then gives the
connection back under the same locks (benchmarks/README.md, store reads, has the
figures). A `PipelinedReads` takes one connection of the client's pool for itself, lets
redis-py open it (address, TLS, password, database: its handshake, unchanged), then
reads its socket with an asyncio protocol of its own and hiredis: a read is one packed
command written and one future resolved when its reply is parsed. Replies come back in
the order the commands went, so reads from many requests share the connection at once
(Redis pipelining), and the commands of one loop iteration go out in one write.

Failure handling is the client's policy: its socket timeout bounds each read, and its
retry (one, with backoff) sends a read again on a new connection when the old one died
(a restarted server). Every error a read meets is redis-py's own (ConnectionError,
TimeoutError, ResponseError), which `translated_errors` turns into `StoreUnavailable`.
A lost or timed-out connection fails every read waiting on it, each with its own error,
and is closed, so the next read opens a new one. A caller that gives up (cancelled)
leaves its reply to be read and dropped: the order of replies never slips.

One node only, RESP2 only (`pipelined_reads` says where): a Redis Cluster routes each key
to its node, which its client does; RESP3 may push messages between the replies. Taking
over the socket relies on two details of redis-py's connection (its stream writer, and a
transport that can change protocol): a release of redis-py without them turns the reads
back into the client's own commands, slower but the same answers, never a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["PipelinedReads", "pipelined_reads", "transport_of"]


def pipelined_reads(client: Redis | RedisCluster) -> PipelinedReads | None:
    """Pipelined reads on `client`'s node, or None where its own client must read.

    A cluster routes each key to its node. RESP3 lets the server push messages nobody
    asked for (invalidations, maintenance notices), which would shift the replies.
    """
    if not isinstance(client, Redis):
        return None
    if str(client.connection_pool.connection_kwargs.get("protocol") or 2) != "2":
        return None
    return PipelinedReads(client)


class PipelinedReads:
    """Read-only commands on a connection taken from `client`'s pool, pipelined.

    The connection is closed with the client's pool (`client.aclose()` closes the
    connections in use too); the next read opens it again.
    """

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._through_client = False  # set for good when redis-py's connection cannot be taken over
        self._pool = client.connection_pool
        self._connection: AbstractConnection | None = None
        self._wire: _Wire | None = None
        self._opening = asyncio.Lock()  # bound to a loop on first use, in Python 3.10+
        self._loop: asyncio.AbstractEventLoop | None = None

    async def read(self, *command: str | bytes) -> Any:
        """The reply to `command`, a read (it may be sent twice), as hiredis parses it.

        Raises ConnectionError or TimeoutError (redis-py's) when Redis does not answer
        and ResponseError when it refuses the command.
        """
        wire, failures = self._wire, 0
        while True:
            if self._through_client:
                return await self._client.execute_command(*command)  # type: ignore[no-untyped-call]
            try:
                if wire is None or wire.lost or wire.loop is not asyncio.get_running_loop():
                    wire = await self._open()
                    if wire is None:
                        continue  # redis-py's connection cannot be taken over: the client reads
                return await wire.send(command)
            except (RedisConnectionError, RedisTimeoutError):
                # The connection died under this read (or would not open): it is closed
                # already; a new one takes the read again, as the client's retry would.
                failures += 1
                if failures > self._retries():
                    raise
                wire = None

    def _retries(self) -> int:
        # No connection yet: the pool's own connect, retried by redis-py, just failed.
        return 0 if self._connection is None else self._connection.retry.get_retries()

    async def _taken(self) -> AbstractConnection:
        if self._connection is None:
            # Taken once and kept: the pool counts it in use and closes it with the rest.
            self._connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        return self._connection

    @property
    def pipelined(self) -> bool:
        """False once the reads went back to the client's own commands (see the module)."""
        return not self._through_client

    async def _open(self) -> _Wire | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: nothing of the old one works here
            self._loop, self._opening = loop, asyncio.Lock()
            if self._wire is not None:
                with contextlib.suppress(Exception):  # its loop may be closed
                    self._wire.close()
        async with self._opening:  # one opening at a time; the others take its wire
            if self._wire is not None and not self._wire.lost and self._wire.loop is loop:
                return self._wire
            connection = await self._taken()  # open, the first time: the pool opens it
            if self._wire is not None:  # its streams are closed, or of an old event loop
                self._wire = None
                await connection.disconnect()
            if not connection.is_connected:
                # redis-py's own handshake, tried once: `read` retries the whole of it.
                await connection.connect_check_health(
                    check_health=False, retry_socket_connect=False
                )
            transport = transport_of(connection)
            if transport is None:  # not the redis-py this was written for: give it back
                self._through_client, self._connection = True, None
                await self._pool.release(connection)
                return None
            timeout = getattr(connection, "socket_timeout", None)
            self._wire = _Wire(transport, loop, timeout)
        return self._wire


def transport_of(connection: AbstractConnection) -> Any | None:
    """The open connection's transport, if redis-py's connection exposes it as this module
    expects (its stream writer's transport, able to change protocol); else None."""
    writer = getattr(connection, "_writer", None)
    transport = getattr(writer, "transport", None)
    if transport is None or not callable(getattr(transport, "set_protocol", None)):
        return None
    return transport


class _Wire(asyncio.Protocol):
    """One open connection: commands out in order, replies matched to them in order."""

    def __init__(
        self,
        transport: Any,
        loop: asyncio.AbstractEventLoop,
        timeout: float | None,
    ) -> None:
        self.lost = False
        self._transport = transport
        self.loop = loop
        self._timeout = timeout
        self._parser = hiredis.Reader()
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._outgoing: list[bytes] = []
        self._deadline: asyncio.TimerHandle | None = None
        # From here on the replies come to `data_received`; redis-py's stream protocol
        # still hears of the close, so the connection's own `disconnect` finishes.
        self._streams: asyncio.BaseProtocol = transport.get_protocol()
        transport.set_protocol(self)

    async def send(self, command: tuple[str | bytes, ...]) -> Any:
        answer: asyncio.Future[Any] = self.loop.create_future()
        if not self._outgoing:  # the first of this loop iteration: write them all after it
            self.loop.call_soon(self._flush)
        self._outgoing.append(hiredis.pack_command(command))  # type: ignore[arg-type]
        self._waiting.append(answer)
        if self._deadline is None and self._timeout:
            self._deadline = self.loop.call_later(self._timeout, self._timed_out)
        return await answer

    def _flush(self) -> None:
        if self.lost:
            return
        outgoing, self._outgoing = self._outgoing, []
        self._transport.write(b"".join(outgoing))

    def data_received(self, data: bytes) -> None:
        self._parser.feed(data)
        while (reply := self._parser.gets()) is not False:
            if not self._waiting:  # a reply nobody asked for: the order is lost
                self._fail(RedisConnectionError("Redis answered more than it was asked"))
                return
            answer = self._waiting.popleft()
            if answer.done():  # its caller gave up
                continue
            if isinstance(reply, hiredis.ReplyError):
                answer.set_exception(ResponseError(str(reply)))
            else:
                answer.set_result(reply)
        if self._deadline is not None:  # the clock starts again for the oldest left
            self._deadline.cancel()
            self._deadline = None
            if self._waiting and self._timeout:
                self._deadline = self.loop.call_later(self._timeout, self._timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError("Connection closed by server."))
        self._streams.connection_lost(exc)

    def eof_received(self) -> bool:
        return False  # close the transport: `connection_lost` follows

    def _timed_out(self) -> None:
        self._deadline = None
        self._fail(RedisTimeoutError("Timeout reading from Redis"))

    def close(self) -> None:
        self._fail(RedisConnectionError("Connection closed."))

    def _fail(self, error: RedisConnectionError | RedisTimeoutError) -> None:
        """Fail every waiting read (each with its own error) and close for good."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.lost = True
        self._outgoing = []
        waiting, self._waiting = self._waiting, deque()
        for answer in waiting:
            if not answer.done():
                answer.set_exception(type(error)(*error.args))
        self._transport.close()
