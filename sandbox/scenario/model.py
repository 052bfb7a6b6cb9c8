"""The scenario file format, read by ``rdsbox scenario run`` and by the simulator alike.

```yaml
name: failover-under-load
description: Multi-AZ failover while clients write, direct vs proxy.
config: {database: {read_replicas: 1}}   # overrides of rdsbox.yaml for this scenario
load: {rate: 100, strategy: none}        # defaults of every phase (LoadSpec fields)
phases:
  - {name: warm, duration: 5}
  - {name: failover, duration: 15, read_ratio: 0.5}
faults:
  - {at: 8, fault: kill, target: primary}    # seconds from the start of the run
variants:                                  # the whole run once per variant
  - {name: direct, load: {path: writer}}
  - {name: proxy, load: {path: proxy}}
expect:
  - {metric: errors, variant: proxy, max: 0}
```

``target`` is a component name, an endpoint name, or a role alias (``primary``,
``standby``, ``replica``, ``cache_primary``) resolved when the fault fires.

A variant may name a ``baseline`` variant: the report then adds ``reduction_pct.FIGURE``
(how much lower this variant's figure is, in percent of the baseline's) and
``ratio.FIGURE`` for the figures in ``COMPARED``. ``short`` says how ``--short`` shrinks
the run: every phase to ``phase_seconds`` (faults move with their phase), and the variants
in ``skip`` are left out (e.g. ones that need the minutes of the ``aws`` timing profile).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sandbox.workload.spec import LoadSpec


class Phase(BaseModel):
    """A stretch of load with its own options (unset fields come from ``load``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    duration: float = Field(gt=0)
    load: dict[str, Any] = Field(default_factory=dict, description="LoadSpec overrides.")


class TimedFault(BaseModel):
    """A fault applied ``at`` seconds after the run starts."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    at: float = Field(ge=0)
    fault: str
    target: str | None = None
    seconds: float | None = Field(default=None, alias="for", gt=0)
    options: dict[str, Any] = Field(default_factory=dict, description="e.g. ms, jitter.")


class Variant(BaseModel):
    """One way of running the scenario (e.g. direct vs proxy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    load: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    baseline: str | None = Field(
        default=None, description="Variant this one is compared with (reduction_pct.*)."
    )


class Expectation(BaseModel):
    """A bound on a summary figure (dotted key of LoadSummary, e.g. ``cache.hit_ratio``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    variant: str | None = None
    phase: str | None = Field(
        default=None, description="One phase's figure; unset: the variant's whole run."
    )
    min: float | None = None
    max: float | None = None


class ShortForm(BaseModel):
    """How ``--short`` shrinks the scenario (CI, demos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase_seconds: float = Field(default=3.0, gt=0, description="Every phase's duration.")
    skip: tuple[str, ...] = Field(default=(), description="Variants left out.")
    load: dict[str, Any] = Field(default_factory=dict, description="LoadSpec overrides.")


class Scenario(BaseModel):
    """A whole scenario file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    load: dict[str, Any] = Field(default_factory=dict)
    phases: tuple[Phase, ...] = Field(min_length=1)
    faults: tuple[TimedFault, ...] = ()
    variants: tuple[Variant, ...] = (Variant(name="default"),)
    expect: tuple[Expectation, ...] = ()
    short: ShortForm = Field(default_factory=ShortForm)

    def phase_load(
        self, phase: Phase, variant: Variant, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The load fields of one phase under one variant: defaults < load < variant <
        phase < ``extra``. Each phase after the first draws its own request stream (seed
        + its index) unless the phase sets ``seed`` itself: otherwise every phase, a
        separate load run, would replay the first phase's keys in the same order and
        find them all cached."""
        fields = {**self.load, **variant.load, **phase.load, **(extra or {})}
        base = fields.get("seed", LoadSpec.model_fields["seed"].default)
        if "seed" not in phase.load and type(base) is int:  # a bad seed is LoadSpec's to report
            index = next((i for i, p in enumerate(self.phases) if p is phase), 0)
            fields["seed"] = base + index
        fields["duration"] = phase.duration
        return fields

    def phase_spec(self, phase: Phase, variant: Variant) -> LoadSpec:
        """The LoadSpec of one phase under one variant (see :meth:`phase_load`)."""
        return LoadSpec.model_validate(self.phase_load(phase, variant), strict=False)

    @property
    def duration(self) -> float:
        """Seconds of load in one variant."""
        return sum(p.duration for p in self.phases)
