"""One small sampler per kind of component: PostgreSQL nodes, the proxy, Redis nodes, and
the CPU time of server process trees. Each turns what its server reports into samples."""

from sandbox.metrics.samplers.base import Rates, Sampler

__all__ = ["Rates", "Sampler"]
