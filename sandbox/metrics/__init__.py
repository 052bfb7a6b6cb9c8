"""CloudWatch-style metrics: one sample schema shared by the sandbox's collector, the load
generator and the simulator, and a SQLite store in the state dir."""

from sandbox.metrics.schema import METRIC_UNITS, Sample
from sandbox.metrics.store import MetricsStore

__all__ = ["METRIC_UNITS", "MetricsStore", "Sample"]
