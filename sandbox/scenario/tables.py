"""Result tables: which figures they show, under which headings, in which order.

One definition for the scenario report's markdown tables and the dashboard's tables of
simulated runs, so a figure carries the same heading wherever a table shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Every figure a result table may show, in column order, with its heading.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("ops", "ops"),
    ("errors", "errors"),
    ("throughput", "ops/s"),
    ("latency_ms.p50", "p50 ms"),
    ("latency_ms.p99", "p99 ms"),
    ("cache.hit_ratio", "hit ratio"),
    ("downtime_s", "downtime s"),
    ("app.db_queries", "DB queries"),
    ("db.new_backends", "new DB backends"),
    ("db.transactions", "DB transactions"),
    ("db.peak_connections", "peak DB conns"),
    ("stale_reads", "stale reads"),
    ("lost_writes", "lost writes"),
)


def columns(*keys: str) -> tuple[tuple[str, str], ...]:
    """The ``(figure, heading)`` pairs of ``keys``, in the order given.

    Raises:
        KeyError: a figure no result table knows.
    """
    headings = dict(COLUMNS)
    return tuple((key, headings[key]) for key in keys)


def figure_table(
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    shown: Callable[[Any], bool] = bool,
    of: Sequence[tuple[str, str]] = COLUMNS,
) -> tuple[list[tuple[str, str]], list[tuple[str, list[Any]]]]:
    """A table of labelled figure rows: the columns of ``of`` that some row has a value
    for (``shown`` says which values count), and each row's label with its cells (the
    figures of those columns, None where a row lacks one)."""
    kept = [(key, head) for key, head in of if any(shown(f.get(key)) for _, f in rows)]
    return kept, [(label, [figures.get(key) for key, _ in kept]) for label, figures in rows]
