"""What every sampler shares: the protocol the collector drives, and per-second rates of
ever-growing counters."""

from __future__ import annotations

from typing import Protocol

from sandbox.metrics.schema import Sample

METRICS_APP = "rdsbox-metrics"
"""application_name of the collector's own database sessions (not counted as clients)."""


class Sampler(Protocol):
    """Samples one component (or one kind of measurement) when asked."""

    #: Name for logs (usually the component's).
    name: str

    def sample(self, now: float) -> list[Sample]:
        """Samples at metric time ``now``; empty when the component does not answer.
        May raise: the collector then skips this sampler for the cycle."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class Rates:
    """Per-second rates of monotonic counters, keyed by name.

    The first observation of a key has no rate; neither has one after the counter went
    backwards (the server restarted) or the clock did not advance."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}

    def rate(self, key: str, value: float, now: float) -> float | None:
        """Change of ``key`` per second since its previous observation."""
        previous = self._last.get(key)
        self._last[key] = (now, value)
        if previous is None:
            return None
        then, before = previous
        if now <= then or value < before:
            return None
        return (value - before) / (now - then)

    def forget(self, key: str) -> None:
        """Drop a key's history (its next observation starts afresh)."""
        self._last.pop(key, None)


def samples_of(source: str, now: float, values: dict[str, float | None]) -> list[Sample]:
    """Samples of the values that are known (None: not measurable this time)."""
    return [
        Sample(now, source, metric, value) for metric, value in values.items() if value is not None
    ]
