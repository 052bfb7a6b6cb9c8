"""What a load run is asked to do (``LoadSpec``) and what it reports (``LoadSummary``).

One contract for ``rdsbox load``, scenario phases and the simulator: the same fields, the
same defaults, the same summary keys (``ops``, ``errors``, ``throughput``, ``latency_ms``,
``cache``, ``errors_by_kind`` are relied on by scripts: extend, never rename).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Strategy = Literal["none", "cache-aside", "write-through", "write-behind"]
Path = Literal["proxy", "writer", "reader"]
Connections = Literal["pooled", "per-request"]
Mode = Literal["open", "closed"]
Stampede = Literal["none", "lock", "early-refresh"]
Fill = Literal["plain", "versioned"]
ErrorKind = Literal["refused", "reset", "timeout", "auth", "sql", "other"]

ERROR_KINDS: tuple[ErrorKind, ...] = ("refused", "reset", "timeout", "auth", "sql", "other")


class LoadSpec(BaseModel):
    """Options of one load run (or one scenario phase)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    mode: Mode = Field(default="open", description="open: constant arrival rate; closed: N users.")
    rate: float = Field(default=200.0, gt=0, description="Requests per second (open loop).")
    duration: float = Field(default=10.0, gt=0, description="Seconds of load.")
    read_ratio: float = Field(default=0.9, ge=0, le=1, description="Share of reads.")
    keys: int = Field(default=1000, ge=1, description="Distinct user ids touched.")
    zipf: float = Field(default=1.1, ge=0, description="Zipf exponent of popularity; 0 = uniform.")
    strategy: Strategy = Field(default="cache-aside", description="Caching strategy.")
    path: Path = Field(default="proxy", description="Database endpoint for reads.")
    connections: Connections = Field(default="pooled", description="Pooled or per-request.")
    concurrency: int = Field(default=8, ge=1, description="In-flight requests (per worker).")
    workers: int = Field(default=1, ge=1, description="Worker processes.")
    ttl: float = Field(default=60.0, gt=0, description="Cache TTL in seconds.")
    ttl_jitter: float = Field(default=0.1, ge=0, le=1, description="TTL jitter as a share.")
    stampede: Stampede = Field(default="none", description="Stampede protection.")
    fill: Fill = Field(
        default="plain",
        description="Cache writes: plain SET/DEL, or versioned (tombstones and compare-and-set, "
        "which removes the stale-set race).",
    )
    timeout: float = Field(default=2.0, gt=0, description="Per-request timeout in seconds.")
    seed: int = Field(default=1, description="Seed of the request stream.")


class LatencySummary(BaseModel):
    """Latency percentiles in milliseconds, measured from each request's intended start."""

    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    mean: float = 0.0


class CacheSummary(BaseModel):
    """Cache lookups made by the application."""

    hits: int = 0
    misses: int = 0
    hit_ratio: float = 0.0


class LoadSummary(BaseModel):
    """What a load run (sandbox or simulator) reports; ``--json`` prints this object."""

    ops: int = 0
    errors: int = 0
    throughput: float = 0.0
    latency_ms: LatencySummary = Field(default_factory=LatencySummary)
    cache: CacheSummary = Field(default_factory=CacheSummary)
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    duration_s: float = 0.0
    reads: int = 0
    writes: int = 0
    stale_reads: int = 0
    source: Literal["sandbox", "simulator"] = "sandbox"
    started_at: float = Field(default=0.0, description="Clock time the load started.")
    longest_write_gap_s: float = Field(
        default=0.0,
        description="Longest stretch without a successful write (10 ms resolution), from the "
        "start to the end of the run: a failover's downtime as the application saw it.",
    )
    lost_writes: int = Field(
        default=0,
        description="write-behind: keys whose last acknowledged update never reached the "
        "database (checked after the flusher drained).",
    )
    start_delay_ms: LatencySummary = Field(
        default_factory=LatencySummary,
        description="How late requests started after their intended start: the load "
        "generator's own scheduling delay (open loop), part of latency_ms. Large values "
        "mean the load generator itself is short of CPU.",
    )
    percentiles_ms: dict[str, dict[float, float]] = Field(
        default_factory=dict,
        exclude=True,
        description="latency / start_delay / service (start to answer): milliseconds at "
        "fine-grained percentiles (not printed; the simulator's calibration uses them).",
    )
    write_ok_ticks: list[int] = Field(
        default_factory=list,
        exclude=True,
        description="10-ms ticks since started_at with a successful write (not printed).",
    )
