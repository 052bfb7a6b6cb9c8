"""``--short``: the same scenario in a few seconds per phase, for CI and demos.

Every phase lasts ``short.phase_seconds``; a fault keeps its place within its phase (at a
third of the phase stays at a third) and its duration shrinks by the same factor; the
variants in ``short.skip`` are left out and ``short.load`` overrides the load defaults
(e.g. a lower rate).
"""

from __future__ import annotations

from sandbox.scenario.model import Phase, Scenario, TimedFault


def phase_bounds(phases: tuple[Phase, ...]) -> list[tuple[float, float]]:
    """``(start, end)`` of each phase in seconds of load."""
    bounds, start = [], 0.0
    for phase in phases:
        bounds.append((start, start + phase.duration))
        start += phase.duration
    return bounds


def map_time(at: float, old: tuple[Phase, ...], new: tuple[Phase, ...]) -> tuple[float, float]:
    """Where ``at`` (seconds into ``old``) lands in ``new``, and the stretch factor there."""
    old_bounds, new_bounds = phase_bounds(old), phase_bounds(new)
    index = next((i for i, (_, end) in enumerate(old_bounds) if at < end), len(old) - 1)
    (old_start, _), (new_start, _) = old_bounds[index], new_bounds[index]
    factor = new[index].duration / old[index].duration
    return new_start + (at - old_start) * factor, factor


def shorten(scenario: Scenario) -> Scenario:
    """The short form of ``scenario``."""
    short = scenario.short
    phases = tuple(p.model_copy(update={"duration": short.phase_seconds}) for p in scenario.phases)
    faults: list[TimedFault] = []
    for fault in scenario.faults:
        at, factor = map_time(fault.at, scenario.phases, phases)
        seconds = fault.seconds * factor if fault.seconds is not None else None
        faults.append(fault.model_copy(update={"at": round(at, 3), "seconds": seconds}))
    variants = tuple(v for v in scenario.variants if v.name not in short.skip)
    return scenario.model_copy(
        update={
            "phases": phases,
            "faults": tuple(faults),
            "variants": variants,
            "load": {**scenario.load, **short.load},
        }
    )
