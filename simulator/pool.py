"""Counted resources with FIFO queues: the clients' in-flight slots and the proxy's pool.

``Slots`` is a semaphore whose waiters give up at a deadline (the request's timeout, or
the proxy's ``connection_borrow_timeout``) and which can be *held* (the proxy holds new
borrows while it has no writer during a failover). ``ProxyPool`` adds the server
connections behind the slots: opened on demand up to ``pool_size`` (paying the connection
set-up cost), kept open while idle up to ``idle_pool_size`` and closed above it, like
RDS Proxy's MaxConnectionsPercent and MaxIdleConnectionsPercent. Like PgBouncer (the
sandbox's proxy), it opens one server connection at a time: borrowers that find no idle
connection wait for the one being opened or for one given back, whichever comes first,
so a burst grows the pool gradually instead of opening a connection per borrower.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

from simulator.engine import Engine

Granted = Callable[[Any], None]


class Slots:
    """A semaphore with a FIFO queue of waiters that expire at their deadline.

    Waiters whose deadlines come in FIFO order (the usual case: one timeout for all) share
    a single timer that follows the head of the queue; only a waiter with an earlier
    deadline than the one before it gets a timer event of its own. A long queue therefore
    costs no heap entries per waiter.
    """

    __slots__ = (
        "armed",
        "armed_at",
        "capacity",
        "engine",
        "held",
        "pending",
        "serving",
        "tail",
        "used",
        "waiters",
    )

    def __init__(self, engine: Engine, capacity: int) -> None:
        self.engine = engine
        self.capacity = capacity
        self.used = 0
        self.held = False
        self.waiters: deque[list[Any]] = deque()  # [item, granted, expired, live, deadline]
        self.tail = float("-inf")  # latest deadline in the queue
        self.armed = False  # the shared head timer is scheduled (for armed_at)
        self.armed_at = float("inf")
        self.serving = False
        # Release times known in advance (a cache hit's reply), applied lazily: while
        # nobody waits, a release needs no event; see release_at().
        self.pending: list[float] = []

    def release_at(self, time: float) -> None:
        """Give a slot back at ``time`` (>= now) without an event while nobody waits."""
        if self.waiters:
            self.engine.at(time, self._release_event, None)
        else:
            heappush(self.pending, time)

    def _release_event(self, _: object) -> None:
        self.release()

    def drain(self, now: float) -> None:
        """Apply the lazy releases due by ``now``."""
        pending = self.pending
        while pending and pending[0] <= now:
            heappop(pending)
            self.used -= 1

    def acquire(self, item: Any, granted: Granted, deadline: float, expired: Granted) -> None:
        """Call ``granted(item)`` now or when a slot frees; ``expired(item)`` at ``deadline``
        if still waiting then."""
        if self.pending:
            self.drain(self.engine.now)
        if not self.held and self.used < self.capacity and not self.waiters:
            self.used += 1
            granted(item)
            return
        # Someone will wait: future lazy releases must now wake it, so make them events.
        for time in self.pending:
            self.engine.at(time, self._release_event, None)
        self.pending.clear()
        waiter = [item, granted, expired, True, deadline]
        if not self.waiters:
            self.tail = float("-inf")
        if deadline < self.tail or (self.armed and deadline < self.armed_at):
            self.engine.at(deadline, self._expire_one, waiter)  # out of order: own timer
        self.tail = max(self.tail, deadline)
        self.waiters.append(waiter)
        if not self.armed:
            self.armed = True
            self.armed_at = self.waiters[0][4]
            self.engine.at(self.armed_at, self._expire_head, None)

    def _expire_one(self, waiter: list[Any]) -> None:
        if waiter[3]:
            waiter[3] = False
            waiter[2](waiter[0])

    def _expire_head(self, _: object) -> None:
        # `armed` stays True while expiring, so that waiters queued by the callbacks do
        # not start a second timer; one is armed below for the new head.
        waiters = self.waiters
        now = self.engine.now
        while waiters and (not waiters[0][3] or waiters[0][4] <= now):
            waiter = waiters.popleft()
            self._expire_one(waiter)
        self.armed = False
        if waiters:
            self.armed = True
            self.armed_at = waiters[0][4]
            self.engine.at(self.armed_at, self._expire_head, None)

    def release(self) -> None:
        """Give a slot back and hand it to the first live waiter."""
        self.used -= 1
        if self.waiters:
            self.serve()

    def serve(self) -> None:
        """Hand free slots to waiters (after a release, a resize or the end of a hold)."""
        if self.serving:
            return  # a grant released a slot at once: the loop below picks it up
        if self.pending:
            self.drain(self.engine.now)
        self.serving = True
        waiters = self.waiters
        try:
            while waiters and not self.held and self.used < self.capacity:
                waiter = waiters.popleft()
                if waiter[3]:
                    waiter[3] = False
                    self.used += 1
                    waiter[1](waiter[0])
        finally:
            self.serving = False

    @property
    def queued(self) -> int:
        """Waiters still waiting (expired ones may linger in the deque until served)."""
        return sum(1 for waiter in self.waiters if waiter[3])


class ProxyPool:
    """RDS Proxy's connection pool to the writer."""

    __slots__ = (
        "borrow_count",
        "borrow_sum",
        "borrow_timeout",
        "borrow_waits",
        "idle_cap",
        "idle_open",
        "opening",
        "slots",
        "wanting",
    )

    def __init__(self, engine: Engine, size: int, idle_cap: int, borrow_timeout: float) -> None:
        self.slots = Slots(engine, size)
        self.idle_cap = idle_cap
        self.idle_open = 0  # open server connections not lent out
        self.borrow_timeout = borrow_timeout
        self.borrow_sum = 0.0
        self.borrow_count = 0
        self.borrow_waits = 0  # borrows that had to queue
        self.wanting: deque[Any] = deque()  # borrowers with a slot, waiting for a connection
        self.opening: Any = None  # the server connection being opened (node, epoch)

    @property
    def server_connections(self) -> int:
        """Open connections to the database (lent out + idle + being opened)."""
        return self.slots.used - len(self.wanting) + self.idle_open + (self.opening is not None)

    def take_idle(self) -> bool:
        """Use an idle open connection if there is one (else the caller opens one)."""
        if self.idle_open > 0:
            self.idle_open -= 1
            return True
        return False

    def give_back(self, keep: bool) -> bool:
        """Return a lent connection to the pool (the caller hands it to a ``wanting``
        borrower first when there is one); True when it stays open (False: close it)."""
        keep = keep and (self.idle_open < self.idle_cap or bool(self.slots.waiters))
        if keep:
            self.idle_open += 1
        self.slots.release()
        return keep

    def lose_connections(self) -> None:
        """The writer died: its server connections are gone."""
        self.idle_open = 0
        self.opening = None
