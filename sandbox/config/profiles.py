"""Timing profiles: every delay of the simulated control plane, as one immutable model.

Two presets exist. ``fast`` makes failovers take about a second so tests and demos are
quick; ``aws`` uses delays taken from AWS's published figures so the *shape* and the
*duration* of a recovery look like the real service (Multi-AZ failover of 60-120 s for
direct connections, much less through RDS Proxy).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.errors import ConfigError

ProfileName = Literal["fast", "aws"]
"""Name of a timing preset."""

PROFILE_NAMES: tuple[str, ...] = get_args(ProfileName)


def _seconds(description: str) -> float:
    """Declare a non-negative, finite duration field (typed as float for mypy's sake)."""
    # Field() returns Any; the annotation on the model attribute carries the real type.
    result: float = Field(ge=0.0, allow_inf_nan=False, description=description)
    return result


class TimingProfile(BaseModel):
    """Every delay of the sandbox's simulated control plane, in seconds (all >= 0)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    health_check_interval_s: float = _seconds(
        "Time between two health checks the supervisor runs against each node."
    )
    health_check_timeout_s: float = _seconds(
        "How long one health check may take before it counts as failed."
    )
    failure_detection_s: float = _seconds(
        "How long a node must keep failing checks before it counts as failed."
    )
    crash_detection_s: float = _seconds(
        "How long the control plane takes to act on a node whose process is gone (RDS learns "
        "of a host failure from its health checks; the sandbox sees the exit at once)."
    )
    promotion_delay_s: float = _seconds(
        "Control-plane delay between declaring the primary failed and promoting the standby."
    )
    dns_update_delay_s: float = _seconds(
        "Time from the promotion until the writer endpoint's DNS record points at the new primary."
    )
    dns_ttl_s: float = _seconds(
        "How long clients keep using a cached (old) DNS answer for an endpoint."
    )
    proxy_detection_s: float = _seconds(
        "Time for the proxy to notice a new writer; it watches the nodes, not DNS."
    )
    client_backoff_s: float = _seconds(
        "Pause a client takes before it retries a connection (load generator, simulator)."
    )
    replica_repoint_delay_s: float = _seconds(
        "Time until read replicas follow the new primary after a promotion."
    )
    rejoin_delay_s: float = _seconds(
        "Time before a recovered former primary rejoins as a standby or replica."
    )
    sentinel_down_after_s: float = _seconds(
        "Redis Sentinel down-after-milliseconds, in seconds: silence before a node is down."
    )
    sentinel_failover_timeout_s: float = _seconds("Redis Sentinel failover-timeout, in seconds.")
    startup_timeout_s: float = _seconds(
        "How long the supervisor waits for a component to become ready at start."
    )
    shutdown_timeout_s: float = _seconds(
        "How long the supervisor waits for a component to stop before killing it."
    )
    restart_backoff_initial_s: float = _seconds(
        "Wait before retrying a restart or rejoin that failed; it doubles with each failure "
        "in a row (the first attempt is never delayed)."
    )
    restart_backoff_max_s: float = _seconds(
        "Longest wait between two attempts of a restart or rejoin that keeps failing."
    )
    standby_check_interval_s: float = _seconds(
        "How long a Multi-AZ standby's last good health check stands (its process is "
        "watched all the time): not readable, it answers each check with a refused login."
    )
    metrics_interval_s: float = _seconds(
        "Time between two samples of the metrics collector; 0 turns the collector off."
    )


_FAST = TimingProfile(
    health_check_interval_s=0.1,
    health_check_timeout_s=1.0,
    failure_detection_s=0.6,
    crash_detection_s=0.0,
    promotion_delay_s=0.0,
    dns_update_delay_s=0.0,
    dns_ttl_s=0.0,
    proxy_detection_s=0.0,
    client_backoff_s=0.1,
    replica_repoint_delay_s=0.0,
    rejoin_delay_s=0.5,
    sentinel_down_after_s=0.5,
    sentinel_failover_timeout_s=5.0,
    startup_timeout_s=30.0,
    shutdown_timeout_s=10.0,
    restart_backoff_initial_s=0.1,
    restart_backoff_max_s=5.0,
    standby_check_interval_s=1.0,
    metrics_interval_s=1.0,
)

# Direct connection to the writer endpoint during a Multi-AZ failover:
# detection 15 + promotion 20 + DNS update 25 + DNS TTL 5 + backoff 1 = 66 s,
# inside AWS's "failovers typically complete within 60-120 seconds".
# Through RDS Proxy, DNS drops out: 15 + 20 + proxy detection 3 = 38 s, i.e. the proxy
# cuts the outage by ~42%, within AWS's "reduces failover time by up to 66%".
# Detection is the same for a crash and for a hang: RDS sees neither process exits.
_AWS = TimingProfile(
    health_check_interval_s=1.0,  # RDS monitors instance health continuously; 1 s polling.
    health_check_timeout_s=2.0,  # A hung host answers nothing; give up after 2 s.
    failure_detection_s=15.0,  # First part of the 60-120 s Multi-AZ failover window.
    crash_detection_s=15.0,  # A crashed host is noticed by the same health checks.
    promotion_delay_s=20.0,  # Standby promotion, second part of the 60-120 s window.
    dns_update_delay_s=25.0,  # CNAME flip to the new primary, last part of the window.
    dns_ttl_s=5.0,  # RDS endpoint DNS records have a 5 s TTL.
    proxy_detection_s=3.0,  # RDS Proxy tracks the writer itself: "up to 66%" faster.
    client_backoff_s=1.0,  # AWS SDK-style retry with a 1 s pause.
    replica_repoint_delay_s=10.0,  # Replicas reconnect to the new source within seconds.
    rejoin_delay_s=30.0,  # The old primary is rebuilt as standby after the failover.
    sentinel_down_after_s=5.0,  # ElastiCache detects a failed primary within seconds.
    sentinel_failover_timeout_s=30.0,  # ElastiCache promotes a replica in well under 1 min.
    startup_timeout_s=60.0,
    shutdown_timeout_s=20.0,
    restart_backoff_initial_s=1.0,  # RDS retries a failed instance recovery in the background.
    restart_backoff_max_s=60.0,
    standby_check_interval_s=5.0,  # RDS watches the standby's host, not client logins.
    metrics_interval_s=1.0,  # Like RDS Enhanced Monitoring's finest granularity (1 s).
)

# Read-only: presets are shared module state and must never be changed in place.
_PRESETS: Mapping[str, TimingProfile] = MappingProxyType({"fast": _FAST, "aws": _AWS})


def timing_field_names() -> list[str]:
    """Return the names of all TimingProfile fields, in declaration order."""
    return list(TimingProfile.model_fields)


def timing_profile(
    name: ProfileName, overrides: Mapping[str, float] | None = None
) -> TimingProfile:
    """Return the preset ``name`` with ``overrides`` (field name -> seconds) applied.

    The result is validated like the presets (every value a finite number >= 0).

    Raises:
        ConfigError: unknown profile name, unknown field (message names ``timing.FIELD``
            and the allowed field names) or a bad value; always a one-line message.
    """
    preset = _PRESETS.get(name)
    if preset is None:
        raise ConfigError(f"profile: unknown profile {name!r}; allowed: {', '.join(PROFILE_NAMES)}")
    if not overrides:
        return preset
    allowed = timing_field_names()
    for key in overrides:
        if key not in TimingProfile.model_fields:
            raise ConfigError(f"timing.{key}: unknown timing field; allowed: {', '.join(allowed)}")
    try:
        # model_copy(update=...) would skip validation; rebuild so overrides are checked.
        return TimingProfile.model_validate({**preset.model_dump(), **overrides})
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        value = error.get("input")
        raise ConfigError(
            f"timing.{key}: {value!r} is not a valid duration; "
            "allowed: a finite number of seconds >= 0"
        ) from None
