"""One application request and the state it carries through the model."""

from __future__ import annotations

from simulator.database import DbNode
from simulator.phases import PhaseRuntime

VIA_PROXY, VIA_DIRECT = 0, 1
"""How a request reaches the database."""


class Request:
    """One application request (a read or a write of one key)."""

    __slots__ = (
        "attempt",
        "deadline",
        "ended",
        "epoch",
        "expect",
        "hit",
        "key",
        "node",
        "phase",
        "reply_at",
        "slot",
        "stale",
        "t0",
        "via",
        "write",
    )

    def __init__(self, t0: float, phase: PhaseRuntime, key: int, write: bool) -> None:
        self.t0 = t0
        self.phase = phase
        self.key = key
        self.write = write
        self.deadline = t0 + phase.timeout
        self.attempt = 0
        self.expect = -1.0  # completion time of the pending query (-1: none)
        self.reply_at = -1.0  # when its answer reaches the client, if after the query
        self.hit = 0  # 0 no cache lookup, 1 hit, 2 miss
        self.stale = False
        self.ended = False  # finished or failed: later events are ignored
        self.via = VIA_PROXY
        self.node: DbNode | None = None
        self.epoch = 0
        self.slot = 0  # the client slot whose pooled connection it uses
