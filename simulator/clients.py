"""The application's clients: requests from arrival to reply, with retries and time-outs.

A request takes a client slot (``workers x concurrency`` in flight; open-loop arrivals
queue for one), runs its strategy's cache step (``strategies.py``), reaches the database
through the proxy or an endpoint over a pooled or a per-request connection, and finishes.
A refused or reset attempt is retried after ``client_backoff_s x multiplier**n`` while
the request's deadline allows; latency is measured from the intended start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.database import DbNode
from simulator.metrics import CODES, Recorder
from simulator.phases import PhaseRuntime
from simulator.pool import Slots
from simulator.request import VIA_DIRECT, VIA_PROXY, Request
from simulator.world import World

if TYPE_CHECKING:
    from simulator.strategies import Strategies

_MIN_GAP = 1e-6  # closed loop: least time between a user's consecutive requests
_REFUSED, _RESET, _TIMEOUT = CODES["refused"], CODES["reset"], CODES["timeout"]


class Application:
    """Every client of the run, sharing one World."""

    def __init__(self, world: World, recorder: Recorder) -> None:
        self.world = world
        self.engine = world.engine
        self.recorder = recorder
        self.slots = Slots(world.engine, 1)
        self.redis = world.redis
        # Pooled direct connections: client slot -> (node, epoch), per endpoint.
        self.writer_conns: dict[int, tuple[DbNode, int]] = {}
        self.reader_conns: dict[int, tuple[DbNode, int]] = {}
        self.turn = 0
        self.strategies: Strategies | None = None
        self.closed_loop = False
        self.phase: PhaseRuntime | None = None  # the phase running now
        self.backoff = world.timing.client_backoff_s
        self.multiplier = world.calibration.backoff_multiplier
        self.retries = world.calibration.retries
        self.db_connect = world.calibration.db_connect_ms / 1000
        self.proxy_connect = world.calibration.proxy_connect_ms / 1000
        self.proxy_overhead = world.calibration.proxy_overhead_ms / 1000
        self.round_trip = world.round_trip
        self.client_connections = 0

    # -- arrival and end ------------------------------------------------------------------
    def arrive(self, phase: PhaseRuntime) -> None:
        """A closed-loop user's next request, at ``now``."""
        now = self.engine.now
        self.begin(Request(now, phase, phase.next_key(), phase.next_is_write()))

    def begin(self, request: Request) -> None:
        """Start a request that holds its client slot."""
        assert self.strategies is not None
        self.strategies.before_db(request)

    def expire(self, request: Request) -> None:
        """A request still waiting for a client slot at its deadline times out."""
        # Still waiting for a client slot at its deadline: it never got one to release.
        request.ended = True
        self._record(request, _TIMEOUT, request.phase.timeout)
        self._next_of_user(request)

    def finish(self, request: Request) -> None:
        """The reply reached the client at ``now`` (an event callback)."""
        if request.ended:
            return
        request.ended = True
        now = self.engine.now
        latency = now - request.t0
        code = _TIMEOUT if now > request.deadline else 0
        self._record(request, code, latency if code == 0 else request.phase.timeout)
        self._release_client(request)

    def finish_at(self, request: Request, done: float) -> None:
        """The reply will reach the client at ``done`` (>= now) with nothing else pending.

        Open loop: record it now and release its slot lazily at ``done`` (no event);
        closed loop: the user's next request starts at ``done``, so that is an event.
        """
        if self.closed_loop or request.ended:
            self.engine.at(done, self.finish, request)
            return
        request.ended = True
        latency = done - request.t0
        if done > request.deadline:
            self._record(request, _TIMEOUT, request.phase.timeout)
        else:
            self._record(request, 0, latency)
        self.slots.release_at(done)

    def fail(self, request: Request, code: int) -> None:
        """The request ends in an error at ``now``."""
        if request.ended:
            return
        request.ended = True  # nothing pending may finish it again
        self._record(request, code, self.engine.now - request.t0)
        if request.hit == 2 and self.strategies is not None:
            self.strategies.abandon_fill(request)
        self._release_client(request)

    def _record(self, request: Request, code: int, latency: float) -> None:
        self.recorder.add(
            request.t0, latency, code, request.hit, request.write, request.stale, request.phase
        )

    def _release_client(self, request: Request) -> None:
        if self.closed_loop:
            self._next_of_user(request)
        else:
            self.slots.release()

    def _next_of_user(self, request: Request) -> None:
        # Closed loop: the user issues its next request at once (no think time), but never
        # at the instant its last one started (zero-cost settings would loop forever), and
        # only after a back-off when the last one failed.
        if not self.closed_loop:
            return
        now = self.engine.now
        at = max(now, request.t0 + _MIN_GAP)
        if self.recorder.flags[-1] & 7:  # the outcome just recorded for it was an error
            at = max(at, now + self.backoff)
        phase = request.phase.current(at)
        if phase is not None:
            self.engine.at(at, self.arrive, phase)

    # -- database access ------------------------------------------------------------------
    def database(self, request: Request) -> None:
        """Send the request's query to its node, connecting first if needed."""
        phase = request.phase
        if phase.via_proxy and self.world.proxy is not None:
            request.via = VIA_PROXY
            if phase.per_request:  # a new client connection to the proxy first
                self.engine.at(self.engine.now + self.proxy_connect, self._borrow, request)
            else:
                self._borrow(request)
            return
        request.via = VIA_DIRECT
        world = self.world
        reads_replicas = phase.reads_replicas and not request.write
        if phase.per_request:
            self._connect(
                request,
                world.reader_target() if reads_replicas else world.writer_dns,
                reads_replicas,
            )
            return
        # Pooled: each client slot keeps its own connection per endpoint (like a worker
        # process or a Lambda function), reused while alive and still the right node.
        conns = self.reader_conns if reads_replicas else self.writer_conns
        self.turn = slot = (self.turn + 1) % self.slots.capacity
        request.slot = slot
        held = conns.get(slot)
        if held is not None:
            node, epoch = held
            wanted = (
                (node in world.reader_rotation) if reads_replicas else (node is world.writer_dns)
            )
            if wanted and node.up and epoch == node.epoch:
                request.node, request.epoch = node, epoch
                self._run_query(request)
                return
            del conns[slot]
            node.disconnect(epoch)
        self._connect(
            request, world.reader_target() if reads_replicas else world.writer_dns, reads_replicas
        )

    def _connect(self, request: Request, node: DbNode, reader: bool) -> None:
        """Open a new connection to ``node`` for the request (refused when full or down)."""
        request.node = node
        if not node.connect():
            self.retry(request, _REFUSED)
            return
        request.epoch = node.epoch
        if not request.phase.per_request:
            conns = self.reader_conns if reader else self.writer_conns
            conns[request.slot] = (node, node.epoch)
        self.engine.at(
            self.engine.now + self.db_connect + self.round_trip(), self._run_query, request
        )

    def _borrow(self, request: Request) -> None:
        pool = self.world.proxy
        assert pool is not None
        now = self.engine.now
        request.expect = now  # borrow start, for the borrow latency
        slots = pool.slots
        if not slots.held and slots.used < slots.capacity and not slots.waiters:
            slots.used += 1
            self._borrowed(request)
        else:
            deadline = min(request.deadline, now + pool.borrow_timeout)
            slots.acquire(request, self._borrowed, deadline, self._borrow_expired)

    def _borrowed(self, request: Request) -> None:
        world = self.world
        pool = world.proxy
        node = world.proxy_target
        assert pool is not None and node is not None
        now = self.engine.now
        if now > request.expect:
            pool.borrow_sum += now - request.expect
            pool.borrow_waits += 1
        pool.borrow_count += 1
        request.node = node
        request.epoch = node.epoch
        if pool.idle_open > 0:
            pool.idle_open -= 1
            self._run_query(request)
            return
        pool.wanting.append(request)
        self.open_server_connection()

    def open_server_connection(self) -> None:
        """The proxy opens one server connection for its first waiting borrower (unless
        one is being opened, or it holds borrows in a failover); refused (node down or
        full), every waiting borrower retries."""
        world = self.world
        pool, node = world.proxy, world.proxy_target
        assert pool is not None
        if pool.opening is not None or not pool.wanting or node is None:
            return
        if node.connect():
            pool.opening = opening = (node, node.epoch)
            self.engine.at(self.engine.now + self.db_connect, self._opened, opening)
            return
        while pool.wanting:
            request = pool.wanting.popleft()
            pool.slots.release()
            self.retry(request, _REFUSED)

    def _opened(self, connection: tuple[DbNode, int]) -> None:
        pool = self.world.proxy
        assert pool is not None
        if pool.opening is not connection:
            return  # the proxy lost its connections meanwhile (a failover)
        pool.opening = None
        node, epoch = connection
        if epoch != node.epoch:  # the node died while the connection was being opened
            self.open_server_connection()
        elif pool.wanting:
            self._lend(pool.wanting.popleft(), node, epoch)
            self.open_server_connection()
        else:
            pool.idle_open += 1

    def _lend(self, request: Request, node: DbNode, epoch: int) -> None:
        """A waiting borrower gets a server connection to ``node``."""
        request.node, request.epoch = node, epoch
        self._run_query(request)

    def _borrow_expired(self, request: Request) -> None:
        self.fail(request, _TIMEOUT)

    def _run_query(self, request: Request) -> None:
        node = request.node
        assert node is not None
        if not node.up or request.epoch != node.epoch:
            self._drop_connection(request, keep=False)
            self.retry(request, _RESET)
            return
        now = self.engine.now
        world = self.world
        write = request.write
        extra = (
            world.sync_commit if (write and world.sync_standby and node is world.primary) else 0.0
        )
        # The proxy's per-query overhead is added on the way back, so queries reach the
        # node in time order (its workers' recursion needs that).
        server_done = node.execute(now, write, extra)
        done = server_done + self.round_trip()
        if write:
            world.last_write[request.key] = server_done
        elif node.role == "replica":
            last = world.last_write.get(request.key)
            request.stale = last is not None and now - last < world.replica_lag(now)
        if request.via == VIA_PROXY:
            # The proxy takes its server connection back when the database is done; the
            # way back to the client (and the client's own delays) no longer hold it.
            done += self.proxy_overhead
            request.reply_at = done
            request.expect = server_done
        else:
            request.expect = done
        node.inflight.add(request)
        self.engine.at(request.expect, self._query_done, request)
        if done > request.deadline:
            self.engine.at(request.deadline, self.give_up, request)

    def give_up(self, request: Request) -> None:
        """The client's timeout: fail the request unless it already ended."""
        self.fail(request, _TIMEOUT)

    def _query_done(self, request: Request) -> None:
        if request.expect != self.engine.now:
            return  # aborted by a crash (and maybe retried since)
        node = request.node
        assert node is not None
        node.inflight.discard(request)
        request.expect = -1.0
        self._drop_connection(request, keep=True)
        if request.reply_at > self.engine.now:
            self.engine.at(request.reply_at, self._replied, request)
        else:
            self._replied(request)

    def _replied(self, request: Request) -> None:
        """The database's answer reached the client."""
        if not request.ended:
            assert self.strategies is not None
            self.strategies.after_db(request)

    def _drop_connection(self, request: Request, keep: bool) -> None:
        """Give the request's database connection back (to the pool, or close it)."""
        node = request.node
        assert node is not None
        alive = keep and node.up and request.epoch == node.epoch
        if request.via == VIA_PROXY:
            pool = self.world.proxy
            assert pool is not None
            if alive and pool.wanting:  # straight to the next borrower waiting for one
                pool.slots.release()
                self._lend(pool.wanting.popleft(), node, request.epoch)
            elif not pool.give_back(alive):
                node.disconnect(request.epoch)
        elif request.phase.per_request:
            node.disconnect(request.epoch)
        elif not alive:
            node.disconnect(request.epoch)
            for conns in (self.writer_conns, self.reader_conns):
                if conns.get(request.slot) == (node, request.epoch):
                    del conns[request.slot]

    def abort(self, request: Request) -> None:
        """Its node crashed under the query: the connection resets."""
        request.expect = -1.0
        self._drop_connection(request, keep=False)
        self.retry(request, _RESET)

    def retry(self, request: Request, code: int) -> None:
        """Retry the database step after a back-off, or fail when out of retries or time."""
        if request.ended:
            return
        delay = self.backoff * self.multiplier**request.attempt
        request.attempt += 1
        now = self.engine.now
        if request.attempt > self.retries or now + delay >= request.deadline:
            self.fail(request, code)
        else:
            self.engine.at(now + delay, self.database, request)
