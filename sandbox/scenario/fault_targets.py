"""Fault targets of scenario files: role aliases (``primary``, ``standby``, ``replica``,
``cache_primary``) resolve to the component holding that role when the fault fires, since
roles move across failovers.

Shared by whatever applies a scenario's timed faults to a running sandbox (the scenario
runner's timer; `rdsbox sim validate` can use it too) and by the scenario check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.errors import RdsboxError

#: alias -> (component kind, role) in `rdsbox status --json`
ALIASES: Mapping[str, tuple[str, str]] = {
    "primary": ("postgres", "primary"),
    "standby": ("postgres", "standby"),
    "replica": ("postgres", "replica"),
    "cache_primary": ("redis", "primary"),
}


def resolve_target(target: str | None, status: Mapping[str, Any]) -> str | None:
    """A role alias -> the name of the (first) component holding that role now; any other
    name is passed on unchanged (the supervisor checks it).

    Raises:
        RdsboxError: the alias names a role no component has (e.g. no standby).
    """
    if target is None or target not in ALIASES:
        return target
    kind, role = ALIASES[target]
    for component in status.get("components", []):
        if component.get("kind") == kind and component.get("role") == role:
            return str(component["name"])
    raise RdsboxError(f"no {kind} component has the role {role} now (fault target '{target}')")
