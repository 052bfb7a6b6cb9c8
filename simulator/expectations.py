"""A scenario's ``expect:`` bounds checked against simulated runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.scenario.model import Scenario


@dataclass
class Verdict:
    """One scenario expectation checked against one run."""

    run: str
    metric: str
    value: float | None
    min: float | None
    max: float | None

    @property
    def ok(self) -> bool:
        """Whether the value exists and lies within the bounds."""
        if self.value is None:
            return False
        low_ok = self.min is None or self.value >= self.min
        return low_ok and (self.max is None or self.value <= self.max)


def check_expectations(
    scenario: Scenario, runs: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> list[Verdict]:
    """Check ``expect:`` against runs given as (run name, variant name, summary dump).

    A metric is a dotted key of LoadSummary (``cache.hit_ratio``, ``errors``,
    ``errors_by_kind.refused``; a missing error kind counts as 0).
    """
    verdicts = []
    for expectation in scenario.expect:
        for run_name, variant, summary in runs:
            if expectation.variant not in (None, variant):
                continue
            verdicts.append(
                Verdict(
                    run_name,
                    expectation.metric,
                    _lookup(summary, expectation.metric),
                    expectation.min,
                    expectation.max,
                )
            )
    return verdicts


def _lookup(document: Mapping[str, Any], dotted: str) -> float | None:
    node: Any = document
    parts = dotted.split(".")
    for part in parts:
        if not isinstance(node, Mapping):
            return None
        if part not in node:
            return 0.0 if parts[0] == "errors_by_kind" else None
        node = node[part]
    return float(node) if isinstance(node, int | float) else None
