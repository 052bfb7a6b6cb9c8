"""RDS instance classes and the ``max_connections`` RDS derives from their memory.

RDS for PostgreSQL sets ``max_connections`` by default to
``LEAST({DBInstanceClassMemory/9531392}, 5000)``. The sandbox runs on one machine, so it
cannot have the memory of a ``db.r6g.large``; it only borrows the *connection limit* such
an instance would have, so that pool sizes and "too many connections" behave like AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sandbox.errors import ConfigError

# Divisor and cap of the RDS PostgreSQL default parameter group formula.
_BYTES_PER_CONNECTION = 9531392
_MAX_CONNECTIONS_CAP = 5000
_GIB = 1024**3

# Families sharing one size ladder, with the nominal memory (GiB) of each size. Built from
# families x sizes rather than listed one class per line, so a new family is one word.
_BURSTABLE_SIZES: Mapping[str, int] = {
    "micro": 1,
    "small": 2,
    "medium": 4,
    "large": 8,
    "xlarge": 16,
    "2xlarge": 32,
}
_GENERAL_SIZES: Mapping[str, int] = {
    "large": 8,
    "xlarge": 16,
    "2xlarge": 32,
    "4xlarge": 64,
    "8xlarge": 128,
    "12xlarge": 192,
    "16xlarge": 256,
    "24xlarge": 384,
}
# Memory-optimised classes have twice the memory of the general-purpose class of that size.
_MEMORY_SIZES: Mapping[str, int] = {size: gib * 2 for size, gib in _GENERAL_SIZES.items()}

_LADDERS: tuple[tuple[tuple[str, ...], Mapping[str, int]], ...] = (
    (("t3", "t4g"), _BURSTABLE_SIZES),
    (("m5", "m6g", "m6i", "m7g"), _GENERAL_SIZES),
    (("r5", "r6g", "r6i", "r7g"), _MEMORY_SIZES),
)

# Read-only view: the table is module-level, so it must not be mutable global state.
INSTANCE_CLASS_MEMORY_GIB: Mapping[str, int] = MappingProxyType(
    {
        f"db.{family}.{size}": gib
        for families, sizes in _LADDERS
        for family in families
        for size, gib in sizes.items()
    }
)


def known_instance_classes() -> list[str]:
    """Return every instance class the sandbox knows, in table order (family, then size)."""
    return list(INSTANCE_CLASS_MEMORY_GIB)


def _summary() -> str:
    """Describe the known classes compactly, e.g. ``db.{t3,t4g}.{micro,...,2xlarge}``."""
    parts = [f"db.{{{','.join(families)}}}.{{{','.join(sizes)}}}" for families, sizes in _LADDERS]
    return ", ".join(parts)


def rds_max_connections(instance_class: str) -> int:
    """Return the default ``max_connections`` RDS PostgreSQL gives ``instance_class``.

    Uses ``LEAST(DBInstanceClassMemory/9531392, 5000)`` with DBInstanceClassMemory taken
    as the nominal memory (GiB * 1024**3). Real RDS subtracts memory reserved for the OS
    and RDS processes before applying the formula, so the figure AWS shows is a little
    lower (a real ``db.t3.micro`` reports somewhat fewer than the 112 computed here).

    Examples: ``db.t3.micro`` -> 112, ``db.r6g.large`` -> 1802.

    Raises:
        ConfigError: ``instance_class`` is not in the table (one-line message naming the
            known classes and the ``database.max_connections`` escape hatch).
    """
    gib = INSTANCE_CLASS_MEMORY_GIB.get(instance_class)
    if gib is None:
        raise ConfigError(
            f"database.instance_class: unknown instance class {instance_class!r}; "
            f"use one of {_summary()}, or set database.max_connections"
        )
    return min(gib * _GIB // _BYTES_PER_CONNECTION, _MAX_CONNECTIONS_CAP)
