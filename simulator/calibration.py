"""The calibration file: measured service times, connection costs and failover overheads.

The model's mechanism comes from the configuration (pool sizes, ``max_connections``,
replicas, timing profile); how *long* each step takes comes from here. ``rdsbox sim
calibrate`` measures these figures in a running sandbox and writes this file (by
default ``STATE_DIR/calibration.yaml``, which ``rdsbox sim run`` then reads); the
defaults below describe a small local sandbox (loopback network, PostgreSQL on a
laptop core). Every field is optional; unknown keys are errors.

```yaml
# calibration.yaml (JSON works too)
source: "defaults"            # free text: where the figures came from
network_rtt_ms: 0.1           # one client <-> server round trip
db_read_ms: 0.4               # mean service time of one primary-key SELECT
db_write_ms: 1.0              # mean service time of one UPDATE + COMMIT (no standby)
db_service_cv: 0.5            # coefficient of variation of DB service times (lognormal)
db_service_distribution: lognormal  # or exponential (cv 1) or constant (cv 0)
sync_commit_ms: 0.3           # extra commit wait for the synchronous Multi-AZ standby
db_connect_ms: 8.0            # new PostgreSQL connection: TCP + SCRAM + backend fork
proxy_connect_ms: 1.0         # new client connection to the proxy (no backend fork)
proxy_overhead_ms: 0.05       # per query through the proxy
reserved_connections: 3       # max_connections slots kept for superusers
db_workers: null              # parallel DB executions; null = vCPUs of the instance class
redis_op_ms: 0.02             # Redis CPU per command (single-threaded)
value_bytes: 1024             # size of one cached value
key_overhead_bytes: 100       # Redis per-key overhead
cache_maxmemory_mb: null      # null = from cache.node_type (ElastiCache's maxmemory)
write_batch_row_ms: 0.05      # each extra row of a write-behind batch
write_behind_batch: 100       # rows per write-behind flush
write_behind_interval_ms: 100 # pause between flushes
replica_lag_ms: 5.0           # steady-state replication delay of async replicas
promote_s: 0.3                # pg_promote + checkpoint on top of promotion_delay_s
restart_s: 1.0                # crash recovery of a restarted node (no Multi-AZ)
cache_failover_s: 0.5         # Sentinel election + promotion after down-after
retries: 3                    # client retries of a refused / reset attempt
backoff_multiplier: 2.0       # exponential back-off factor on client_backoff_s
start_delay_percentiles_ms:   # open loop: how late the client starts a request (null: on time)
  {0: 0.02, 50: 0.1, 95: 2.0, 99: 6.0, 100: 20.0}
round_trip_extra_percentiles_ms:  # each round trip under load beyond network_rtt_ms (null: 0)
  {0: 0.0, 50: 0.2, 95: 3.0, 99: 8.0, 100: 25.0}
```

The two ``*_percentiles_ms`` maps (percentile 0-100 -> milliseconds) are distributions the
model samples by linear interpolation between the given percentiles. ``rdsbox sim
calibrate`` measures them with a short run of the real load generator: they are the
client side of a laptop under load (thread wake-ups, the GIL, CPU shared with the
servers), which no service time above describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sandbox.errors import ConfigError
from sandbox.statedir import StateDir

CALIBRATION_FILE = "calibration.yaml"
"""The calibration file's name in a state dir (`rdsbox sim run` reads it from there)."""


def state_calibration(state: StateDir) -> Path:
    """Where `rdsbox sim calibrate` stores the calibration of the sandbox in ``state``."""
    return state.root / CALIBRATION_FILE


def _ms(default: float, description: str) -> float:
    """A non-negative duration in milliseconds."""
    result: float = Field(default=default, ge=0.0, allow_inf_nan=False, description=description)
    return result


class Calibration(BaseModel):
    """Service times and overheads the model uses (defaults: a laptop sandbox)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(default="defaults", description="Where the figures came from.")
    network_rtt_ms: float = _ms(0.1, "One client <-> server round trip.")
    db_read_ms: float = _ms(0.4, "Mean service time of a primary-key SELECT.")
    db_write_ms: float = _ms(1.0, "Mean service time of an UPDATE + COMMIT.")
    db_service_cv: float = Field(default=0.5, ge=0.0, le=10.0, description="CV of DB times.")
    db_service_distribution: Literal["lognormal", "exponential", "constant"] = Field(
        default="lognormal", description="Shape of DB service times."
    )
    sync_commit_ms: float = _ms(0.3, "Extra commit wait for the synchronous standby.")
    db_connect_ms: float = _ms(8.0, "New PostgreSQL connection (TCP + SCRAM + fork).")
    proxy_connect_ms: float = _ms(1.0, "New client connection to the proxy.")
    proxy_overhead_ms: float = _ms(0.05, "Added per query through the proxy.")
    reserved_connections: int = Field(default=3, ge=0, description="Superuser slots.")
    db_workers: int | None = Field(
        default=None, ge=1, description="Parallel executions per node; null = vCPUs."
    )
    redis_op_ms: float = _ms(0.02, "Redis CPU per command.")
    value_bytes: int = Field(default=1024, ge=1, description="Bytes per cached value.")
    key_overhead_bytes: int = Field(default=100, ge=0, description="Redis per-key overhead.")
    cache_maxmemory_mb: float | None = Field(
        default=None, gt=0, description="maxmemory; null = from cache.node_type."
    )
    write_batch_row_ms: float = _ms(0.05, "Each extra row of a write-behind batch.")
    write_behind_batch: int = Field(default=100, ge=1, description="Rows per flush.")
    write_behind_interval_ms: float = _ms(100.0, "Pause between write-behind flushes.")
    replica_lag_ms: float = _ms(5.0, "Steady-state lag of async replicas.")
    promote_s: float = Field(default=0.3, ge=0.0, description="pg_promote on top of the delay.")
    restart_s: float = Field(default=1.0, ge=0.0, description="Crash recovery of a restart.")
    cache_failover_s: float = Field(default=0.5, ge=0.0, description="Sentinel election.")
    retries: int = Field(default=3, ge=0, le=100, description="Retries of a failed attempt.")
    backoff_multiplier: float = Field(default=2.0, ge=1.0, description="Back-off growth.")
    start_delay_percentiles_ms: dict[float, float] | None = Field(
        default=None, description="Open loop: client start delay, percentile -> ms."
    )
    round_trip_extra_percentiles_ms: dict[float, float] | None = Field(
        default=None, description="Extra time per round trip under load, percentile -> ms."
    )

    @field_validator("start_delay_percentiles_ms", "round_trip_extra_percentiles_ms")
    @classmethod
    def _distribution(cls, value: dict[float, float] | None) -> dict[float, float] | None:
        if value is None:
            return None
        if len(value) < 2:
            raise ValueError("give at least two percentiles, e.g. {0: 0.1, 100: 5.0}")
        if any(not 0 <= p <= 100 for p in value):
            raise ValueError("percentiles must lie between 0 and 100")
        ordered = [value[p] for p in sorted(value)]
        if any(ms < 0 for ms in ordered) or ordered != sorted(ordered):
            raise ValueError("milliseconds must be >= 0 and grow with the percentile")
        return {p: value[p] for p in sorted(value)}


def load_calibration(path: Path | None) -> Calibration:
    """Read a calibration file (YAML or JSON); ``None`` gives the defaults.

    Raises:
        ConfigError: missing file, bad YAML/JSON or an invalid value (one line).
    """
    if path is None:
        return Calibration()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"calibration file {path}: cannot read it ({exc.strerror or exc}); check the path"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"calibration file {path}: invalid YAML/JSON; fix the syntax") from exc
    if data is None:
        return Calibration()
    if not isinstance(data, dict):
        raise ConfigError(f"calibration file {path}: the top level must be a mapping of keys")
    try:
        return Calibration.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problem = f"unknown key; allowed keys: {', '.join(Calibration.model_fields)}"
        else:
            problem = f"{error.get('input')!r}: {error['msg']}"
        raise ConfigError(f"calibration file {path}: {key}: {problem}") from exc
