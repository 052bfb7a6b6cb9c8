"""TCP relays that impair an endpoint's traffic: delay it (``latency``) or swallow it
(``blackhole``), like toxiproxy's toxics.

A relay exists only while a network fault is active: the endpoint's traffic is diverted
through it (HAProxy servers re-addressed, PgBouncer's server side re-targeted) and goes
straight to the nodes again when the fault ends, so the fast path pays nothing. All relays
of a sandbox share one asyncio loop on one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from sandbox.services.base import HOST

_CHUNK = 65536
T = TypeVar("T")


@dataclass(frozen=True)
class Impairment:
    """What a relay does: delay responses by ``delay_ms`` ± ``jitter_ms``, or blackhole."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    blackhole: bool = False

    def describe(self) -> str:
        """One phrase for events and status."""
        if self.blackhole:
            return "blackhole"
        jitter = f" ± {self.jitter_ms:g}" if self.jitter_ms else ""
        return f"{self.delay_ms:g}{jitter} ms latency"


class RelayLoop:
    """One event loop on a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 5.0) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="netgate", daemon=True
            )
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def close(self) -> None:
        """Stop the loop (relays must be closed first)."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
        self._loop = self._thread = None


class Relay:
    """Listens on ``port``; forwards each connection to ``upstream()`` with ``impairment``."""

    def __init__(
        self,
        port: int,
        upstream: Callable[[], int | None],
        impairment: Impairment,
        rng: random.Random,
    ) -> None:
        self.port = port
        self.upstream = upstream
        self.impairment = impairment
        self.rng = rng
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind and serve (raises OSError when the port is taken)."""
        self._server = await asyncio.start_server(
            self._accepted, HOST, self.port, reuse_address=True
        )

    async def stop_listening(self) -> None:
        """Accept no more connections; relayed ones go on (unimpaired once the caller
        resets ``impairment``) until their clients close them."""
        if self._server is not None:
            self._server.close()

    async def close(self) -> None:
        """Stop listening and drop every relayed connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            if self.impairment.blackhole:
                # Accept and read, never answer: the client waits for its own timeout.
                while await reader.read(_CHUNK):
                    pass
                return
            # The upstream lookup may ask HAProxy's runtime API: keep it off the loop.
            port = await asyncio.get_running_loop().run_in_executor(None, self.upstream)
            if port is None:
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(HOST, port)
            await asyncio.gather(
                _copy(reader, upstream_writer),
                self._copy_delayed(upstream_reader, writer),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for stream in (writer, upstream_writer):
                if stream is not None:
                    stream.close()

    async def _copy_delayed(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        """Copy responses, each chunk held until its due time (order kept)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                dst.write(data)
                await dst.drain()

        sender = loop.create_task(send())
        last_due = 0.0
        try:
            while data := await src.read(_CHUNK):
                # Read per chunk: when the fault ends, relayed connections stop waiting.
                impairment = self.impairment
                jitter = self.rng.uniform(-impairment.jitter_ms, impairment.jitter_ms)
                delay = max(0.0, impairment.delay_ms + jitter) / 1000
                last_due = max(last_due, loop.time() + delay)
                queue.put_nowait((last_due, data))
            queue.put_nowait((last_due, b""))
            await sender
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await sender


async def _copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    while data := await src.read(_CHUNK):
        dst.write(data)
        await dst.drain()
    with contextlib.suppress(OSError):
        dst.write_eof()
