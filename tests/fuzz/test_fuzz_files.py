"""Fuzzing the file formats: rdsbox.yaml, scenario files and Terraform directories.

The property is the same everywhere: a valid input loads, anything else raises the
format's ConfigError (an RdsboxError: exit 2) with a one-line message; never another
exception, never a traceback."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sandbox.config.loader import config_from_mapping, load_config
from sandbox.errors import ConfigError
from sandbox.scenario.loader import load_scenario, scenario_from_mapping
from sandbox.terraform.importer import import_terraform
from tests.fuzz.conftest import CaseCounter
from tests.fuzz.strategies import config_keys, mapping_of, scenario_keys, text, values

pytestmark = pytest.mark.fuzz

TERRAFORM = Path(__file__).resolve().parents[1] / "terraform"


def _one_line(error: ConfigError) -> None:
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert "Traceback" not in message


def _outcome(load: Callable[[], object]) -> object | None:
    """Run ``load``; a ConfigError must be one line; anything else escapes (and fails)."""
    try:
        return load()
    except ConfigError as exc:
        _one_line(exc)
        return None


def _yaml_text(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return str(data)


# YAML that is broken in the ways people break it, plus arbitrary text.
yaml_texts = st.one_of(
    text,
    mapping_of(config_keys).map(_yaml_text),
    st.sampled_from(
        [
            "database: {read_replicas: 2",
            "database:\n  read_replicas: 2\n database: x",
            "a: 1\na: 2",
            "- 1\n- 2",
            "!!python/object:os.system {}",
            "when: 2020-02-30",
            "[" * 200 + "]" * 200,
            "database: &a {x: *a}",
            "\t- tab",
            "\x00",
            "key: 'unterminated",
        ]
    ),
    st.tuples(mapping_of(config_keys).map(_yaml_text), st.integers(0, 80)).map(
        lambda pair: pair[0][: pair[1]]
    ),
)


@given(data=mapping_of(config_keys))
def test_config_from_any_mapping(cases: CaseCounter, data: dict[str, Any]) -> None:
    cases("config")
    _outcome(lambda: config_from_mapping(data, source="rdsbox.yaml"))


@given(body=yaml_texts)
def test_config_from_any_yaml_text(cases: CaseCounter, body: str) -> None:
    cases("config")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "rdsbox.yaml")
        path.write_text(body, encoding="utf-8", errors="surrogatepass")
        _outcome(lambda: load_config(path, Path(tmp)))


def _scenario_like(draw: st.DrawFn) -> dict[str, Any]:
    """Often a nearly valid scenario with one part replaced by anything."""
    base: dict[str, Any] = {
        "name": "fuzz",
        "phases": [{"name": "p", "duration": 1}],
        "faults": [{"at": 0, "fault": "kill", "target": "primary"}],
        "variants": [{"name": "direct", "load": {"path": "writer"}}],
        "expect": [{"metric": "errors", "variant": "direct", "max": 0}],
    }
    for _ in range(draw(st.integers(1, 3))):
        key = draw(scenario_keys)
        base[key] = draw(values(scenario_keys))
    return base


scenario_mappings = st.one_of(mapping_of(scenario_keys), st.composite(_scenario_like)())


@given(data=scenario_mappings)
def test_scenario_from_any_mapping(cases: CaseCounter, data: dict[str, Any]) -> None:
    cases("scenario")
    _outcome(lambda: scenario_from_mapping(data, source="fuzz.yaml"))


@given(body=st.one_of(yaml_texts, scenario_mappings.map(_yaml_text)))
def test_scenario_file_from_any_text(cases: CaseCounter, body: str) -> None:
    cases("scenario")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "scenario.yaml")
        path.write_text(body, encoding="utf-8", errors="surrogatepass")
        _outcome(lambda: load_scenario(path))


# -- Terraform -----------------------------------------------------------------------------
_ATTRIBUTES = [
    "identifier",
    "engine",
    "engine_version",
    "instance_class",
    "multi_az",
    "username",
    "password",
    "manage_master_user_password",
    "db_name",
    "port",
    "allocated_storage",
    "replicate_source_db",
    "parameter_group_name",
    "replication_group_id",
    "num_cache_clusters",
    "automatic_failover_enabled",
    "transit_encryption_enabled",
    "auth_token",
    "node_type",
    "engine_family",
    "require_tls",
    "idle_client_timeout",
    "max_connections_percent",
    "connection_borrow_timeout",
    "name",
    "count",
]
_RESOURCES = [
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_db_proxy",
    "aws_db_proxy_default_target_group",
    "aws_elasticache_replication_group",
    "aws_secretsmanager_secret",
    "aws_db_parameter_group",
]
_REFERENCES = [
    "var.env",
    "var.missing",
    "local.x",
    "aws_db_instance.main.id",
    "aws_db_instance.main[0].identifier",
    "aws_db_instance.nope.arn",
    "data.aws_vpc.main.id",
    "count.index",
    "each.key",
]


def _hcl_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _hcl(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _hcl_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    return "{" + ", ".join(f"{_hcl_string(str(k))} = {_hcl(v)}" for k, v in value.items()) + "}"


hcl_expressions = st.recursive(
    st.one_of(
        values(st.sampled_from(_ATTRIBUTES)).map(_hcl),
        st.sampled_from(_REFERENCES),
        st.sampled_from(_REFERENCES).map(lambda ref: f'"${{{ref}}}-x"'),
    ),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"{p[0]} + {p[1]}"),
        st.tuples(inner, inner, inner).map(lambda p: f"{p[0]} ? {p[1]} : {p[2]}"),
        st.tuples(
            st.sampled_from(["upper", "length", "lookup", "max", "tonumber", "nope"]), inner
        ).map(lambda p: f"{p[0]}({p[1]})"),
        inner.map(lambda e: f"[{e}, {e}]"),
    ),
    max_leaves=4,
)


@st.composite
def hcl_files(draw: st.DrawFn) -> str:
    """A main.tf with a few resources, variables and locals made of generated parts."""
    blocks = ['variable "env" {\n  default = "dev"\n}\n', "locals {\n  x = 1\n}\n"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(_RESOURCES))
        label = draw(st.sampled_from(["main", "replica", "cache", "x-y", "0"]))
        attributes = draw(
            st.dictionaries(st.sampled_from(_ATTRIBUTES), hcl_expressions, max_size=6)
        )
        body = "".join(f"  {name} = {expr}\n" for name, expr in attributes.items())
        blocks.append(f'resource "{kind}" "{label}" {{\n{body}}}\n')
    if draw(st.booleans()):
        default = draw(hcl_expressions)
        blocks.append(f'variable "missing" {{\n  default = {default}\n}}\n')
    return "\n".join(blocks)


def _mutations(draw: st.DrawFn) -> str:
    """A real Terraform file, cut or with a line replaced by generated text."""
    source = TERRAFORM / draw(st.sampled_from(["full", "minimal", "replicas_tls"])) / "main.tf"
    lines = source.read_text().splitlines()
    index = draw(st.integers(0, len(lines) - 1))
    if draw(st.booleans()):
        return "\n".join(lines[:index])
    lines[index] = draw(st.one_of(text, hcl_expressions.map(lambda e: f"  port = {e}")))
    return "\n".join(lines)


terraform_texts = st.one_of(hcl_files(), st.composite(_mutations)(), text)


@given(main_tf=terraform_texts)
def test_terraform_import_of_any_hcl(cases: CaseCounter, main_tf: str) -> None:
    cases("terraform")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "main.tf").write_text(main_tf, encoding="utf-8", errors="surrogatepass")
        _outcome(lambda: import_terraform(Path(tmp), environ={}))
