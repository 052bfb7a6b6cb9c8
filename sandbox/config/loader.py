"""Load ``rdsbox.yaml`` into a SandboxConfig, turning every problem into a one-line error.

Every message names the file (or another source), the dotted key path and what is allowed,
e.g. ``rdsbox.yaml: cache.num_cache_clusters: 9 is out of range; allowed: 1..6``. Only the
first problem is reported: the user fixes it and runs again.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from sandbox.config.model import CONFIG_PROBLEM, SandboxConfig
from sandbox.errors import ConfigError

CONFIG_FILE_NAME = "rdsbox.yaml"
"""Name of the config file looked up in the working directory when none is given."""

# Sections a user may leave empty (`database:` with every line commented out): YAML reads
# that as null, which means "all defaults" just like an empty file.
_SECTIONS = ("timing", "database", "proxy", "cache", "secret")

_BOOL_HINT = " (YAML reads yes/no/on/off/true/false as booleans; quote it for text)"

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping repeats a key, which PyYAML would otherwise resolve silently (last wins)."""


class _StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys in a mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<:` merges may legitimately be overridden by explicit keys.
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # let the base class report the unhashable key
            if key in seen:
                raise _DuplicateKeyError(
                    None, None, f"duplicate key {_show(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: Path | None, cwd: Path) -> SandboxConfig:
    """Load the sandbox configuration.

    Args:
        path: an explicit config file (relative paths are taken from ``cwd``); it must
            exist. ``None`` means ``cwd / rdsbox.yaml`` if present, else the defaults.
        cwd: the directory the user runs rdsbox from.

    An empty file (or one with only comments) yields the defaults.

    Raises:
        ConfigError: missing or unreadable file, invalid YAML (``FILE:LINE: ...``), a top
            level that is not a mapping, or an invalid value; always one line.
    """
    if path is None:
        candidate = cwd / CONFIG_FILE_NAME
        if not candidate.exists():
            return SandboxConfig()
        display, full = str(candidate), candidate
    else:
        display, full = str(path), cwd / path  # an absolute path replaces cwd
        if not full.exists():
            raise ConfigError(
                f"config file {_one_line(display)} not found; check the path, or leave it "
                f"out to use ./{CONFIG_FILE_NAME} or the built-in defaults"
            )
    display = _one_line(display)
    try:
        text = full.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{display}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"{display}: cannot read config file: {exc.strerror or exc}; "
            "check that it is a readable file"
        ) from exc
    data = _parse_yaml(text, display)
    if data is None:
        return SandboxConfig()
    if not isinstance(data, dict):
        raise ConfigError(
            f"{display}: the top level must be a mapping of keys "
            f"({', '.join(SandboxConfig.model_fields)}), got {_kind(data)}"
        )
    return config_from_mapping(data, source=display)


def config_from_mapping(data: Mapping[str, Any], source: str = "config") -> SandboxConfig:
    """Validate ``data`` (parsed YAML, or any plain mapping) into a SandboxConfig.

    ``source`` prefixes error messages (a file name, ``"config"``, ``"overrides"``).
    A section given as null (``database:`` with nothing under it) means its defaults.

    Raises:
        ConfigError: ``SOURCE: KEY.PATH: problem; allowed: ...`` for the first problem.
    """
    prepared = {
        key: ({} if value is None and key in _SECTIONS else value) for key, value in data.items()
    }
    try:
        return SandboxConfig.model_validate(prepared)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from exc


def format_validation_error(exc: ValidationError, source: str) -> str:
    """Describe the first error of ``exc`` in one line: ``SOURCE: KEY.PATH: problem``."""
    return _one_line(f"{source}: {_describe(exc.errors()[0])}")


def parse_yaml(text: str, display: str) -> Any:
    """Parse ``text`` safely (duplicate keys refused); syntax errors become a one-line
    :class:`ConfigError` ``FILE:LINE: invalid YAML: ...``. Shared by other file formats."""
    return _parse_yaml(text, display)


def _parse_yaml(text: str, display: str) -> Any:
    """Parse ``text`` safely; report syntax errors as ``FILE:LINE: invalid YAML: ...``."""
    try:
        return yaml.load(
            text, Loader=_StrictSafeLoader
        )  # a SafeLoader subclass: no arbitrary objects
    except _DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ConfigError(f"{display}:{line}: {exc.problem}; keep only one of them") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{display}:{mark.line + 1}" if mark else display
        problem = exc.problem or exc.context or "cannot parse"
        raise ConfigError(_one_line(f"{where}: invalid YAML: {problem}; fix the syntax")) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(_one_line(f"{display}: invalid YAML: {exc}; fix the syntax")) from exc
    except (ValueError, OverflowError) as exc:
        # A scalar YAML reads as a date or number that does not exist (`2020-02-30`).
        raise ConfigError(
            _one_line(f"{display}: invalid YAML value: {exc}; quote it to make it text")
        ) from exc
    except RecursionError as exc:
        raise ConfigError(
            f"{display}: invalid YAML: nested too deeply; flatten the structure"
        ) from exc


def _describe(error: ErrorDetails) -> str:
    """Turn one pydantic error into ``KEY.PATH: problem; allowed: ...``."""
    kind = error["type"]
    loc = error["loc"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    value = error.get("input")
    path = _path(loc)

    if kind == CONFIG_PROBLEM:
        # Cross-field checks word their message with the full key path already.
        return str(ctx["message"])
    if kind == "extra_forbidden":
        return f"unknown key {path}; allowed keys: {_keys_of(loc[:-1])}"
    if kind == "invalid_key":
        # Pydantic puts the offending key itself at the end of loc.
        where = _path(loc[:-1]) or "the top level"
        hint = _BOOL_HINT if isinstance(value, bool) else ""
        return f"key {_show(value)} under {where} is not text{hint}"

    field = _field_at(loc)
    if kind == "literal_error":
        hint = _BOOL_HINT if isinstance(value, bool) else ""
        allowed = _literal_values(field, ctx)
        return f"{path}: {_show(value)} is not allowed{hint}; allowed: {allowed}"
    if kind in ("model_type", "model_attributes_type", "dict_type") and _model_at(loc):
        return f"{path}: expected a mapping of keys ({_keys_of(loc)}), got {_show(value)}"
    if kind in _EXPECTED:
        hint = _BOOL_HINT if isinstance(value, bool) and kind == "string_type" else ""
        expected = _EXPECTED[kind]
        if loc and loc[0] == "timing" and kind in ("float_type", "float_parsing"):
            expected = "a number of seconds"
        allowed = _range(field)
        suffix = f"; allowed: {allowed}" if allowed else ""
        return f"{path}: expected {expected}, got {_show(value)}{hint}{suffix}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        allowed = _range(field) or _range_from_ctx(ctx)
        return f"{path}: {_show(value)} is out of range; allowed: {allowed}"
    if kind in ("string_too_short", "string_too_long"):
        return f"{path}: {_show(value)} has the wrong length; allowed: {_range(field)} characters"
    if kind == "string_pattern_mismatch":
        return f"{path}: {_show(value)} has the wrong form; allowed: text matching {ctx['pattern']}"
    if kind == "value_error":
        # Our field validators raise ValueError("'x' problem; allowed: ...").
        return f"{path}: {ctx.get('error', error['msg'])}"
    return f"{path}: {error['msg']}" if path else str(error["msg"])


def _path(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """Return the model class found at ``loc`` (the root for an empty loc), if any."""
    model: type[BaseModel] = SandboxConfig
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        inner = field.annotation if field else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return model


def _field_at(loc: Sequence[int | str]) -> FieldInfo | None:
    """Return the field definition at ``loc``, or None when loc is not a model field."""
    if not loc or not isinstance(loc[-1], str):
        return None
    parent = _model_at(loc[:-1])
    return parent.model_fields.get(loc[-1]) if parent else None


def _keys_of(loc: Sequence[int | str]) -> str:
    model = _model_at(loc)
    return ", ".join(model.model_fields) if model else "(none)"


def _literal_values(field: FieldInfo | None, ctx: Mapping[str, Any]) -> str:
    annotation = field.annotation if field else None
    if get_origin(annotation) is Literal:
        return ", ".join(str(arg) for arg in get_args(annotation))
    return str(ctx.get("expected", "?"))


def _range(field: FieldInfo | None) -> str:
    """Describe a field's bounds (numeric or length) as ``lo..hi``, ``>= lo`` or ``<= hi``."""
    low: object = None
    high: object = None
    for item in field.metadata if field else ():
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.MinLen):
            low = item.min_length
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.MaxLen):
            high = item.max_length
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return ""


def _range_from_ctx(ctx: Mapping[str, Any]) -> str:
    """Describe the one bound pydantic reports when the field declares no metadata."""
    for key, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx:
            return f"{symbol} {ctx[key]}"
    return "?"


def _show(value: Any) -> str:
    """Show a value as the user would write it in YAML, short and on one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    """Name a parsed YAML value's kind in YAML terms."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {_show(value)}"
    return f"the value {_show(value)}"


def _one_line(text: str) -> str:
    """Guarantee the one-line contract of error messages, whatever the input held."""
    return " ".join(text.splitlines())
