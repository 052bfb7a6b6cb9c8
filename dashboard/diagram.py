"""The architecture as a Graphviz diagram, drawn from one `rdsbox status --json` object.

Pure functions of the status document, so that a failover (roles and routes change) gives
a different picture and tests can check the DOT text without a browser.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

HEALTHY, PRIMARY, FAILED, FAULTED = "#d8f3dc", "#95d5b2", "#f4a3a3", "#ffd6a5"
ENDPOINT_FILL = "#e7ecf7"

# endpoint -> (label, what it stands for on AWS)
_ENDPOINTS = {
    "writer": "writer endpoint",
    "reader": "reader endpoint",
    "cache_primary": "cache primary endpoint",
    "cache_reader": "cache reader endpoint",
}


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _node(node_id: str, label: str, **attrs: str) -> str:
    extra = "".join(f", {key}={_quote(value)}" for key, value in attrs.items())
    return f"  {_quote(node_id)} [label={_quote(label)}{extra}];"


def _edge(tail: str, head: str, **attrs: str) -> str:
    extra = ", ".join(f"{key}={_quote(value)}" for key, value in attrs.items())
    return f"  {_quote(tail)} -> {_quote(head)}" + (f" [{extra}];" if extra else ";")


def faulted(status: dict[str, Any]) -> set[str]:
    """Components and endpoints that a fault holds right now."""
    faults = status.get("faults") or {}
    held: set[str] = set()
    for key in ("hung", "stopped", "lagging"):
        held.update(faults.get(key) or ())
    held.update((faults.get("network") or {}).keys())
    return held


def _component_node(component: dict[str, Any], held: set[str], **attrs: str) -> str:
    name, role = component["name"], component["role"]
    health = "healthy" if component["healthy"] else "DOWN"
    if name in held:
        health += " (fault)"
    fill = PRIMARY if role == "primary" else HEALTHY
    if name in held:
        fill = FAULTED
    if not component["healthy"]:
        fill = FAILED
    style = "filled,bold" if role == "primary" else "filled"
    label = f"{name}\n{role} · :{component['port']}\n{health}"
    return _node(name, label, style=style, fillcolor=fill, **attrs)


def topology_dot(status: dict[str, Any], load: str | None = None) -> str:
    """DOT text of the sandbox in ``status``; ``load`` describes the application side
    (e.g. "load: 200/s"), None when nothing drives it."""
    components: list[dict[str, Any]] = list(status.get("components") or [])
    routes: dict[str, list[str]] = (status.get("endpoint_router") or {}).get("routes") or {}
    endpoints: dict[str, Any] = status.get("endpoints") or {}
    held = faulted(status)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for component in components:
        by_kind.setdefault(component["kind"], []).append(component)
    postgres = by_kind.get("postgres", [])
    redis = by_kind.get("redis", [])
    primary = _first(c["name"] for c in postgres if c["role"] == "primary")
    cache_primary = _first(c["name"] for c in redis if c["role"] == "primary")

    lines = [
        "digraph rdsbox {",
        '  rankdir=LR; newrank=true; node [shape=box, style=filled, fontname="Helvetica", '
        'fontsize=10]; edge [fontname="Helvetica", fontsize=9, color="#555555"];',
        _node(
            "application",
            "application\n" + (load or "no load running"),
            shape="component",
            fillcolor="#fff3bf",
        ),
    ]
    for name, label in _ENDPOINTS.items():
        address = endpoints.get(name) or {}
        port = f" :{address['port']}" if "port" in address else ""
        fill = FAULTED if name in held else ENDPOINT_FILL
        lines.append(_node(name, f"{label}{port}", shape="cds", fillcolor=fill))
        lines.append(_edge("application", name))
        for target in routes.get(name, []):
            lines.append(_edge(name, target))
    for proxy in by_kind.get("pgbouncer", []):
        lines.append(_component_node(proxy, held, shape="hexagon"))
        lines.append(_edge("application", proxy["name"], label="RDS Proxy"))
        if primary:
            lines.append(_edge(proxy["name"], primary, label="pooled", penwidth="2"))
    lines.append('  subgraph "cluster_rds" { label="RDS PostgreSQL"; style="rounded";')
    lines += ["  " + _component_node(c, held) for c in postgres]
    lines.append("  }")
    for follower in postgres:
        if primary and follower["name"] != primary:
            sync = follower["role"] == "standby"
            lines.append(
                _edge(
                    primary,
                    follower["name"],
                    label="sync" if sync else "async",
                    style="solid" if sync else "dashed",
                )
            )
    lines.append('  subgraph "cluster_cache" { label="ElastiCache (Redis)"; style="rounded";')
    lines += ["  " + _component_node(c, held) for c in [*redis, *by_kind.get("sentinel", [])]]
    lines.append("  }")
    for node in redis:
        if cache_primary and node["name"] != cache_primary:
            lines.append(_edge(cache_primary, node["name"], label="replication", style="dashed"))
    for sentinel in by_kind.get("sentinel", []):
        if cache_primary:
            lines.append(_edge(sentinel["name"], cache_primary, style="dotted", arrowhead="odot"))
    for moto in by_kind.get("moto", []):
        lines.append(_component_node(moto, held, shape="folder"))
        lines.append(_edge("application", moto["name"], label="credentials", style="dashed"))
    lines.append("}")
    return "\n".join(lines)


def primaries(status: dict[str, Any]) -> tuple[str | None, str | None]:
    """The database primary and the cache primary named in ``status``."""
    components = status.get("components") or []
    return (
        _first(c["name"] for c in components if c["kind"] == "postgres" and c["role"] == "primary"),
        _first(c["name"] for c in components if c["kind"] == "redis" and c["role"] == "primary"),
    )


def _first(names: Iterable[str]) -> str | None:
    return next(iter(names), None)
