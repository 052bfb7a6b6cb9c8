"""Property-based tests: every input surface answers bad input with one line (exit 2 /
HTTP 4xx) and nothing else. The run reports how many cases hypothesis generated."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# One profile for the whole fuzz suite: few enough cases to stay well under 30 s on two
# busy cores, no deadline (a loaded CI machine is slow in bursts), and the database of
# found failures kept out of the checkout. RDSBOX_FUZZ_EXAMPLES turns the budget up for
# a longer local hunt.
settings.register_profile(
    "rdsbox",
    max_examples=int(os.environ.get("RDSBOX_FUZZ_EXAMPLES", "40")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("rdsbox")

_CASES = pytest.StashKey[dict[str, int]]()


class CaseCounter:
    """Counts the cases each fuzz test ran (hypothesis runs the body once per case)."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def __call__(self, surface: str) -> None:
        """Count one case of ``surface`` (config, terraform, scenario, cli, api)."""
        self.counts[surface] = self.counts.get(surface, 0) + 1


@pytest.fixture(scope="session")
def cases(pytestconfig: pytest.Config) -> CaseCounter:
    """The session's case counter (session-scoped: hypothesis re-runs the test body, not
    the fixture)."""
    return CaseCounter(pytestconfig.stash.setdefault(_CASES, {}))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """``fuzz: N cases (config 120, terraform 60, ...)`` at the end of the run."""
    counts = config.stash.get(_CASES, {})
    if counts:
        detail = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        terminalreporter.write_line(f"fuzz: {sum(counts.values())} cases ({detail})")
