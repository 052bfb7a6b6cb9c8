"""Evaluate the small part of the Terraform expression language that configurations of
databases use: literals, strings with ``${...}``, references, lists, objects, a few
functions (``jsonencode``, ``lower``, ``format``...), operators and ``a ? b : c``.

A value that Terraform itself would know only after ``apply`` (a computed attribute, a
data source, a variable without a value) evaluates to :class:`Unknown`, which spreads
through every expression that uses it. The caller decides what an unknown value means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lark import Token, Tree

from sandbox.terraform.parse import TerraformError, Where


@dataclass(frozen=True)
class Unknown:
    """A value known only after ``terraform apply``; ``source`` names the resource it
    comes from (``aws_db_instance.primary``) when it is one of its attributes."""

    reason: str
    source: str | None = None


@dataclass(frozen=True)
class Json:
    """The result of ``jsonencode(value)``: kept as a value so that a caller can read its
    fields even when one of them (a password) is unknown."""

    value: Any


Step = str | int | Any
"""One step of a reference: an attribute name or an index value."""


class Scope(Protocol):
    """What references resolve against (``var.x``, ``aws_db_instance.primary.identifier``)."""

    def traverse(self, root: str, steps: Sequence[Step], where: Where) -> Any:
        """The value of ``root.step.step...``."""


def evaluate(expr: Tree[Token], where: Where, scope: Scope) -> Any:
    """Evaluate one expression tree; raise :class:`TerraformError` for syntax rdsbox does
    not evaluate, naming ``FILE:LINE``."""
    return _Evaluator(where, scope).eval(expr)


def first_unknown(value: Any) -> Unknown | None:
    """The first :class:`Unknown` inside ``value`` (lists, objects, ``Json``), if any."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Json):
        return first_unknown(value.value)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        found = first_unknown(item)
        if found is not None:
            return found
    return None


def to_text(value: Any) -> str:
    """Terraform's conversion of a primitive to a string (as in ``"${x}"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Json):
        return json.dumps(value.value, separators=(",", ":"))
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"cannot use {type(value).__name__} as text")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if body[0] in "uU":
            return chr(int(body[1:], 16))
        return _ESCAPES.get(body, match.group(0))

    return re.sub(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", one, text)


def _format(pattern: str, *args: Any) -> str:
    values = iter(args)

    def one(match: re.Match[str]) -> str:
        return "%" if match.group(0) == "%%" else to_text(next(values))

    return re.sub(r"%%|%[-+# 0-9.]*[sdvfqt]", one, pattern)


def _json_plain(value: Any) -> Any:
    return value.value if isinstance(value, Json) else value


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "jsonencode": lambda value: Json(_json_plain(value)),
    "jsondecode": lambda text: Json(json.loads(text)).value,
    "lower": lambda text: str(text).lower(),
    "upper": lambda text: str(text).upper(),
    "tostring": to_text,
    "tonumber": lambda v: v if isinstance(v, int | float) else json.loads(str(v)),
    "tobool": lambda v: v if isinstance(v, bool) else {"true": True, "false": False}[str(v)],
    "format": _format,
    "join": lambda sep, items: str(sep).join(to_text(i) for i in items),
    "length": len,
    "min": min,
    "max": max,
    "coalesce": lambda *items: next(i for i in items if i not in (None, "")),
    "lookup": lambda mapping, key, *default: (
        mapping.get(key, *default[:1]) if default else mapping[key]
    ),
    "replace": lambda text, old, new: str(text).replace(str(old), str(new)),
}

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: a % b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "&&": lambda a, b: a and b,
    "||": lambda a, b: a or b,
}


def _trees(tree: Tree[Token]) -> list[Tree[Token]]:
    """Child trees that carry meaning (new lines and comments dropped)."""
    return [c for c in tree.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _tokens(tree: Tree[Token]) -> list[Token]:
    return [c for c in tree.children if isinstance(c, Token)]


class _Evaluator:
    """One evaluation: the attribute's place (for messages) and the scope."""

    def __init__(self, where: Where, scope: Scope) -> None:
        self.where = where
        self.scope = scope

    def at(self, tree: Tree[Token]) -> Where:
        line = getattr(tree.meta, "line", None) if not tree.meta.empty else None
        # Lines are absolute: the whole file was parsed at once.
        return Where(self.where.file, line or self.where.line)

    def unsupported(self, tree: Tree[Token], what: str) -> TerraformError:
        return TerraformError(
            f"{self.at(tree)}: {what} is not evaluated by rdsbox; "
            "write the value (or a var.NAME with a default) instead"
        )

    def eval(self, tree: Tree[Token]) -> Any:
        handler = getattr(self, f"_{tree.data}", None)
        if handler is None:
            raise self.unsupported(tree, f"a {str(tree.data).replace('_', ' ')}")
        return handler(tree)

    # -- terms ---------------------------------------------------------------------------
    def _expr_term(self, tree: Tree[Token]) -> Any:
        (inner,) = _trees(tree)
        return self.eval(inner)

    def _int_lit(self, tree: Tree[Token]) -> Any:
        return int(_tokens(tree)[0])

    def _float_lit(self, tree: Tree[Token]) -> Any:
        return float(_tokens(tree)[0])

    def _literal_value(self, tree: Tree[Token]) -> Any:
        return {"true": True, "false": False, "null": None}[str(_tokens(tree)[0])]

    def _identifier(self, tree: Tree[Token]) -> Any:
        return self.scope.traverse(str(_tokens(tree)[0]), (), self.at(tree))

    def _string(self, tree: Tree[Token]) -> Any:
        parts: list[Any] = []
        for part in _trees(tree):
            (piece,) = part.children
            if isinstance(piece, Token):
                text = str(piece)
                escaped = piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE")
                parts.append(text[1:] if escaped else _unescape(text))
            elif piece.data == "interpolation":
                parts.append(self.eval(_trees(piece)[0]))
            else:
                raise self.unsupported(piece, "a %{ } template directive")
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0]  # "${x}" keeps x's type, as in Terraform
        unknown = first_unknown(parts)
        if unknown is not None:
            return unknown
        try:
            return "".join(to_text(p) for p in parts)
        except ValueError as exc:
            raise TerraformError(f"{self.at(tree)}: {exc} in a string; fix the expression") from exc

    def _heredoc_template(self, tree: Tree[Token]) -> Any:
        raise self.unsupported(tree, "a heredoc")

    _heredoc_template_trim = _heredoc_template

    def _tuple(self, tree: Tree[Token]) -> Any:
        return [self.eval(item) for item in _trees(tree)]

    def _object(self, tree: Tree[Token]) -> Any:
        result: dict[str, Any] = {}
        for elem in _trees(tree):
            key_tree, value_tree = _trees(elem)
            (key_expr,) = _trees(key_tree)
            inner = _trees(key_expr)
            if key_expr.data == "expr_term" and inner and inner[0].data == "identifier":
                key: Any = str(_tokens(inner[0])[0])  # a bare name is the key, not a reference
            else:
                key = self.eval(key_expr)
            result[to_text(key) if not isinstance(key, Unknown) else str(key)] = self.eval(
                value_tree
            )
        return result

    # -- references ----------------------------------------------------------------------
    def _traversal(self, tree: Tree[Token]) -> Any:
        steps: list[Step] = []
        node = tree
        while node.data in ("get_attr_expr_term", "index_expr_term", "expr_term"):
            children = _trees(node)
            if node.data == "expr_term":
                if len(children) != 1 or children[0].data not in (
                    "get_attr_expr_term",
                    "index_expr_term",
                    "identifier",
                ):
                    break
                node = children[0]
                continue
            base, step = children
            if step.data == "get_attr":
                steps.append(_name_of(step))
            elif step.data == "braces_index":
                steps.append(self.eval(_trees(step)[0]))
            else:  # short_index: .0
                steps.append(int(_tokens(step)[-1]))
            node = base
        if node.data != "identifier":
            value = self.eval(node)
            for item in reversed(steps):
                value = _step_into(value, item)
            return value
        return self.scope.traverse(str(_tokens(node)[0]), steps[::-1], self.at(tree))

    _get_attr_expr_term = _traversal
    _index_expr_term = _traversal

    def _attr_splat_expr_term(self, tree: Tree[Token]) -> Any:
        return Unknown("a splat expression ([*]) is evaluated only by terraform")

    _full_splat_expr_term = _attr_splat_expr_term
    _for_tuple_expr = _attr_splat_expr_term
    _for_object_expr = _attr_splat_expr_term

    # -- functions and operators ---------------------------------------------------------
    def _function_call(self, tree: Tree[Token]) -> Any:
        children = _trees(tree)
        name = "".join(str(t) for t in _tokens(children[0]))
        args_tree = children[1] if len(children) > 1 and children[1].data == "arguments" else None
        args = [self.eval(a) for a in _trees(args_tree)] if args_tree is not None else []
        function = _FUNCTIONS.get(name)
        if function is None:
            return Unknown(f"function {name}() is evaluated only by terraform")
        if name != "jsonencode":
            unknown = first_unknown(args)
            if unknown is not None:
                return unknown
        try:
            return function(*args)
        except Exception as exc:
            raise TerraformError(
                f"{self.at(tree)}: {name}() failed on its arguments ({exc}); fix the call"
            ) from exc

    def _binary_op(self, tree: Tree[Token]) -> Any:
        left_tree, term = _trees(tree)
        operator_tree, right_tree = _trees(term)
        operator = str(_tokens(operator_tree)[0])
        left, right = self.eval(left_tree), self.eval(right_tree)
        unknown = first_unknown([left, right])
        if unknown is not None:
            return unknown
        try:
            return _BINARY[operator](left, right)
        except Exception as exc:
            raise TerraformError(
                f"{self.at(tree)}: cannot compute {left!r} {operator} {right!r}; fix the expression"
            ) from exc

    def _unary_op(self, tree: Tree[Token]) -> Any:
        operator = str(_tokens(tree)[0])
        value = self.eval(_trees(tree)[0])
        if isinstance(value, Unknown):
            return value
        return -value if operator == "-" else not value

    def _conditional(self, tree: Tree[Token]) -> Any:
        condition, yes, no = _trees(tree)
        chosen = self.eval(condition)
        if isinstance(chosen, Unknown):
            return chosen
        return self.eval(yes if chosen else no)


def _name_of(get_attr: Tree[Token]) -> str:
    (name_tree,) = _trees(get_attr)
    return "".join(str(t) for t in _tokens(name_tree))


def _step_into(value: Any, step: Step) -> Any:
    if isinstance(value, Unknown):
        return value
    try:
        return value[step]
    except (KeyError, IndexError, TypeError):
        return Unknown(f"{step!r} is not in {value!r}")
