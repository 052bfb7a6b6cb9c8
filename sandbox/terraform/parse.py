"""Read a Terraform directory into blocks and attributes that remember their file and line.

python-hcl2 parses the text; we walk its syntax tree (not its dict output) because the
tree keeps line numbers and leaves expressions unevaluated, so references and
interpolations can be resolved later (:mod:`sandbox.terraform.resolve`) and every problem
can name ``FILE:LINE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hcl2.api import parses_to_tree
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

from sandbox.errors import ConfigError


class TerraformError(ConfigError):
    """A Terraform file cannot be read or holds a value rdsbox cannot emulate."""


@dataclass(frozen=True)
class Where:
    """A place in a Terraform file, shown as ``FILE:LINE``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Attribute:
    """``name = expression``, with the expression left as a syntax tree."""

    name: str
    expr: Tree[Token]
    where: Where


@dataclass
class Block:
    """``type "label" ... { ... }``: attributes and nested blocks, in file order."""

    type: str
    labels: tuple[str, ...]
    where: Where
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    @property
    def address(self) -> str:
        """``TYPE.NAME`` for resources, ``data.TYPE.NAME``, ``variable.NAME``..."""
        if self.type == "resource":
            return ".".join(self.labels)
        return ".".join((self.type, *self.labels))

    def nested(self, type_: str) -> list[Block]:
        """Nested blocks of one type."""
        return [b for b in self.blocks if b.type == type_]


@dataclass
class Module:
    """Every top-level block of the ``*.tf`` files of one directory."""

    root: Path
    blocks: list[Block] = field(default_factory=list)

    def of(self, type_: str) -> list[Block]:
        """Top-level blocks of one type (``resource``, ``variable``, ``locals``...)."""
        return [b for b in self.blocks if b.type == type_]

    def resources(self, resource_type: str) -> list[Block]:
        """Resources of one type, e.g. ``aws_db_instance``."""
        return [b for b in self.of("resource") if b.labels[0] == resource_type]


def load_module(directory: Path) -> Module:
    """Parse every ``*.tf`` file of ``directory`` (not its subdirectories, like Terraform).

    Raises:
        TerraformError: no such directory, no ``.tf`` file, or a file that does not parse
            (``FILE:LINE: invalid HCL: ...``).
    """
    if not directory.is_dir():
        raise TerraformError(
            f"Terraform directory {directory} not found; pass the folder that holds the .tf files"
        )
    files = sorted(directory.glob("*.tf"))
    if not files:
        raise TerraformError(
            f"{directory} holds no .tf file; pass the folder of the Terraform root module"
        )
    module = Module(directory)
    for path in files:
        module.blocks += _top_level_blocks(_parse_file(path))
    return module


def load_tfvars(path: Path) -> dict[str, Attribute]:
    """Parse a ``.tfvars`` file: top-level ``name = value`` lines only.

    Raises:
        TerraformError: missing or unparsable file, or a block in it.
    """
    if not path.is_file():
        raise TerraformError(f"variable file {path} not found; check the path")
    values: dict[str, Attribute] = {}
    for item in _body(_parse_file(path)):
        if isinstance(item, Block):
            raise TerraformError(
                f"{item.where}: a .tfvars file holds only `name = value` lines, "
                f"not a {item.type} block; move the block to a .tf file"
            )
        values[item.name] = item
    return values


def display(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _parse_file(path: Path) -> tuple[Tree[Token], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TerraformError(f"{display(path)}: cannot read: {exc}; check the file") from exc
    try:
        return parses_to_tree(text), display(path)
    except UnexpectedInput as exc:
        expected = sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
        hint = f" (expected one of {', '.join(expected[:6])})" if expected else ""
        raise TerraformError(
            f"{display(path)}:{exc.line}: invalid HCL at column {exc.column}{hint}; "
            "fix the syntax (`terraform validate` shows the same spot)"
        ) from exc
    except LarkError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TerraformError(f"{display(path)}: invalid HCL: {first}; fix the syntax") from exc


def _top_level_blocks(parsed: tuple[Tree[Token], str]) -> list[Block]:
    """The top-level blocks of a parsed file (attributes outside blocks are not allowed)."""
    items = _body(parsed)
    for item in items:
        if isinstance(item, Attribute):
            raise TerraformError(
                f"{item.where}: attribute {item.name} outside any block; "
                "a .tf file holds blocks (variable values belong in a .tfvars file)"
            )
    return [item for item in items if isinstance(item, Block)]


def _body(parsed: tuple[Tree[Token], str]) -> list[Block | Attribute]:
    tree, file = parsed
    body = tree.children[0]
    assert isinstance(body, Tree)
    return _items(body, file)


def _items(body: Tree[Token], file: str) -> list[Block | Attribute]:
    items: list[Block | Attribute] = []
    for child in body.children:
        if not isinstance(child, Tree):
            continue
        if child.data == "attribute":
            name = _name(child.children[0])
            expr = child.children[-1]
            assert isinstance(expr, Tree)
            items.append(Attribute(name, expr, Where(file, child.meta.line)))
        elif child.data == "block":
            items.append(_block(child, file))
    return items


def _block(tree: Tree[Token], file: str) -> Block:
    parts = [c for c in tree.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]
    body = parts[-1]
    labels = tuple(_name(p) for p in parts[1:-1])
    block = Block(_name(parts[0]), labels, Where(file, tree.meta.line))
    for item in _items(body, file):
        if isinstance(item, Attribute):
            block.attributes[item.name] = item
        else:
            block.blocks.append(item)
    return block


def _name(tree: Tree[Token] | Token) -> str:
    """The text of an identifier, keyword or quoted label."""
    if isinstance(tree, Token):
        return str(tree)
    if tree.data == "string":
        return "".join(
            str(part.children[0])
            for part in tree.children
            if isinstance(part, Tree) and isinstance(part.children[0], Token)
        )
    return "".join(_name(child) for child in tree.children)
