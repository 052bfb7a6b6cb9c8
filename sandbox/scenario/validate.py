"""Checks of a scenario file beyond its shape: every phase is a valid load under every
variant, and every name an expectation, baseline or fault uses exists."""

from __future__ import annotations

import pydantic

from sandbox.errors import ConfigError
from sandbox.scenario.fault_targets import ALIASES
from sandbox.scenario.figures import known_figures
from sandbox.scenario.model import Scenario
from sandbox.supervisor.faults import FAULTS

#: The role aliases a fault target may use (see ``fault_targets``).
ROLE_ALIASES = tuple(ALIASES)


def check_scenario(scenario: Scenario, source: str) -> None:
    """Raise a one-line ConfigError (naming ``source``) for the first problem found."""
    variants = {v.name for v in scenario.variants}
    phases = {p.name for p in scenario.phases}
    if len(variants) < len(scenario.variants):
        raise ConfigError(f"{source}: variants: two variants share a name")
    for variant in scenario.variants:
        if variant.baseline is not None and variant.baseline not in variants - {variant.name}:
            raise ConfigError(
                f"{source}: variant {variant.name}: baseline '{variant.baseline}' is not "
                f"another variant; use one of {', '.join(sorted(variants - {variant.name}))}"
            )
        for phase in scenario.phases:
            try:
                scenario.phase_spec(phase, variant)
            except pydantic.ValidationError as exc:
                error = exc.errors()[0]
                key = ".".join(str(part) for part in error["loc"])
                raise ConfigError(
                    f"{source}: phase {phase.name}, variant {variant.name}: load.{key}: "
                    f"{error['msg'].lower()}"
                ) from None
    for fault in scenario.faults:
        if fault.fault not in FAULTS:
            raise ConfigError(
                f"{source}: faults: unknown fault '{fault.fault}'; use one of {', '.join(FAULTS)}"
            )
    figures = known_figures()
    for item in scenario.expect:
        if item.metric not in figures:
            raise ConfigError(
                f"{source}: expect: unknown metric '{item.metric}'; see the report format "
                "in the README (e.g. errors, latency_ms.p99, cache.hit_ratio, downtime_s)"
            )
        if item.variant is not None and item.variant not in variants:
            raise ConfigError(
                f"{source}: expect {item.metric}: no variant '{item.variant}'; use one of "
                f"{', '.join(sorted(variants))}"
            )
        if item.phase is not None and item.phase not in phases:
            raise ConfigError(
                f"{source}: expect {item.metric}: no phase '{item.phase}'; use one of "
                f"{', '.join(p.name for p in scenario.phases)}"
            )
        if item.min is None and item.max is None:
            raise ConfigError(f"{source}: expect {item.metric}: give min, max or both")
    for name in scenario.short.skip:
        if name not in variants:
            raise ConfigError(f"{source}: short.skip: no variant '{name}'")
