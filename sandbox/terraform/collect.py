"""What a mapping of Terraform resources collects: config values with the place each came
from, the attributes it used, warnings, and the credentials the configuration fixes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.terraform.expr import Json, Unknown, first_unknown
from sandbox.terraform.parse import Block, TerraformError, Where
from sandbox.terraform.resolve import Resolver

# Passwords end up in libpq conninfo strings, PgBouncer's auth file, redis.conf and shell
# `export` lines; a conservative alphabet keeps all of them free of quoting problems.
_SECRET_ALPHABET = re.compile(r"[A-Za-z0-9._~+=-]+")


@dataclass(frozen=True)
class Ignored:
    """A resource, or an attribute of a mapped resource, that has no local counterpart."""

    where: Where
    address: str
    attribute: str | None = None
    reason: str = "no local counterpart"

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``rdsbox plan --json``."""
        return {
            "file": self.where.file,
            "line": self.where.line,
            "resource": self.address,
            "attribute": self.attribute,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Origin:
    """Where a config value came from: a place and the Terraform name of the value."""

    where: Where
    name: str


@dataclass
class Collector:
    """Accumulates the configuration mapping while resources are read."""

    resolver: Resolver
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    origins: dict[tuple[str, ...], Origin] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)
    mapped: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    notes: list[Ignored] = field(default_factory=list)
    db_password: str | None = None
    password_unknown: str | None = None
    redis_auth_token: str | None = None

    def resource(self, block: Block, section: str | None = None) -> None:
        """Mark ``block`` as mapped (its unused attributes are listed as ignored)."""
        self.mapped.add(block.address)
        if section is not None and (section,) not in self.origins:
            self.origins[(section,)] = Origin(block.where, block.address)

    def value(self, block: Block, name: str) -> Any:
        """Evaluate an attribute and mark it used; ``None`` when not set."""
        self.used.add((block.address, name))
        return self.resolver.attribute(block, name)

    def set(self, section: str, key: str, value: Any, block: Block, name: str) -> None:
        """Store a config value and remember where it came from."""
        self.data.setdefault(section, {})[key] = value
        where = block.attributes[name].where if name in block.attributes else block.where
        self.origins[(section, key)] = Origin(where, f"{block.address}.{name}")

    def take(
        self, block: Block, name: str, section: str, key: str | None = None, kind: type = str
    ) -> Any:
        """Copy attribute ``name`` to ``section.key`` when it is set and known.

        Terraform converts "true" and "5" to the type the schema wants; so does this. An
        unknown value keeps the sandbox default, with a warning. Returns the value stored.
        """
        value = self.value(block, name)
        if value is None:
            return None
        if isinstance(first_unknown(value), Unknown):
            self.unknown(block, name, first_unknown(value), "the sandbox default is used")
            return None
        value = convert(value, kind)
        self.set(section, key or name, value, block, name)
        return value

    def unknown(self, block: Block, name: str, value: Unknown | None, outcome: str) -> None:
        """Warn that an attribute stays unknown and say what happens instead."""
        where = block.attributes[name].where if name in block.attributes else block.where
        reason = value.reason if value is not None else "unknown"
        self.warnings.append(f"{where}: {block.address}.{name} is unknown ({reason}); {outcome}")

    def where(self, block: Block, name: str) -> Where:
        """The line of an attribute (of the block when the attribute is absent)."""
        return block.attributes[name].where if name in block.attributes else block.where

    def note_unused(self, nested: Block, owner: str) -> None:
        """List the attributes of a nested block that were not used as ignored."""
        for name, attr in nested.attributes.items():
            if (nested.address, name) not in self.used:
                self.notes.append(Ignored(attr.where, owner, f"{nested.type}.{name}"))

    def secret_text(self, block: Block, name: str, value: Any, lengths: tuple[int, int]) -> str:
        """Check a password or token the sandbox will use; return it."""
        low, high = lengths
        if (
            not isinstance(value, str)
            or not low <= len(value) <= high
            or not _SECRET_ALPHABET.fullmatch(value)
        ):
            raise TerraformError(
                f"{self.where(block, name)}: {block.address}.{name} is not usable by the "
                f"sandbox; allowed: {low}-{high} characters of letters, digits and ._~+=- "
                "(or leave it unset and the sandbox generates one)"
            )
        return value


def convert(value: Any, kind: type) -> Any:
    """Terraform's automatic conversions between strings, numbers and booleans."""
    if isinstance(value, Json):
        return value.value
    if kind is bool and isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if kind is int and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value
