"""Time options and output formats of `rdsbox metrics`: JSON, CSV and the Prometheus text
exposition format."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from sandbox.errors import ConfigError
from sandbox.metrics.schema import METRIC_UNITS, Sample

FORMATS = ("json", "csv", "prometheus")
CSV_HEADER = ("ts", "source", "metric", "value", "unit")
PROMETHEUS_PREFIX = "rdsbox_"
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def parse_time(option: str, text: str, now: float) -> float:
    """A point in time as seconds since the epoch: ``60`` or ``90s`` (seconds ago),
    ``5m``, ``2h``, ``1d`` (ago), or an ISO 8601 time (UTC when it has no offset).

    Raises:
        ConfigError: one line naming the option and the accepted forms.
    """
    span = _SPAN.match(text)
    if span:
        return now - float(span.group(1)) * _SECONDS[span.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: not a time; use seconds ago (60), a span ago "
            "(90s, 5m, 2h, 1d) or an ISO time (2025-01-31T12:00:00Z)"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def check_metrics(names: Iterable[str]) -> list[str]:
    """The names, each checked against the schema (ConfigError for an unknown one)."""
    names = list(names)
    for name in names:
        if name not in METRIC_UNITS:
            raise ConfigError(
                f"--metric {name!r}: unknown metric; allowed: {', '.join(METRIC_UNITS)}"
            )
    return names


def check_format(name: str) -> str:
    """The format name, checked (ConfigError for an unknown one)."""
    if name not in FORMATS:
        raise ConfigError(f"--format {name!r}: unknown format; allowed: {', '.join(FORMATS)}")
    return name


def record(sample: Sample) -> dict[str, object]:
    """A sample as a JSON object: ts (seconds since the epoch), source, metric, value, unit."""
    return {
        "ts": round(sample.ts, 3),
        "source": sample.source,
        "metric": sample.metric,
        "value": sample.value,
        "unit": sample.unit,
    }


def to_json(samples: Iterable[Sample]) -> str:
    """A JSON list of records."""
    return json.dumps([record(s) for s in samples], indent=1) + "\n"


def to_json_lines(samples: Iterable[Sample]) -> str:
    """One JSON record per line (for --follow)."""
    return "".join(json.dumps(record(s)) + "\n" for s in samples)


def to_csv(samples: Iterable[Sample], header: bool = True) -> str:
    """CSV with a header row (ts, source, metric, value, unit)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_HEADER)
    for sample in samples:
        writer.writerow(
            [f"{sample.ts:.3f}", sample.source, sample.metric, sample.value, sample.unit]
        )
    return out.getvalue()


def snake_case(metric: str) -> str:
    """CloudWatch name to a Prometheus-style one: CPUUtilization -> cpu_utilization."""
    return _WORD.sub("_", metric).lower()


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_prometheus(latest: Iterable[Sample]) -> str:
    """The text exposition format: per metric a HELP and TYPE line, then one gauge line
    per source with its latest value and timestamp (milliseconds)."""
    by_metric: dict[str, list[Sample]] = {}
    for sample in latest:
        by_metric.setdefault(sample.metric, []).append(sample)
    lines = []
    for metric in sorted(by_metric):
        name = PROMETHEUS_PREFIX + snake_case(metric)
        unit = METRIC_UNITS.get(metric, "None")
        lines.append(f"# HELP {name} CloudWatch metric {metric} ({unit}).")
        lines.append(f"# TYPE {name} gauge")
        for sample in sorted(by_metric[metric], key=lambda s: s.source):
            value = repr(float(sample.value))
            lines.append(
                f'{name}{{source="{_label(sample.source)}"}} {value} {round(sample.ts * 1000)}'
            )
    return "\n".join(lines) + "\n" if lines else ""
