"""Cost estimate of a configuration from a user-editable price table (hourly prices).

The shipped table (``simulator/data/prices.example.yaml``) holds *example* prices and
says where and when they came from; users copy and edit it (``--prices FILE``).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.config import SandboxConfig
from sandbox.errors import ConfigError
from simulator.database import instance_vcpus

EXAMPLE_PRICES = Path(__file__).resolve().parent / "data" / "prices.example.yaml"


class PriceTable(BaseModel):
    """Hourly prices of instance classes and node types."""

    model_config = ConfigDict(extra="forbid")

    source: str
    currency: str = "USD"
    hours_per_month: float = Field(default=730.0, gt=0)
    rds: dict[str, float]
    multi_az_factor: float = Field(default=2.0, ge=1)
    rds_proxy_per_vcpu_hour: float = Field(default=0.0, ge=0)
    elasticache: dict[str, float]


class CostEstimate(BaseModel):
    """Hourly and monthly cost of one configuration, item by item."""

    currency: str
    items: dict[str, float]
    hourly: float
    monthly: float
    source: str


def load_prices(path: Path | None) -> PriceTable:
    """Read a price table (the shipped example when ``path`` is None).

    Raises:
        ConfigError: unreadable file or invalid table (one line).
    """
    path = path or EXAMPLE_PRICES
    try:
        return PriceTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"price table {path}: cannot read it ({exc.strerror or exc})") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(
            f"price table {path}: invalid ({str(exc).splitlines()[0]}); "
            f"see {EXAMPLE_PRICES.name} for the format"
        ) from exc


def estimate(config: SandboxConfig, prices: PriceTable) -> CostEstimate:
    """What the configuration costs per hour and per month at ``prices``.

    Raises:
        ConfigError: an instance class or node type missing from the table.
    """
    db = config.database
    instance = _price(prices.rds, db.instance_class, "rds", prices)
    items = {
        f"rds {db.instance_class}{' Multi-AZ' if db.multi_az else ''}": instance
        * (prices.multi_az_factor if db.multi_az else 1.0),
    }
    if db.read_replicas:
        items[f"rds read replicas {db.read_replicas} x {db.instance_class}"] = (
            instance * db.read_replicas
        )
    if config.proxy.enabled:
        vcpus = max(2, instance_vcpus(db.instance_class))
        items[f"rds proxy ({vcpus} vCPU)"] = vcpus * prices.rds_proxy_per_vcpu_hour
    cache = config.cache
    node = _price(prices.elasticache, cache.node_type, "elasticache", prices)
    items[f"elasticache {cache.num_cache_clusters} x {cache.node_type}"] = (
        node * cache.num_cache_clusters
    )
    hourly = sum(items.values())
    return CostEstimate(
        currency=prices.currency,
        items={k: round(v, 4) for k, v in items.items()},
        hourly=round(hourly, 4),
        monthly=round(hourly * prices.hours_per_month, 2),
        source=prices.source,
    )


def _price(table: dict[str, float], name: str, section: str, prices: PriceTable) -> float:
    if name not in table:
        raise ConfigError(
            f"price table: no price for {name!r} under {section}; add it to your copy of "
            f"{EXAMPLE_PRICES.name} ({prices.source})"
        )
    return table[name]
