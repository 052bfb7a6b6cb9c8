"""What one control-loop cycle decided."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """A sentence saying what was decided, and the action carrying it out (if any)."""

    sentence: str
    action: Callable[[], None] | None = None
