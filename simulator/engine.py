"""The event loop: a binary heap of timed callbacks, specialised for speed.

SimPy's generator processes cost several microseconds per step; this model needs about
5 us per *request* (see benchmarks/simulator.py). So the loop is a plain heap of
``(time, seq, callback, argument)`` tuples, and the resources (Redis, database workers)
compute completion times by recursion at arrival instead of scheduling two events per
visit. Open-loop arrivals come from a pre-generated sorted stream merged with the heap,
so they never touch it.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from itertools import count
from typing import Any, Protocol


class ArrivalFeed(Protocol):
    """A time-ordered stream of arrivals the loop merges with its heap."""

    next_time: float

    def fire(self) -> None:
        """Handle the arrival at ``next_time`` and advance ``next_time`` (inf when done)."""


class Engine:
    """Simulated clock and pending events."""

    __slots__ = ("_heap", "_seq", "now")

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self._seq = count()

    def at(self, time: float, callback: Callable[[Any], None], argument: Any = None) -> None:
        """Run ``callback(argument)`` at simulated ``time`` (never before ``now``)."""
        heappush(self._heap, (time, next(self._seq), callback, argument))

    def run(self, until: float, feed: ArrivalFeed | None = None) -> None:
        """Process events (and arrivals of ``feed``) with time <= ``until`` in time order."""
        heap = self._heap
        inf = float("inf")
        while True:
            top = heap[0][0] if heap else inf
            arrival = feed.next_time if feed is not None else inf
            if arrival < top:
                if arrival > until:
                    break
                self.now = arrival
                assert feed is not None  # arrival < inf implies a feed
                feed.fire()
            else:
                if top > until:
                    break
                _, _, callback, argument = heappop(heap)
                self.now = top
                callback(argument)
        self.now = max(self.now, until)
