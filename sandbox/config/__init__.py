"""Configuration of the sandbox: typed, immutable, validated models and their loader."""

from sandbox.config.loader import CONFIG_FILE_NAME, config_from_mapping, load_config
from sandbox.config.model import (
    CacheConfig,
    DatabaseConfig,
    ProxyConfig,
    SandboxConfig,
    SecretConfig,
)
from sandbox.config.profiles import TimingProfile, timing_profile

__all__ = [
    "CONFIG_FILE_NAME",
    "CacheConfig",
    "DatabaseConfig",
    "ProxyConfig",
    "SandboxConfig",
    "SecretConfig",
    "TimingProfile",
    "config_from_mapping",
    "load_config",
    "timing_profile",
]
