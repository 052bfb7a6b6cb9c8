"""Random draws for one run, from ONE seeded numpy generator, drawn in vectorised batches.

Drawing numbers one at a time from numpy costs about a microsecond each; batches of a few
thousand cost a few nanoseconds per number, and reading them back from a Python list is
cheap. Every stream below draws from the same ``numpy.random.Generator`` so a run is
reproducible from its seed alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import repeat

import numpy as np

_BATCH = 4096

Draw = Callable[[], float]
"""A draw of one number (a Stream's ``next`` or a constant)."""


class Stream:
    """An endless sequence of numbers refilled in batches from a draw function."""

    __slots__ = ("_buffer", "_draw", "_index")

    def __init__(self, draw: Callable[[int], np.ndarray]) -> None:
        self._draw = draw
        self._buffer: list[float] = []
        self._index = 0

    def next(self) -> float:
        """The next number."""
        index = self._index
        if index >= len(self._buffer):
            self._buffer = self._draw(_BATCH).tolist()
            index = 0
        self._index = index + 1
        return self._buffer[index]


class Randomness:
    """Factory of the streams of one run, all from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.generator = np.random.default_rng(seed)

    def uniform(self) -> Stream:
        """Uniform on [0, 1)."""
        return Stream(self.generator.random)

    def exponential(self, mean: float) -> Stream:
        """Exponential with the given mean (0 gives zeros)."""
        gen = self.generator
        return Stream(lambda n: gen.exponential(mean, n) if mean > 0 else np.zeros(n))

    def lognormal(self, mean: float, cv: float) -> Stream:
        """Lognormal with the given mean and coefficient of variation (cv 0: constant)."""
        gen = self.generator
        if mean <= 0 or cv <= 0:
            return Stream(lambda n: np.full(n, mean))
        sigma2 = float(np.log1p(cv * cv))
        mu = float(np.log(mean)) - sigma2 / 2
        sigma = sigma2**0.5
        return Stream(lambda n: gen.lognormal(mu, sigma, n))

    def service(self, shape: str, mean: float, cv: float) -> Stream:
        """Service times: ``lognormal`` (mean, cv), ``exponential`` or ``constant``."""
        if shape == "exponential":
            return self.exponential(mean)
        return self.lognormal(mean, 0.0 if shape == "constant" else cv)

    def empirical_batches(
        self, percentiles_ms: Mapping[float, float] | None, plus_s: float = 0.0
    ) -> Callable[[int], np.ndarray] | None:
        """Batches of seconds ``plus_s`` + draws from a distribution given as percentile ->
        ms (linear between the percentiles); None without a distribution."""
        if not percentiles_ms:
            return None
        points = sorted(percentiles_ms.items())
        probabilities = np.array([p / 100 for p, _ in points])
        seconds = np.array([plus_s + ms / 1000 for _, ms in points])
        gen = self.generator
        return lambda n: np.interp(gen.random(n), probabilities, seconds)

    def empirical(self, percentiles_ms: Mapping[float, float] | None, plus_s: float) -> Draw:
        """One draw at a time of :meth:`empirical_batches`; without a distribution,
        always ``plus_s``."""
        batches = self.empirical_batches(percentiles_ms, plus_s)
        if batches is None:
            return repeat(plus_s).__next__  # the cheapest constant draw there is
        return Stream(batches).next

    def zipf_keys(self, keys: int, exponent: float) -> Stream:
        """Key ids 0..keys-1 with P(k) proportional to (k+1)**-exponent (0: uniform)."""
        gen = self.generator
        cdf = zipf_cdf(keys, exponent)
        return Stream(lambda n: np.searchsorted(cdf, gen.random(n), side="right"))


def zipf_weights(keys: int, exponent: float) -> np.ndarray:
    """Normalised Zipf popularity of keys 0..keys-1."""
    weights = np.arange(1, keys + 1, dtype=float) ** -exponent
    result: np.ndarray = weights / weights.sum()
    return result


def zipf_cdf(keys: int, exponent: float) -> np.ndarray:
    """Cumulative Zipf popularity, last entry forced to exactly 1."""
    cdf = np.cumsum(zipf_weights(keys, exponent))
    cdf[-1] = 1.0
    return cdf
