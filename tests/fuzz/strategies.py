"""Hypothesis strategies shared by the fuzz tests: YAML-like values with keys that are
mostly the real ones (so generated input reaches deep validation, not just "unknown key")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from sandbox.config.model import SandboxConfig
from sandbox.scenario.model import Scenario

# Text a user may type, including the awkward: newlines, quotes, NUL, non-ASCII.
text = st.text(max_size=30)
awkward_text = st.one_of(
    text,
    st.sampled_from(["", " ", "\n", "yes", "no", "on", "null", "~", "0x1F", "1e400", "nan"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    awkward_text,
)


def values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Scalars, lists and mappings nested a few levels, with keys from ``keys``."""
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(keys, inner, max_size=5),
        ),
        max_leaves=12,
    )


def field_names(model: type[BaseModel]) -> list[str]:
    """Every field name of ``model`` and of the models nested in it (and their aliases)."""
    names: set[str] = set()
    pending: list[type[BaseModel]] = [model]
    while pending:
        current = pending.pop()
        for name, field in current.model_fields.items():
            names.add(name)
            if field.alias:
                names.add(field.alias)
            for candidate in _nested_models(field.annotation):
                if candidate not in pending:
                    pending.append(candidate)
    return sorted(names)


def _nested_models(annotation: Any) -> Sequence[type[BaseModel]]:
    found = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in getattr(annotation, "__args__", ()):
        found.extend(_nested_models(arg))
    return found


def keys_of(model: type[BaseModel], extra: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Mostly real keys of ``model``, sometimes any text."""
    return st.one_of(st.sampled_from([*field_names(model), *extra]), text)


config_keys = keys_of(SandboxConfig, ["fast", "aws", "postgres"])
scenario_keys = keys_of(Scenario, ["for", "rate", "duration", "path", "strategy", "mode"])


def mapping_of(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A top-level mapping (what a YAML file holds)."""
    return st.dictionaries(keys, values(keys), max_size=6)
