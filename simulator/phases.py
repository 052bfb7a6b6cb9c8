"""Phases at run time: each scenario phase's LoadSpec turned into the model's parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sandbox.workload.spec import LoadSpec
from simulator.metrics import hit_flags
from simulator.random_streams import Randomness, zipf_cdf

EARLY_SHARE = 0.1
"""early-refresh: a hit in this last share of the TTL refreshes the key."""
_BATCH = 2048


class PhaseRuntime:
    """One phase of a run: its time window, request mix and client behaviour."""

    def __init__(
        self,
        index: int,
        name: str,
        spec: LoadSpec,
        start: float,
        rng: Randomness,
        start_delays: Callable[[int], np.ndarray] | None = None,
    ) -> None:
        self.index = index
        self.name = name
        self.spec = spec
        self.start = start
        self.end = start + spec.duration
        self.following: PhaseRuntime | None = None
        self.timeout = spec.timeout
        self.strategy = spec.strategy
        self.via_proxy = spec.path == "proxy"
        self.reads_replicas = spec.path == "reader"
        self.per_request = spec.connections == "per-request"
        self.slots = spec.workers * spec.concurrency
        self.ttl = spec.ttl
        self.jitter = spec.ttl_jitter
        self.write_share = 1.0 - spec.read_ratio
        self._keys = rng.zipf_keys(spec.keys, spec.zipf)
        self._uniform = rng.uniform()
        self.cache_reads = spec.strategy != "none"
        self.early_refresh = spec.stampede == "early-refresh"
        self.early_window = EARLY_SHARE * spec.ttl
        self.hit_flags = hit_flags(index)
        self._rng = rng
        self._cdf = zipf_cdf(spec.keys, spec.zipf)
        self._start_delays = start_delays

    def next_key(self) -> int:
        """The key of the next request (Zipf popularity)."""
        return int(self._keys.next())

    def next_is_write(self) -> bool:
        """Whether the next request writes."""
        return self._uniform.next() < self.write_share

    def next_ttl(self) -> float:
        """A TTL with jitter: uniform on ttl * [1 - jitter, 1 + jitter]."""
        return self.ttl * (1.0 + self.jitter * (2.0 * self._uniform.next() - 1.0))

    def arrivals(self, after: float, poisson: bool) -> list[tuple[float, float, int, bool]]:
        """The next batch of open-loop arrivals after time ``after``: (time, t0, key,
        write), where ``t0 <= time`` is the intended start when the client starts late.

        Gaps are exponential (Poisson arrivals) or exactly ``1 / rate``; drawn in one
        vectorised batch because per-arrival draws would dominate the run time.
        """
        gen = self._rng.generator
        mean = 1.0 / self.spec.rate
        gaps = gen.exponential(mean, _BATCH) if poisson else np.full(_BATCH, mean)
        times = after + np.cumsum(gaps)
        keys = np.searchsorted(self._cdf, gen.random(_BATCH), side="right")
        writes = gen.random(_BATCH) < self.write_share
        starts = times.tolist()
        delays = self._start_delays
        intended = starts if delays is None else (times - delays(_BATCH)).tolist()
        return list(zip(starts, intended, keys.tolist(), writes.tolist(), strict=True))

    def current(self, now: float) -> PhaseRuntime | None:
        """The phase running at ``now`` (this or a later one), None after the last."""
        phase: PhaseRuntime | None = self
        while phase is not None and now >= phase.end:
            phase = phase.following
        return phase
