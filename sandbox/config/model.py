"""The typed, immutable configuration of one sandbox.

Defaults mirror the AWS reference architecture (Multi-AZ RDS PostgreSQL with two read
replicas behind RDS Proxy, a three-node ElastiCache Redis replication group with automatic
failover, and one Secrets Manager secret). Keys reuse the Terraform attribute names of
the resources they emulate, so a reader of the Terraform code recognises them.

Models are strict: YAML ``"2"`` is not an integer and ``"yes"`` is not a boolean, so a
quoting mistake is reported instead of silently coerced.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sandbox.config.instance_classes import rds_max_connections
from sandbox.config.profiles import ProfileName, TimingProfile
from sandbox.config.profiles import timing_profile as build_timing_profile
from sandbox.errors import ConfigError

CONFIG_PROBLEM = "rdsbox_config"
"""Pydantic error type of cross-field problems whose message already names the full key."""

# The highest offset the sandbox adds to port_base is below 50, and every port must stay
# below 32768 so it never collides with the kernel's ephemeral (outgoing) port range.
PORT_OFFSET_LIMIT = 50
PORT_BASE_MIN = 1024
PORT_BASE_MAX = 32768 - PORT_OFFSET_LIMIT


def config_problem(message: str) -> PydanticCustomError:
    """Wrap a one-line message that names its own key path as a pydantic error.

    Used by model validators that check several fields together: pydantic would locate
    those errors at the model, not at a key, so the message carries the key itself.
    """
    return PydanticCustomError(CONFIG_PROBLEM, "{message}", {"message": message})


_RDS_IDENTIFIER_RULE = (
    "1-63 letters, digits and hyphens, starting with a letter, "
    "no trailing hyphen and no two consecutive hyphens"
)


def _check_rds_identifier(value: str, rule: str = _RDS_IDENTIFIER_RULE) -> str:
    """Apply the RDS identifier rule (DB instances, proxies) and say which part failed."""
    if not 1 <= len(value) <= 63:
        problem = f"is {len(value)} characters long"
    elif not value[0].isascii() or not value[0].isalpha():
        problem = "must start with a letter"
    elif not re.fullmatch(r"[A-Za-z0-9-]+", value):
        problem = "may contain only letters, digits and hyphens"
    elif value.endswith("-"):
        problem = "must not end with a hyphen"
    elif "--" in value:
        problem = "must not contain two consecutive hyphens"
    else:
        return value
    raise ValueError(f"{value!r} {problem}; allowed: {rule}")


_PG_IDENTIFIER_RULE = (
    "1-63 characters of a-z, 0-9 and _, starting with a lowercase letter, "
    "not 'postgres' and not starting with 'pg_' or 'rds'"
)


def _check_pg_identifier(value: str) -> str:
    """Apply the rule RDS imposes on the master user name and the initial database name."""
    if not 1 <= len(value) <= 63:
        problem = f"is {len(value)} characters long"
    elif not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        problem = "is not a lowercase PostgreSQL identifier"
    elif value == "postgres" or value.startswith(("pg_", "rds")):
        problem = "is reserved by PostgreSQL or RDS"
    else:
        return value
    raise ValueError(f"{value!r} {problem}; allowed: {_PG_IDENTIFIER_RULE}")


class DatabaseConfig(BaseModel):
    """The RDS PostgreSQL instance (``aws_db_instance``) and its read replicas."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    identifier: str = Field(default="app-primary-db", description="DB instance identifier.")
    engine: Literal["postgres"] = Field(default="postgres", description="Database engine.")
    engine_version: str = Field(
        default="15",
        min_length=1,
        max_length=32,
        description="Engine version; informational, the local PostgreSQL is used as found.",
    )
    instance_class: str = Field(
        default="db.r6g.large",
        description="Instance class; decides max_connections unless that is set.",
    )
    multi_az: bool = Field(default=True, description="Keep a synchronous standby.")
    username: str = Field(default="dbadmin", description="Master user name.")
    db_name: str = Field(default="app_database", description="Initial database name.")
    read_replicas: int = Field(default=2, ge=0, le=15, description="Number of read replicas.")
    max_connections: int | None = Field(
        default=None,
        ge=10,
        le=10000,
        description="max_connections; derived from instance_class like RDS when unset.",
    )

    @field_validator("identifier")
    @classmethod
    def _identifier_rule(cls, value: str) -> str:
        return _check_rds_identifier(value)

    @field_validator("username", "db_name")
    @classmethod
    def _pg_identifier_rule(cls, value: str) -> str:
        return _check_pg_identifier(value)

    @field_validator("engine_version", mode="before")
    @classmethod
    def _version_from_number(cls, value: Any) -> Any:
        # YAML reads `engine_version: 15` as an int; accept it as the text the user meant.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _instance_class_known(self) -> Self:
        # Fail at load time, not when a component first asks for the connection limit.
        if self.max_connections is None:
            try:
                rds_max_connections(self.instance_class)
            except ConfigError as exc:
                raise config_problem(exc.message) from None
        return self

    @property
    def effective_max_connections(self) -> int:
        """``max_connections`` if set, else the RDS default for ``instance_class``."""
        if self.max_connections is not None:
            return self.max_connections
        return rds_max_connections(self.instance_class)


class ProxyConfig(BaseModel):
    """RDS Proxy (``aws_db_proxy`` + its default target group), emulated by PgBouncer."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    enabled: bool = Field(default=True, description="Run the proxy.")
    name: str = Field(default="app-db-proxy", description="Proxy name (RDS identifier rule).")
    idle_client_timeout: int = Field(
        default=1800, ge=1, le=28800, description="Seconds before an idle client is dropped."
    )
    require_tls: bool = Field(default=False, description="Require TLS from clients.")
    max_connections_percent: int = Field(
        default=100,
        ge=1,
        le=100,
        description="Share of the database's max_connections the proxy may open.",
    )
    max_idle_connections_percent: int = Field(
        default=50,
        ge=0,
        le=100,
        description=(
            "Share of max_connections the proxy keeps open while idle; defaults to half "
            "of max_connections_percent, as on AWS."
        ),
    )
    connection_borrow_timeout: int = Field(
        default=120,
        ge=0,
        le=3600,
        description="Seconds a client waits for a pooled connection before an error.",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_idle_share(cls, data: Any) -> Any:
        # AWS defaults MaxIdleConnectionsPercent to half of MaxConnectionsPercent (50 for the
        # default 100), so lowering only max_connections_percent stays valid.
        if isinstance(data, dict) and "max_idle_connections_percent" not in data:
            total = data.get("max_connections_percent")
            if isinstance(total, int) and not isinstance(total, bool):
                return {**data, "max_idle_connections_percent": total // 2}
        return data

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        return _check_rds_identifier(value)

    @model_validator(mode="after")
    def _idle_within_max(self) -> Self:
        # AWS rejects an idle share above the total share; so does the sandbox.
        if self.max_idle_connections_percent > self.max_connections_percent:
            raise config_problem(
                f"proxy.max_idle_connections_percent: {self.max_idle_connections_percent} "
                f"exceeds proxy.max_connections_percent ({self.max_connections_percent}); "
                f"allowed: 0..{self.max_connections_percent}"
            )
        return self

    def pool_size(self, max_connections: int) -> int:
        """Server connections the proxy may open to a database with ``max_connections``."""
        return max(1, max_connections * self.max_connections_percent // 100)

    def idle_pool_size(self, max_connections: int) -> int:
        """Server connections the proxy keeps open while idle (at least 1)."""
        return max(1, max_connections * self.max_idle_connections_percent // 100)


_REPLICATION_GROUP_RULE = (
    "1-40 lowercase letters, digits and hyphens, starting with a letter, "
    "no trailing hyphen and no two consecutive hyphens"
)


class CacheConfig(BaseModel):
    """ElastiCache Redis (``aws_elasticache_replication_group``), emulated with Sentinel."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    replication_group_id: str = Field(
        default="app-redis-cluster", description="Replication group identifier."
    )
    num_cache_clusters: int = Field(
        default=3, ge=1, le=6, description="Nodes in the group: one primary plus replicas."
    )
    automatic_failover_enabled: bool = Field(
        default=True, description="Promote a replica when the primary fails."
    )
    transit_encryption_enabled: bool = Field(default=False, description="Require TLS.")
    node_type: str = Field(default="cache.r6g.large", description="Node type; informational.")

    @field_validator("node_type")
    @classmethod
    def _node_type_form(cls, value: str) -> str:
        # Informational only, but a typo such as "r6g.large" is worth catching early.
        if not re.fullmatch(r"cache\.[a-z0-9]+\.[a-z0-9]+", value):
            raise ValueError(
                f"{value!r} is not a node type; allowed: cache.FAMILY.SIZE, e.g. cache.r6g.large"
            )
        return value

    @field_validator("replication_group_id")
    @classmethod
    def _group_id_rule(cls, value: str) -> str:
        if not 1 <= len(value) <= 40:
            problem = f"is {len(value)} characters long"
        elif not re.fullmatch(r"[a-z][a-z0-9-]*", value):
            problem = "must start with a lowercase letter and hold only a-z, 0-9 and hyphens"
        elif value.endswith("-") or "--" in value:
            problem = "must not end with a hyphen or contain two consecutive hyphens"
        else:
            return value
        raise ValueError(f"{value!r} {problem}; allowed: {_REPLICATION_GROUP_RULE}")

    @model_validator(mode="after")
    def _failover_needs_replica(self) -> Self:
        # Same rule as the ElastiCache API: failover needs a replica to promote.
        if self.automatic_failover_enabled and self.num_cache_clusters < 2:
            raise config_problem(
                "cache.automatic_failover_enabled: true requires cache.num_cache_clusters "
                f">= 2 (got {self.num_cache_clusters}); raise cache.num_cache_clusters "
                "or set cache.automatic_failover_enabled: false"
            )
        return self


class SecretConfig(BaseModel):
    """The Secrets Manager secret holding the database credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str = Field(default="app-db-credentials", description="Secret name.")

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{1,512}", value):
            raise ValueError(
                f"{value!r} is not a valid secret name; "
                "allowed: 1-512 characters of letters, digits and /_+=.@-"
            )
        return value


class SandboxConfig(BaseModel):
    """The whole sandbox: ports, timing and the four emulated services."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    port_base: int = Field(
        default=15400,
        ge=PORT_BASE_MIN,
        le=PORT_BASE_MAX,
        description="First port; every port is port_base + an offset below 50.",
    )
    profile: ProfileName = Field(default="fast", description="Timing preset.")
    timing: dict[str, float] = Field(
        default_factory=dict,
        description="Overrides of the profile's fields, in seconds.",
    )
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    secret: SecretConfig = Field(default_factory=SecretConfig)

    @model_validator(mode="after")
    def _timing_valid(self) -> Self:
        # Building the profile is the validation: unknown fields and bad values fail here.
        try:
            build_timing_profile(self.profile, self.timing)
        except ConfigError as exc:
            raise config_problem(exc.message) from None
        return self

    def timing_profile(self) -> TimingProfile:
        """Return the timing profile: the ``profile`` preset with ``timing`` applied."""
        return build_timing_profile(self.profile, self.timing)

    def with_overrides(
        self, port_base: int | None = None, profile: ProfileName | None = None
    ) -> SandboxConfig:
        """Return a validated copy with the given values replaced (``None`` keeps them).

        Raises:
            ConfigError: the result is invalid (one-line message naming the key).
        """
        # Imported here because the loader imports this module.
        from sandbox.config.loader import config_from_mapping

        data = self.model_dump()
        if port_base is not None:
            data["port_base"] = port_base
        if profile is not None:
            data["profile"] = profile
        return config_from_mapping(data, source="overrides")
