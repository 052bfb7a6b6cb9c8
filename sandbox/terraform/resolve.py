"""Resolve references of one Terraform module: ``var.x`` (defaults, ``*.tfvars``,
``TF_VAR_x``), ``local.x``, ``count.index`` and attributes of other resources.

Only what the configuration itself says is known; attributes that AWS computes (``id``,
``arn``, ``endpoint``), data sources and module outputs are :class:`Unknown`, tagged with
the resource they come from so that a mapper can still tell which instance a
``replicate_source_db = aws_db_instance.primary.arn`` points at.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcl2.api import parses_to_tree
from lark import Tree
from lark.exceptions import LarkError

from sandbox.terraform.expr import Step, Unknown, evaluate
from sandbox.terraform.parse import (
    Attribute,
    Block,
    Module,
    TerraformError,
    Where,
    load_tfvars,
)

AUTO_VAR_FILES = ("terraform.tfvars",)
"""Variable files Terraform reads without being asked (plus ``*.auto.tfvars``)."""


def variable_files(directory: Path, extra: Sequence[Path] = ()) -> list[Path]:
    """The ``.tfvars`` files Terraform would read, in its order (later files win)."""
    auto = [directory / name for name in AUTO_VAR_FILES if (directory / name).is_file()]
    auto += sorted(directory.glob("*.auto.tfvars"))
    return [*auto, *extra]


@dataclass
class Resolver:
    """The scope of one module; evaluates attributes of its blocks on demand."""

    module: Module
    var_files: Sequence[Path] = ()
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _values: dict[str, Attribute] = field(default_factory=dict, init=False)
    _active: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        for path in self.var_files:
            self._values.update(load_tfvars(path))
        self.variables = {b.labels[0]: b for b in self.module.of("variable")}
        self.locals = {
            name: attr
            for block in self.module.of("locals")
            for name, attr in block.attributes.items()
        }
        self.resources = {b.address: b for b in self.module.of("resource")}
        for name, value in self._values.items():
            if name not in self.variables:
                raise TerraformError(
                    f"{value.where}: value for undeclared variable {name}; declare it with "
                    f'variable "{name}" {{}} or remove the line'
                )

    # -- public --------------------------------------------------------------------------
    def attribute(self, block: Block, name: str, count_index: int = 0) -> Any:
        """The value of ``block``'s attribute ``name`` (``None`` when it is not set)."""
        attr = block.attributes.get(name)
        if attr is None:
            return None
        return self.value_of(attr, block.address, count_index)

    def value_of(self, attr: Attribute, owner: str, count_index: int = 0) -> Any:
        """Evaluate one attribute of ``owner`` (cycles are reported, not followed)."""
        key = f"{owner}.{attr.name}"
        if key in self._active:
            raise TerraformError(
                f"{attr.where}: {key} refers back to itself ({' -> '.join(self._active)}); "
                "break the cycle"
            )
        self._active.append(key)
        try:
            return evaluate(attr.expr, attr.where, _Scope(self, count_index))
        finally:
            self._active.pop()

    def count(self, block: Block) -> int:
        """How many instances a resource makes (``count`` or ``for_each``, default 1)."""
        if "for_each" in block.attributes:
            items = self.attribute(block, "for_each")
            if isinstance(items, dict | list):
                return len(items)
            where = block.attributes["for_each"].where
            raise TerraformError(
                f"{where}: {block.address}.for_each is not known before apply "
                f"({getattr(items, 'reason', items)}); use a literal map or count"
            )
        if "count" not in block.attributes:
            return 1
        value = self.attribute(block, "count")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            where = block.attributes["count"].where
            shown = value.reason if isinstance(value, Unknown) else repr(value)
            raise TerraformError(
                f"{where}: {block.address}.count must be a whole number >= 0, got {shown}; "
                "set it (or the variable it uses) to a number"
            )
        return int(value)

    # -- scope ---------------------------------------------------------------------------
    def variable(self, name: str, where: Where) -> Any:
        """``var.NAME``: a .tfvars value, else TF_VAR_NAME, else the default."""
        block = self.variables.get(name)
        if block is None:
            raise TerraformError(
                f'{where}: var.{name} is not declared; add variable "{name}" {{}} or fix the name'
            )
        if name in self._values:
            return self.value_of(self._values[name], f"var.{name}")
        if f"TF_VAR_{name}" in self.environ:
            return _from_environment(self.environ[f"TF_VAR_{name}"])
        if "default" in block.attributes:
            return self.value_of(block.attributes["default"], f"variable.{name}")
        return Unknown(
            f"variable {name} has no default and no value; set it in terraform.tfvars, "
            f"with --var-file or TF_VAR_{name}"
        )

    def resource_attribute(
        self, address: str, steps: Sequence[Step], count_index: int, where: Where
    ) -> Any:
        """``TYPE.NAME[i].attr...`` of a resource declared in this module."""
        block = self.resources.get(address)
        if block is None:
            raise TerraformError(
                f"{where}: {address} is not declared in {self.module.root}; fix the reference"
            )
        rest = list(steps)
        if rest and not isinstance(rest[0], str):
            rest.pop(0)  # an instance index: every instance is alike except count.index
        if not rest:
            return Unknown(f"{address} as a whole is known only after apply", address)
        attribute, more = str(rest[0]), rest[1:]
        if attribute in block.attributes and not more:
            return self.value_of(block.attributes[attribute], address, count_index)
        return Unknown(f"{address}.{attribute} is known only after apply", address)


@dataclass(frozen=True)
class _Scope:
    resolver: Resolver
    count_index: int

    def traverse(self, root: str, steps: Sequence[Step], where: Where) -> Any:
        name = str(steps[0]) if steps else ""
        if root == "var" and steps:
            return _rest(self.resolver.variable(name, where), steps[1:])
        if root == "local" and steps:
            attr = self.resolver.locals.get(name)
            if attr is None:
                raise TerraformError(f"{where}: local.{name} is not defined; fix the name")
            return _rest(self.resolver.value_of(attr, "local", self.count_index), steps[1:])
        if root == "count" and name == "index":
            return self.count_index
        if root == "path":
            return str(self.resolver.module.root)
        if root == "terraform" and name == "workspace":
            return "default"
        if root in ("data", "module", "each", "self"):
            return Unknown(f"{root}.{name} is known only to terraform")
        if steps and isinstance(steps[0], str):
            address = f"{root}.{steps[0]}"
            return self.resolver.resource_attribute(address, steps[1:], self.count_index, where)
        raise TerraformError(f"{where}: cannot resolve {root}; write a value or var.NAME")


def _rest(value: Any, steps: Sequence[Step]) -> Any:
    for step in steps:
        if isinstance(value, Unknown):
            return value
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return Unknown(f"{step!r} is not in {value!r}")
    return value


def _from_environment(text: str) -> Any:
    """A TF_VAR_ value: HCL when it parses as a literal (numbers, lists), else the text."""
    try:
        tree = parses_to_tree(f"v = {text}\n")
    except LarkError:
        return text
    body = tree.children[0]
    assert isinstance(body, Tree)
    attr = next(c for c in body.children if isinstance(c, Tree) and c.data == "attribute")
    expr = attr.children[-1]
    assert isinstance(expr, Tree)
    try:
        return evaluate(expr, Where("TF_VAR", 1), _NoReferences())
    except TerraformError:
        return text


class _NoReferences:
    def traverse(self, root: str, steps: Sequence[Step], where: Where) -> Any:
        raise TerraformError(f"{where}: no references allowed here")
