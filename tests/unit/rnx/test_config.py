"""rnx-config.yml: where it is found, what it must hold, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from joblet_cluster.common.errors import ConfigError
from joblet_cluster.rnx.config import find_config, parse_config
from tests.unit.rnx.conftest import Pems

NODE = """
nodes:
  default:
    address: "10.0.0.1:50051"
    nodeId: " n-1 "
    cert: |
      -----BEGIN CERTIFICATE-----
      abc
      -----END CERTIFICATE-----
    key: "-----BEGIN PRIVATE KEY-----\\nxyz\\n-----END PRIVATE KEY-----\\n"
    ca: certs/ca.pem
"""


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    (home / ".rnx").mkdir(parents=True)
    cwd.mkdir()
    return home, cwd


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("nodes: {}\n")
    return path


def test_discovery_order_flag_then_env_then_cwd_then_home(
    places: tuple[Path, Path], tmp_path: Path
) -> None:
    home, cwd = places
    flag, env = touch(tmp_path / "flag.yml"), touch(tmp_path / "env.yml")
    in_cwd, in_home = touch(cwd / "rnx-config.yml"), touch(home / ".rnx" / "rnx-config.yml")
    environ = {"RNX_CONFIG": str(env)}

    assert find_config(flag, environ, home, cwd) == flag
    assert find_config(None, environ, home, cwd) == env
    assert find_config(None, {}, home, cwd) == in_cwd
    in_cwd.unlink()
    assert find_config(None, {}, home, cwd) == in_home
    assert find_config(None, {"RNX_CONFIG": ""}, home, cwd) == in_home


def test_a_named_file_that_is_missing_is_an_error_not_a_fallback(
    places: tuple[Path, Path], tmp_path: Path
) -> None:
    home, cwd = places
    touch(home / ".rnx" / "rnx-config.yml")

    with pytest.raises(ConfigError, match=r"nope\.yml \(from --config\) does not exist"):
        find_config(tmp_path / "nope.yml", {}, home, cwd)
    with pytest.raises(ConfigError, match=r"\(from \$RNX_CONFIG\) does not exist"):
        find_config(None, {"RNX_CONFIG": str(tmp_path / "nope.yml")}, home, cwd)


def test_no_file_anywhere_says_where_it_looked(places: tuple[Path, Path]) -> None:
    home, cwd = places
    with pytest.raises(ConfigError, match=r"no rnx-config\.yml found") as caught:
        find_config(None, {}, home, cwd)
    assert str(cwd / "rnx-config.yml") in str(caught.value)
    assert "--config" in str(caught.value)


def test_parse_reads_nodes_and_ignores_other_clients_keys(tmp_path: Path) -> None:
    text = 'version: "3.0"\n' + NODE.replace(
        'nodeId: " n-1 "', 'nodeId: " n-1 "\n    persistAddress: x:1'
    )
    config = parse_config(text, tmp_path / "rnx-config.yml")

    entry = config.node(None)
    assert (entry.name, entry.address, entry.node_id) == ("default", "10.0.0.1:50051", "n-1")
    assert entry.cert.startswith("-----BEGIN CERTIFICATE-----")
    assert config.node("default") is entry


def test_default_node_key_picks_the_default(tmp_path: Path) -> None:
    text = "default_node: b\n" + NODE.replace("  default:", "  b:")
    assert parse_config(text, tmp_path / "c.yml").node(None).name == "b"


def test_tls_reads_inline_pems_and_files_relative_to_the_config(tmp_path: Path, pems: Pems) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(pems.ca)
    entry = parse_config(NODE, tmp_path / "rnx-config.yml").node(None)

    tls = entry.tls()
    assert tls.ca == pems.ca
    assert tls.cert.startswith(b"-----BEGIN CERTIFICATE-----")
    assert tls.key.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_a_missing_or_empty_pem_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    source = tmp_path / "rnx-config.yml"
    entry = parse_config(NODE, source).node(None)
    with pytest.raises(ConfigError, match=rf"nodes\.default\.ca in {source}.*cannot read"):
        entry.tls()
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("not a pem")
    with pytest.raises(ConfigError, match="holds no PEM block"):
        entry.tls()


def test_unknown_node_names_the_known_ones(tmp_path: Path) -> None:
    config = parse_config(NODE, tmp_path / "c.yml")
    with pytest.raises(ConfigError, match=r"no node 'prod' in .*c\.yml \(nodes: default\)"):
        config.node("prod")


def test_no_default_node_asks_for_node(tmp_path: Path) -> None:
    config = parse_config(NODE.replace("  default:", "  a:"), tmp_path / "c.yml")
    with pytest.raises(ConfigError, match=r"has no node 'default': choose one with --node"):
        config.node(None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nodes: [", "is not valid YAML at line"),
        ("- a\n", "must be a mapping with a 'nodes' key"),
        ("version: 3\n", "'nodes' must map node names"),
        ("nodes: {}\n", "'nodes' must map node names"),
        ("nodes:\n  a: 5\n", r"nodes\.a in .* must be a mapping"),
        (NODE.replace('address: "10.0.0.1:50051"', ""), r"nodes\.default\.address .* is missing"),
        (NODE.replace('"10.0.0.1:50051"', "10.0.0.1"), "must be host:port"),
        (NODE.replace('"10.0.0.1:50051"', '"h:99999"'), "must be host:port"),
        (NODE.replace("ca: certs/ca.pem", 'ca: ""'), r"nodes\.default\.ca .* mutual TLS"),
        (NODE.replace("ca: certs/ca.pem", "ca: 5"), r"nodes\.default\.ca .* must be a string"),
        ("default_node: 3\n" + NODE, "'default_node' must be a node name"),
        ("nodes:\n  1: {}\n", "node name 1 must be a string"),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    source = tmp_path / "rnx-config.yml"
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(text, source)
    assert str(source) in str(caught.value)


def test_ipv6_addresses_are_host_port(tmp_path: Path) -> None:
    text = NODE.replace('"10.0.0.1:50051"', '"[::1]:50051"')
    assert parse_config(text, tmp_path / "c.yml").node(None).address == "[::1]:50051"
