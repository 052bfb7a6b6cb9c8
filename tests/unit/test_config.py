"""Unit tests of the configuration model, profiles, instance classes and loader."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sandbox.config import (
    CONFIG_FILE_NAME,
    DatabaseConfig,
    SandboxConfig,
    TimingProfile,
    config_from_mapping,
    load_config,
    timing_profile,
)
from sandbox.config.instance_classes import known_instance_classes, rds_max_connections
from sandbox.errors import ConfigError


def config_error(data: dict[Any, Any]) -> str:
    """Return the message config_from_mapping raises for ``data``, checking it is one line."""
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    message = str(info.value)
    assert "\n" not in message
    assert "\r" not in message
    return message


# --- defaults --------------------------------------------------------------------------


def test_defaults_mirror_the_reference_architecture() -> None:
    config = SandboxConfig()
    assert config.port_base == 15400
    assert config.profile == "fast"
    assert config.timing == {}
    db = config.database
    assert db.identifier == "app-primary-db"
    assert db.engine == "postgres"
    assert db.instance_class == "db.r6g.large"
    assert db.multi_az is True
    assert db.read_replicas == 2
    assert db.db_name == "app_database"
    assert db.username == "dbadmin"
    assert db.effective_max_connections == 1802
    proxy = config.proxy
    assert proxy.enabled is True
    assert proxy.name == "app-db-proxy"
    assert proxy.idle_client_timeout == 1800
    assert proxy.max_connections_percent == 100
    assert proxy.max_idle_connections_percent == 50
    assert proxy.connection_borrow_timeout == 120
    assert proxy.require_tls is False
    cache = config.cache
    assert cache.replication_group_id == "app-redis-cluster"
    assert cache.num_cache_clusters == 3
    assert cache.automatic_failover_enabled is True
    assert cache.transit_encryption_enabled is False
    assert config.secret.name == "app-db-credentials"


def test_empty_mapping_equals_defaults() -> None:
    assert config_from_mapping({}) == SandboxConfig()


# --- instance classes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance_class", "expected"),
    [
        ("db.t3.micro", 112),
        ("db.t4g.small", 225),
        ("db.r6g.large", 1802),
        ("db.m5.large", 901),
        ("db.r7g.24xlarge", 5000),  # capped
    ],
)
def test_rds_max_connections_formula(instance_class: str, expected: int) -> None:
    assert rds_max_connections(instance_class) == expected


def test_known_instance_classes_cover_all_families() -> None:
    classes = known_instance_classes()
    assert len(classes) == 2 * 6 + 4 * 8 + 4 * 8
    assert {"db.t3.micro", "db.m7g.16xlarge", "db.r5.12xlarge"} <= set(classes)


def test_unknown_instance_class_is_one_line_with_hint() -> None:
    with pytest.raises(ConfigError) as info:
        rds_max_connections("db.x9.huge")
    message = str(info.value)
    assert message.startswith("database.instance_class: unknown instance class 'db.x9.huge'")
    assert "\n" not in message
    assert "db.{t3,t4g}" in message
    assert message.endswith("or set database.max_connections")


def test_unknown_instance_class_fails_at_load() -> None:
    message = config_error({"database": {"instance_class": "db.x9.huge"}})
    assert message.startswith("config: database.instance_class: unknown instance class")


def test_unknown_instance_class_is_fine_with_explicit_max_connections() -> None:
    config = config_from_mapping(
        {"database": {"instance_class": "db.x9.huge", "max_connections": 50}}
    )
    assert config.database.effective_max_connections == 50


# --- database --------------------------------------------------------------------------


def test_small_instance_class_alone_keeps_default_topology() -> None:
    config = config_from_mapping({"database": {"instance_class": "db.t3.micro"}})
    assert config.database.effective_max_connections == 112
    assert config.database.multi_az is True
    assert config.database.read_replicas == 2
    assert config.cache.num_cache_clusters == 3
    assert config.proxy.enabled is True


def test_explicit_max_connections_overrides_the_formula() -> None:
    config = config_from_mapping(
        {"database": {"instance_class": "db.t3.micro", "max_connections": 300}}
    )
    assert config.database.effective_max_connections == 300


def test_max_connections_range() -> None:
    message = config_error({"database": {"max_connections": 5}})
    assert "database.max_connections" in message
    assert "10..10000" in message


@pytest.mark.parametrize(
    ("identifier", "problem"),
    [
        ("1db", "must start with a letter"),
        ("db-", "must not end with a hyphen"),
        ("a--b", "two consecutive hyphens"),
        ("db_1", "letters, digits and hyphens"),
        ("a" * 64, "64 characters"),
    ],
)
def test_identifier_rules(identifier: str, problem: str) -> None:
    message = config_error({"database": {"identifier": identifier}})
    assert message.startswith("config: database.identifier: ")
    assert problem in message


@pytest.mark.parametrize("name", ["postgres", "pg_admin", "rdsadmin", "Admin", "1user", "a-b"])
def test_username_rules(name: str) -> None:
    message = config_error({"database": {"username": name}})
    assert message.startswith("config: database.username: ")
    assert "allowed:" in message


def test_db_name_rules() -> None:
    assert "database.db_name" in config_error({"database": {"db_name": "My-DB"}})


def test_read_replicas_range_and_type() -> None:
    assert "0..15" in config_error({"database": {"read_replicas": 16}})
    message = config_error({"database": {"read_replicas": "two"}})
    assert "database.read_replicas: expected an integer" in message
    assert "0..15" in message


def test_bool_type_error_names_expected_type() -> None:
    message = config_error({"database": {"multi_az": "sometimes"}})
    assert message.startswith("config: database.multi_az: expected a boolean")


def test_engine_version_number_is_accepted_as_text() -> None:
    assert config_from_mapping({"database": {"engine_version": 16}}).database.engine_version == "16"


def test_engine_literal_names_allowed_values() -> None:
    message = config_error({"database": {"engine": "mysql"}})
    assert "database.engine" in message
    assert "allowed: postgres" in message


# --- proxy -----------------------------------------------------------------------------


def test_proxy_pool_sizes() -> None:
    proxy = SandboxConfig().proxy
    assert proxy.pool_size(112) == 112
    assert proxy.idle_pool_size(112) == 56
    small = config_from_mapping({"proxy": {"max_connections_percent": 1}}).proxy
    assert small.pool_size(50) == 1
    assert small.idle_pool_size(50) == 1


def test_idle_share_defaults_to_half_of_max_share() -> None:
    proxy = config_from_mapping({"proxy": {"max_connections_percent": 40}}).proxy
    assert proxy.max_idle_connections_percent == 20


def test_idle_share_above_max_share_is_refused() -> None:
    message = config_error(
        {"proxy": {"max_connections_percent": 40, "max_idle_connections_percent": 60}}
    )
    assert "proxy.max_idle_connections_percent" in message
    assert "proxy.max_connections_percent" in message


def test_proxy_ranges() -> None:
    assert "1..28800" in config_error({"proxy": {"idle_client_timeout": 0}})
    assert "0..3600" in config_error({"proxy": {"connection_borrow_timeout": 3601}})


def test_unsupported_for_now_values_are_accepted_by_the_model() -> None:
    config = config_from_mapping(
        {"proxy": {"require_tls": True}, "cache": {"transit_encryption_enabled": True}}
    )
    assert config.proxy.require_tls is True
    assert config.cache.transit_encryption_enabled is True


# --- cache and secret ------------------------------------------------------------------


def test_automatic_failover_needs_two_clusters() -> None:
    message = config_error({"cache": {"num_cache_clusters": 1}})
    assert "cache.automatic_failover_enabled" in message
    assert "cache.num_cache_clusters" in message


def test_single_cluster_without_failover_is_fine() -> None:
    config = config_from_mapping(
        {"cache": {"num_cache_clusters": 1, "automatic_failover_enabled": False}}
    )
    assert config.cache.num_cache_clusters == 1


def test_num_cache_clusters_range() -> None:
    message = config_error({"cache": {"num_cache_clusters": 7}})
    assert message == "config: cache.num_cache_clusters: 7 is out of range; allowed: 1..6"


def test_replication_group_id_rules() -> None:
    assert "cache.replication_group_id" in config_error(
        {"cache": {"replication_group_id": "App-Redis"}}
    )
    assert "cache.replication_group_id" in config_error(
        {"cache": {"replication_group_id": "a" * 41}}
    )


def test_secret_name_rules() -> None:
    assert config_from_mapping({"secret": {"name": "prod/app@db+1"}}).secret.name == "prod/app@db+1"
    assert "secret.name" in config_error({"secret": {"name": "has space"}})


# --- unknown keys, literals, ports -----------------------------------------------------


def test_unknown_top_level_key_lists_allowed_keys() -> None:
    message = config_error({"databse": {}})
    assert message == (
        "config: unknown key databse; allowed keys: "
        "port_base, profile, timing, database, proxy, cache, secret"
    )


def test_unknown_nested_key_names_path_and_allowed_keys() -> None:
    message = config_error({"database": {"foo": 1}})
    assert message.startswith("config: unknown key database.foo; allowed keys: identifier, engine,")
    assert "max_connections" in message


def test_non_text_key_is_explained() -> None:
    message = config_error({"cache": {True: 1}})
    assert "under cache is not text" in message


def test_bad_profile_names_allowed_values() -> None:
    message = config_error({"profile": "slow"})
    assert message == "config: profile: 'slow' is not allowed; allowed: fast, aws"


def test_profile_given_as_yaml_boolean_gets_a_hint() -> None:
    message = config_error({"profile": True})
    assert "allowed: fast, aws" in message
    assert "booleans" in message


@pytest.mark.parametrize("port_base", [80, 1023, 32719, 40000])
def test_port_base_out_of_range(port_base: int) -> None:
    message = config_error({"port_base": port_base})
    assert message == f"config: port_base: {port_base} is out of range; allowed: 1024..32718"


def test_port_base_bounds_are_accepted() -> None:
    assert config_from_mapping({"port_base": 1024}).port_base == 1024
    assert config_from_mapping({"port_base": 32718}).port_base == 32718


def test_section_that_is_not_a_mapping() -> None:
    message = config_error({"proxy": 5})
    assert message.startswith("config: proxy: expected a mapping of keys (enabled, name,")


def test_null_section_means_defaults() -> None:
    assert config_from_mapping({"database": None, "timing": None}) == SandboxConfig()


# --- timing ----------------------------------------------------------------------------


def test_presets() -> None:
    fast = timing_profile("fast")
    assert fast.failure_detection_s == 0.6
    assert fast.startup_timeout_s == 30
    aws = timing_profile("aws")
    direct = (
        aws.failure_detection_s
        + aws.promotion_delay_s
        + aws.dns_update_delay_s
        + aws.dns_ttl_s
        + aws.client_backoff_s
    )
    assert 60 <= direct <= 120
    via_proxy = aws.failure_detection_s + aws.promotion_delay_s + aws.proxy_detection_s
    assert via_proxy < direct


def test_timing_overrides_apply() -> None:
    config = config_from_mapping(
        {"profile": "aws", "timing": {"dns_ttl_s": 0, "promotion_delay_s": 2.5}}
    )
    profile = config.timing_profile()
    assert profile.dns_ttl_s == 0.0
    assert profile.promotion_delay_s == 2.5
    assert profile.failure_detection_s == 15.0


def test_unknown_timing_field_is_refused() -> None:
    message = config_error({"timing": {"dns_ttl": 1}})
    assert message.startswith("config: timing.dns_ttl: unknown timing field; allowed: ")
    assert "dns_ttl_s" in message


def test_negative_timing_is_refused() -> None:
    message = config_error({"timing": {"dns_ttl_s": -1}})
    assert message.startswith("config: timing.dns_ttl_s: ")


def test_non_numeric_timing_is_refused() -> None:
    message = config_error({"timing": {"dns_ttl_s": "soon"}})
    assert message.startswith("config: timing.dns_ttl_s: expected a number of seconds")


def test_timing_profile_function_refuses_unknown_field() -> None:
    with pytest.raises(ConfigError, match=r"^timing\.nope: unknown timing field"):
        timing_profile("fast", {"nope": 1.0})


# --- immutability and with_overrides ---------------------------------------------------


def test_models_are_frozen() -> None:
    config = SandboxConfig()
    with pytest.raises(ValidationError):
        config.port_base = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.database.multi_az = False  # type: ignore[misc]
    with pytest.raises(ValidationError):
        timing_profile("fast").dns_ttl_s = 3.0  # type: ignore[misc]


def test_extra_keys_are_forbidden_on_direct_construction() -> None:
    with pytest.raises(ValidationError):
        DatabaseConfig.model_validate({"nope": 1})
    with pytest.raises(ValidationError):
        TimingProfile.model_validate({**timing_profile("fast").model_dump(), "x": 1.0})


def test_with_overrides_returns_a_validated_copy() -> None:
    config = SandboxConfig()
    changed = config.with_overrides(port_base=20000, profile="aws")
    assert changed.port_base == 20000
    assert changed.profile == "aws"
    assert changed.database == config.database
    assert config.port_base == 15400  # the original is untouched
    assert config.with_overrides() == config


def test_with_overrides_validates() -> None:
    with pytest.raises(ConfigError) as info:
        SandboxConfig().with_overrides(port_base=80)
    message = str(info.value)
    assert "port_base" in message
    assert "1024..32718" in message
    assert "\n" not in message


# --- loader ----------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = CONFIG_FILE_NAME) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(None, tmp_path) == SandboxConfig()


def test_file_in_cwd_is_used(tmp_path: Path) -> None:
    write(tmp_path, "port_base: 20000\ndatabase:\n  instance_class: db.t3.micro\n")
    config = load_config(None, tmp_path)
    assert config.port_base == 20000
    assert config.database.effective_max_connections == 112


def test_explicit_path_is_used_relative_to_cwd(tmp_path: Path) -> None:
    write(tmp_path, "profile: aws\n", name="other.yaml")
    assert load_config(Path("other.yaml"), tmp_path).profile == "aws"
    assert load_config(tmp_path / "other.yaml", Path("/")).profile == "aws"


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config file missing\.yaml not found; "):
        load_config(Path("missing.yaml"), tmp_path)


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_empty_file_gives_defaults(tmp_path: Path, text: str) -> None:
    write(tmp_path, text)
    assert load_config(None, tmp_path) == SandboxConfig()


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "port_base: 15400\ndatabase:\n  identifier: [unclosed\n  multi_az: true\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    line = int(message[len(str(path)) + 1 :].split(":", 1)[0])
    assert 3 <= line <= 5
    assert "invalid YAML" in message
    assert message.endswith("fix the syntax")


def test_bad_indentation_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  multi_az: true\n read_replicas: 1\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:3: invalid YAML: "):
        load_config(None, tmp_path)


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "port_base: 15400\nport_base: 16000\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:2: duplicate key 'port_base'"):
        load_config(None, tmp_path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- a\n- b\n")
    expected = rf"^{re.escape(str(path))}: the top level must be a mapping"
    with pytest.raises(ConfigError, match=expected):
        load_config(None, tmp_path)


def test_validation_error_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "cache:\n  num_cache_clusters: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: cache.automatic_failover_enabled: ")
    assert "\n" not in message


def test_yaml_boolean_profile_from_file(tmp_path: Path) -> None:
    write(tmp_path, "profile: on\n")
    with pytest.raises(ConfigError, match="allowed: fast, aws"):
        load_config(None, tmp_path)


def test_unknown_nested_key_from_file(tmp_path: Path) -> None:
    write(tmp_path, "proxy:\n  idle_timeout: 10\n")
    with pytest.raises(ConfigError, match=r"unknown key proxy\.idle_timeout; allowed keys: "):
        load_config(None, tmp_path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE_NAME).mkdir()
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(None, tmp_path)


def test_multiline_values_never_leak_newlines() -> None:
    message = config_error({"profile": "a\nb"})
    assert "profile" in message
    message = config_error({"database": {"identifier": "a\nb"}})
    assert "database.identifier" in message
