"""joblet-config.yml: finding, parsing, validating and printing the config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from joblet_cluster.common import config as config_module
from joblet_cluster.common.config import (
    ENV_VAR,
    MASK,
    STANDARD_PATHS,
    Config,
    ServerConfig,
    config_from_dict,
    find_config,
    load_config,
    parse_config,
    to_dict,
)
from joblet_cluster.common.errors import ConfigError, JobletError

MINIMAL = "server:\n  nodeId: node-1\n"

#: A file that sets every key to a non-default value (paths absolute, so they stay as is).
FULL: dict = {
    "server": {
        "nodeId": "node-7",
        "address": "127.0.0.1",
        "port": 6000,
        "jobs_dir": "/srv/jobs",
        "max_concurrent_jobs": 7,
        "metrics_interval": 2.5,
        "stop_grace_seconds": 3.0,
        "monitoring": {"enabled": False, "address": "0.0.0.0", "port": 9999},
    },
    "version": "3.1",
    "cluster": {
        "raft_address": "10.0.0.7:7000",
        "peers": ["10.0.0.8:7000", "10.0.0.9:7000"],
        "data_dir": "/var/lib/joblet/raft",
        "secret": "cluster-secret",
        "election_timeout_min": 0.2,
        "election_timeout_max": 0.6,
        "commit_timeout": 5.0,
        "watchdog_timeout": 4.0,
        "log_compaction_entries": 500,
        "log_compaction_seconds": 30.0,
        "compression_level": 6,
    },
    "state": {
        "backend": "redis",
        "socket": "/run/joblet/state.sock",
        "max_line_bytes": 2048,
        "max_connections": 3,
        "storage": {
            "redis": {
                "endpoint": "redis:6380",
                "password": "redis-pass",
                "db": 4,
                "ttl_days": 9,
            },
            "dynamodb": {
                "region": "eu-west-1",
                "table_name": "jobs",
                "ttl_enabled": False,
                "ttl_days": 11,
                "read_capacity": 7,
                "write_capacity": 8,
                "endpoint_url": "http://localhost:8000",
            },
        },
    },
    "persist": {
        "server": {"grpc_socket": "/run/joblet/persist-grpc.sock", "max_connections": 12},
        "ipc": {
            "socket": "/run/joblet/persist-ipc.sock",
            "max_connections": 13,
            "max_message_size": 4096,
        },
        "storage": {
            "type": "cloudwatch",
            "base_dir": "/srv/joblet",
            "local": {
                "logs": {"directory": "/srv/joblet/logs", "format": "jsonl.gz"},
                "metrics": {"directory": "/srv/joblet/metrics", "format": "jsonl.gz"},
                "compression_level": 3,
                "max_open_files": 64,
                "rotation": {"max_size_mb": 5, "max_files": 2},
                "retention": {"logs_days": 2, "metrics_days": 4, "cleanup_interval_seconds": 60},
            },
            "cloudwatch": {
                "region": "us-east-2",
                "log_group_prefix": "/jb",
                "metric_namespace": "JB/Jobs",
                "metric_dimensions": {"env": "prod", "team": "infra"},
                "log_batch_size": 50,
                "metric_batch_size": 10,
                "log_retention_days": 3,
                "endpoint_url": "http://localhost:4566",
            },
        },
        "monitoring": {
            "prometheus": {"enabled": False, "address": "0.0.0.0", "port": 9192, "path": "/m"},
            "health": {"enabled": True, "address": "127.0.0.2", "port": 9193, "path": "/h"},
        },
    },
    "security": {
        "serverCert": "-----BEGIN CERT-----\nCERT-PEM\n-----END CERT-----\n",
        "serverKey": "-----BEGIN KEY-----\nKEY-PEM\n-----END KEY-----\n",
        "caCert": "-----BEGIN CA-----\nCA-PEM\n-----END CA-----\n",
    },
    "logging": {"level": "DEBUG", "format": "json", "output": "stderr"},
}


def write(tmp_path: Path, text: str, name: str = "joblet-config.yml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> tuple[str, Path]:
    """The message of the ConfigError that loading ``text`` from a file raises."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value), path


# --- defaults and every section ---------------------------------------------------------


def test_minimal_file_gets_every_default(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))

    assert cfg == Config(server=ServerConfig(node_id="node-1"))
    assert cfg.server.address == "0.0.0.0"
    assert cfg.server.port == 50051
    assert cfg.version == "3.0"
    assert cfg.cluster.peers == []
    assert cfg.cluster.secret == ""
    assert cfg.cluster.data_dir == "/opt/joblet/data/raft"
    assert cfg.state.backend == "memory"
    assert cfg.state.socket == "/opt/joblet/run/state-ipc.sock"
    assert cfg.state.max_line_bytes == 10 * 1024 * 1024
    assert cfg.state.max_connections == 64
    assert cfg.state.storage.redis.endpoint == "localhost:6379"
    assert cfg.state.storage.dynamodb.ttl_enabled is True
    assert cfg.persist.ipc.max_message_size == 134217728
    assert cfg.persist.storage.type == "local"
    assert cfg.persist.storage.local.logs.format == "jsonl.gz"
    assert cfg.persist.storage.cloudwatch.metric_dimensions == {}
    assert cfg.security.server_cert == ""
    assert cfg.logging.level == "INFO"
    assert cfg.logging.format == "text"
    assert cfg.logging.output == "stdout"


def test_config_from_dict_gives_the_same_defaults_as_a_file(tmp_path):
    from_file = load_config(write(tmp_path, MINIMAL))
    from_dict = config_from_dict({"server": {"nodeId": "node-1"}})

    assert from_dict == from_file
    assert from_dict.source is None


def test_default_factories_are_not_shared_between_configs():
    one = config_from_dict({"server": {"nodeId": "a"}})
    two = config_from_dict({"server": {"nodeId": "b"}})

    assert one.cluster.peers is not two.cluster.peers


def test_every_section_and_key_loads_under_its_yaml_name(tmp_path):
    path = write(tmp_path, yaml.safe_dump(FULL))
    cfg = load_config(path)

    assert to_dict(cfg, mask_secrets=False) == FULL
    assert cfg.source == path
    # the YAML names differ from the attribute names (camelCase and snake_case mixed)
    assert cfg.server.node_id == "node-7"
    assert cfg.cluster.raft_address == "10.0.0.7:7000"
    assert cfg.state.storage.redis.password == "redis-pass"
    assert cfg.state.storage.dynamodb.ttl_enabled is False
    assert cfg.persist.storage.cloudwatch.metric_dimensions == {"env": "prod", "team": "infra"}
    assert cfg.security.server_cert == "-----BEGIN CERT-----\nCERT-PEM\n-----END CERT-----\n"
    assert cfg.security.server_key == "-----BEGIN KEY-----\nKEY-PEM\n-----END KEY-----\n"
    assert cfg.security.ca_cert == "-----BEGIN CA-----\nCA-PEM\n-----END CA-----\n"


def test_a_null_section_takes_its_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + "logging:\nstate:\n"))

    assert cfg.logging.level == "INFO"
    assert cfg.state.backend == "memory"


def test_numbers_given_for_strings_become_strings(tmp_path):
    cfg = load_config(write(tmp_path, "server:\n  nodeId: 42\nversion: 3.5\n"))

    assert cfg.server.node_id == "42"
    assert cfg.version == "3.5"


# --- errors name the dotted key and the file --------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (MINIMAL + "sever: {}\n", "sever"),
        ("server:\n  nodeId: n1\n  prot: 80\n", "server.prot"),
        (
            MINIMAL + "state:\n  storage:\n    redis:\n      passwd: x\n",
            "state.storage.redis.passwd",
        ),
        (
            MINIMAL + "persist:\n  storage:\n    local:\n      logs:\n        dir: /x\n",
            "persist.storage.local.logs.dir",
        ),
        (MINIMAL + "security:\n  server_cert: x\n", "security.server_cert"),
    ],
)
def test_unknown_key_names_the_dotted_key_and_the_file(tmp_path, text, key):
    message, path = load_error(tmp_path, text)

    assert f": {key}: unknown key" in message
    assert str(path) in message


def test_unknown_key_lists_the_known_keys_of_its_section(tmp_path):
    message, _ = load_error(tmp_path, "server:\n  nodeId: n1\n  prot: 80\n")

    assert "known here: address, jobs_dir, max_concurrent_jobs, metrics_interval" in message


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("server:\n  nodeId: n1\n  port: '80'\n", "server.port", "expected an integer"),
        ("server:\n  nodeId: n1\n  port: true\n", "server.port", "expected an integer"),
        ("server:\n  nodeId: n1\n  port: 8.5\n", "server.port", "expected an integer"),
        ("server:\n  nodeId: n1\n  port:\n", "server.port", "expected an integer"),
        (
            MINIMAL + "state:\n  max_connections: many\n",
            "state.max_connections",
            "expected an integer",
        ),
        ("server: [n1]\n", "server", "expected a mapping"),
        (MINIMAL + "state: [memory]\n", "state", "expected a mapping"),
        (MINIMAL + "state:\n  storage: redis\n", "state.storage", "expected a mapping"),
        (
            MINIMAL + "state:\n  storage:\n    dynamodb:\n      ttl_enabled: 1\n",
            "state.storage.dynamodb.ttl_enabled",
            "expected true or false",
        ),
        (
            MINIMAL + "state:\n  storage:\n    dynamodb:\n      ttl_enabled: 'yes'\n",
            "state.storage.dynamodb.ttl_enabled",
            "expected true or false",
        ),
        (MINIMAL + "cluster:\n  peers: a,b\n", "cluster.peers", "expected a list"),
        (MINIMAL + "cluster:\n  peers: [[a]]\n", "cluster.peers[0]", "expected a string"),
        (
            MINIMAL + "persist:\n  storage:\n    cloudwatch:\n      metric_dimensions: [a]\n",
            "persist.storage.cloudwatch.metric_dimensions",
            "expected a mapping",
        ),
        (
            MINIMAL + "persist:\n  storage:\n    cloudwatch:\n      metric_dimensions: {a: [1]}\n",
            "persist.storage.cloudwatch.metric_dimensions.a",
            "expected a string",
        ),
        ("server:\n  nodeId: true\n", "server.nodeId", "expected a string"),
        ("server:\n  nodeId: n1\n  address: {a: 1}\n", "server.address", "expected a string"),
        (MINIMAL + "security:\n  caCert: [x]\n", "security.caCert", "expected a string"),
    ],
)
def test_wrong_type_names_the_dotted_key_and_the_file(tmp_path, text, key, expected):
    message, path = load_error(tmp_path, text)

    assert f": {key}: {expected}" in message
    assert str(path) in message


def test_a_top_level_that_is_not_a_mapping_is_an_error(tmp_path):
    message, path = load_error(tmp_path, "- server\n- state\n")

    assert "(top level): expected a mapping, got a list" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("text", "key", "bad"),
    [
        (MINIMAL + "state:\n  backend: mysql\n", "state.backend", "'mysql'"),
        (MINIMAL + "logging:\n  level: verbose\n", "logging.level", "'verbose'"),
        (MINIMAL + "logging:\n  format: xml\n", "logging.format", "'xml'"),
        (MINIMAL + "persist:\n  storage:\n    type: s3\n", "persist.storage.type", "'s3'"),
        (
            MINIMAL + "persist:\n  storage:\n    local:\n      metrics:\n        format: csv\n",
            "persist.storage.local.metrics.format",
            "'csv'",
        ),
    ],
)
def test_invalid_choice_names_the_key_the_value_and_the_choices(tmp_path, text, key, bad):
    message, path = load_error(tmp_path, text)

    assert f": {key}: {bad} is not one of" in message
    assert str(path) in message


def test_invalid_choice_lists_the_valid_ones(tmp_path):
    message, _ = load_error(tmp_path, MINIMAL + "state:\n  backend: mysql\n")

    assert "'memory', 'raft', 'redis', 'dynamodb'" in message


@pytest.mark.parametrize(
    "text",
    [
        "server: {}\n",
        "server:\n  port: 6000\n",
        "server:\n",
        "logging:\n  level: INFO\n",
    ],
)
def test_missing_node_id_is_an_error(tmp_path, text):
    message, path = load_error(tmp_path, text)

    assert "server.nodeId: required value is missing" in message
    assert str(path) in message


@pytest.mark.parametrize("node_id", ["../x", "a/b", ".hidden", "-x", "a..b", "", "a b"])
def test_unsafe_node_id_is_an_error(tmp_path, node_id):
    message, path = load_error(tmp_path, yaml.safe_dump({"server": {"nodeId": node_id}}))

    assert ": server.nodeId: " in message
    assert repr(node_id) in message
    assert str(path) in message


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_port_outside_tcp_range_is_an_error(tmp_path, port):
    message, path = load_error(tmp_path, f"server:\n  nodeId: n1\n  port: {port}\n")

    assert f": server.port: {port} is not a TCP port" in message
    assert str(path) in message


@pytest.mark.parametrize("port", [1, 65535])
def test_port_at_the_range_ends_is_accepted(tmp_path, port):
    cfg = load_config(write(tmp_path, f"server:\n  nodeId: n1\n  port: {port}\n"))

    assert cfg.server.port == port


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (MINIMAL + "state:\n  max_line_bytes: 1023\n", "state.max_line_bytes"),
        (MINIMAL + "state:\n  max_connections: 0\n", "state.max_connections"),
        (MINIMAL + "state:\n  socket: ''\n", "state.socket"),
        (MINIMAL + "cluster:\n  watchdog_timeout: 0.5\n", "cluster.watchdog_timeout"),
        (MINIMAL + "cluster:\n  log_compaction_entries: 0\n", "cluster.log_compaction_entries"),
        (MINIMAL + "cluster:\n  log_compaction_seconds: 0\n", "cluster.log_compaction_seconds"),
        (MINIMAL + "cluster:\n  compression_level: 10\n", "cluster.compression_level"),
        (
            MINIMAL + "persist:\n  ipc:\n    max_message_size: 1000\n",
            "persist.ipc.max_message_size",
        ),
    ],
)
def test_out_of_range_values_name_their_key(tmp_path, text, key):
    message, path = load_error(tmp_path, text)

    assert f": {key}: " in message
    assert str(path) in message


def test_config_from_dict_validates_like_a_file():
    with pytest.raises(ConfigError) as info:
        config_from_dict({"server": {"nodeId": "n1"}, "state": {"bakend": "memory"}})

    assert str(info.value).startswith("<dict>: state.bakend: unknown key")


def test_config_from_dict_checks_cross_field_rules():
    with pytest.raises(ConfigError, match=r"^<dict>: server\.port: "):
        config_from_dict({"server": {"nodeId": "n1", "port": 0}})


def test_parse_config_without_a_source_names_config():
    with pytest.raises(ConfigError, match=r"^<config>: server\.nodeId: required value"):
        parse_config("")


def test_config_error_is_a_joblet_error():
    assert issubclass(ConfigError, JobletError)


# --- relative paths ---------------------------------------------------------------------


def test_relative_paths_are_taken_from_the_config_files_folder(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    folder = tmp_path / "conf"
    text = MINIMAL + (
        "cluster:\n  data_dir: data/raft\n"
        "state:\n  socket: run/state.sock\n"
        "persist:\n"
        "  server:\n    grpc_socket: run/grpc.sock\n"
        "  ipc:\n    socket: ./run/ipc.sock\n"
        "  storage:\n"
        "    base_dir: ../base\n"
        "    local:\n      logs:\n        directory: logs\n"
    )
    cfg = load_config(write(folder, text))

    here = folder.resolve()
    assert Path(cfg.cluster.data_dir) == here / "data" / "raft"
    assert Path(cfg.state.socket) == here / "run" / "state.sock"
    assert Path(cfg.persist.server.grpc_socket) == here / "run" / "grpc.sock"
    assert Path(cfg.persist.ipc.socket) == here / "run" / "ipc.sock"
    assert Path(cfg.persist.storage.base_dir).resolve() == tmp_path.resolve() / "base"
    assert Path(cfg.persist.storage.local.logs.directory) == here / "logs"
    # an empty path stays empty: it means "not set"
    assert cfg.persist.storage.local.metrics.directory == ""


def test_relative_paths_use_the_folder_of_a_relatively_named_file(tmp_path, monkeypatch):
    write(tmp_path / "conf", MINIMAL + "state:\n  socket: state.sock\n")
    monkeypatch.chdir(tmp_path)

    cfg = load_config(Path("conf") / "joblet-config.yml")

    assert Path(cfg.state.socket) == tmp_path.resolve() / "conf" / "state.sock"


def test_absolute_and_home_paths_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = MINIMAL + "state:\n  socket: /run/x.sock\ncluster:\n  data_dir: ~/raft\n"
    cfg = load_config(write(tmp_path / "conf", text))

    assert cfg.state.socket == "/run/x.sock"
    assert Path(cfg.cluster.data_dir) == tmp_path / "home" / "raft"


def test_non_path_strings_are_not_resolved(tmp_path):
    text = "server:\n  nodeId: n1\n  address: localhost\n"
    cfg = load_config(write(tmp_path, text))

    assert cfg.server.address == "localhost"


def test_config_from_dict_resolves_against_the_given_base(tmp_path):
    cfg = config_from_dict(
        {"server": {"nodeId": "n1"}, "state": {"socket": "s.sock"}}, base=tmp_path
    )

    assert Path(cfg.state.socket) == tmp_path / "s.sock"


def test_parse_config_without_a_source_resolves_against_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    cfg = parse_config(MINIMAL + "state:\n  socket: s.sock\n")

    assert Path(cfg.state.socket) == tmp_path.resolve() / "s.sock"


# --- where the file is found ------------------------------------------------------------


def test_standard_paths_are_searched_in_this_order():
    expected = (
        Path("joblet-config.yml"),
        Path("/opt/joblet/config/joblet-config.yml"),
        Path("/etc/joblet/joblet-config.yml"),
    )

    assert expected == STANDARD_PATHS


def test_explicit_path_beats_the_environment_and_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "server:\n  nodeId: from-cwd\n")
    from_env = write(tmp_path, "server:\n  nodeId: from-env\n", "env.yml")
    explicit = write(tmp_path, "server:\n  nodeId: from-flag\n", "flag.yml")
    monkeypatch.setenv(ENV_VAR, str(from_env))

    assert find_config(explicit) == explicit
    assert find_config(str(explicit)) == explicit
    assert load_config(explicit).server.node_id == "from-flag"


def test_environment_beats_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "server:\n  nodeId: from-cwd\n")
    from_env = write(tmp_path, "server:\n  nodeId: from-env\n", "env.yml")
    monkeypatch.setenv(ENV_VAR, str(from_env))

    assert find_config() == from_env
    assert load_config().server.node_id == "from-env"
    assert load_config(None).source == from_env


def test_working_folder_file_is_used_without_flag_or_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    write(tmp_path, "server:\n  nodeId: from-cwd\n")

    assert find_config() == Path("joblet-config.yml")
    assert load_config().server.node_id == "from-cwd"


def test_empty_environment_variable_is_ignored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, "")
    write(tmp_path, "server:\n  nodeId: from-cwd\n")

    assert load_config().server.node_id == "from-cwd"


def test_environment_naming_a_missing_file_does_not_fall_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "server:\n  nodeId: from-cwd\n")
    missing = tmp_path / "nope.yml"
    monkeypatch.setenv(ENV_VAR, str(missing))

    with pytest.raises(ConfigError) as info:
        load_config()

    assert str(missing) in str(info.value)
    assert "cannot read config file" in str(info.value)


def test_no_config_anywhere_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    absent = (Path("joblet-config.yml"), tmp_path / "opt.yml", tmp_path / "etc.yml")
    monkeypatch.setattr(config_module, "STANDARD_PATHS", absent)

    with pytest.raises(ConfigError) as info:
        find_config()

    message = str(info.value)
    assert "-c FILE" in message
    assert f"${ENV_VAR}" in message
    for candidate in absent:
        assert str(candidate) in message


def test_a_folder_named_like_the_config_is_not_picked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    (tmp_path / "joblet-config.yml").mkdir()
    absent = (Path("joblet-config.yml"), tmp_path / "opt.yml")
    monkeypatch.setattr(config_module, "STANDARD_PATHS", absent)

    with pytest.raises(ConfigError, match="no config file"):
        find_config()


# --- unreadable, invalid and empty files ------------------------------------------------


def test_missing_file_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "missing.yml"

    with pytest.raises(ConfigError) as info:
        load_config(missing)

    assert str(info.value).startswith(f"{missing}: cannot read config file")
    assert "No such file" in str(info.value)


def test_unreadable_file_is_an_error_naming_it(tmp_path):
    folder = tmp_path / "folder.yml"
    folder.mkdir()

    with pytest.raises(ConfigError) as info:
        load_config(folder)

    assert str(info.value).startswith(f"{folder}: cannot read config file")


def test_invalid_yaml_is_an_error_naming_the_file(tmp_path):
    message, path = load_error(tmp_path, "server: [\n")

    assert message.startswith(f"{path}: not valid YAML")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file_is_missing_the_node_id(tmp_path, text):
    message, path = load_error(tmp_path, text)

    assert message == f"{path}: server.nodeId: required value is missing"


# --- to_dict ----------------------------------------------------------------------------


def test_to_dict_masks_every_secret_and_nothing_else(tmp_path):
    cfg = load_config(write(tmp_path, yaml.safe_dump(FULL)))
    shown = to_dict(cfg)

    assert shown["cluster"]["secret"] == MASK
    assert shown["state"]["storage"]["redis"]["password"] == MASK
    assert shown["security"] == {"serverCert": MASK, "serverKey": MASK, "caCert": MASK}
    expected = yaml.safe_load(yaml.safe_dump(FULL))
    expected["cluster"]["secret"] = MASK
    expected["state"]["storage"]["redis"]["password"] = MASK
    expected["security"] = {"serverCert": MASK, "serverKey": MASK, "caCert": MASK}
    assert shown == expected
    for secret in ("cluster-secret", "redis-pass", "CERT-PEM", "KEY-PEM", "CA-PEM"):
        assert secret not in yaml.safe_dump(shown)


def test_to_dict_leaves_unset_secrets_empty(tmp_path):
    shown = to_dict(load_config(write(tmp_path, MINIMAL)))

    assert shown["cluster"]["secret"] == ""
    assert shown["state"]["storage"]["redis"]["password"] == ""
    assert shown["security"] == {"serverCert": "", "serverKey": "", "caCert": ""}


def test_to_dict_leaves_out_the_source(tmp_path):
    shown = to_dict(load_config(write(tmp_path, MINIMAL)))

    assert list(shown) == [
        "server",
        "version",
        "cluster",
        "state",
        "persist",
        "security",
        "logging",
    ]


def test_to_dict_unmasked_round_trips_through_parse_config(tmp_path):
    original = load_config(write(tmp_path, yaml.safe_dump(FULL)))

    text = yaml.safe_dump(to_dict(original, mask_secrets=False))
    again = parse_config(text, tmp_path / "other" / "joblet-config.yml")

    assert again == original
    assert again.security.server_key == "-----BEGIN KEY-----\nKEY-PEM\n-----END KEY-----\n"


def test_to_dict_round_trips_a_config_with_relative_paths(tmp_path):
    original = load_config(write(tmp_path / "a", MINIMAL + "state:\n  socket: s.sock\n"))

    again = parse_config(yaml.safe_dump(to_dict(original, mask_secrets=False)), tmp_path / "b.yml")

    assert again == original


# --- the real CLI -----------------------------------------------------------------------


def run_check(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "joblet_cluster.node", "config", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_cli_config_check_prints_the_effective_config_with_secrets_masked(tmp_path):
    path = write(tmp_path, yaml.safe_dump(FULL))

    result = run_check(path, tmp_path)

    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    assert printed == to_dict(load_config(path))
    assert printed["server"]["nodeId"] == "node-7"
    assert printed["cluster"]["secret"] == MASK
    assert printed["state"]["storage"]["redis"]["password"] == MASK
    assert printed["security"] == {"serverCert": MASK, "serverKey": MASK, "caCert": MASK}
    for secret in ("cluster-secret", "redis-pass", "CERT-PEM", "KEY-PEM", "CA-PEM"):
        assert secret not in result.stdout
        assert secret not in result.stderr
    assert f"{path}: valid" in result.stderr


def test_cli_config_check_rejects_a_bad_file_with_one_line_naming_the_key(tmp_path):
    path = write(tmp_path, "server:\n  nodeId: n1\n  prot: 80\n")

    result = run_check(path, tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"joblet: {path}: server.prot: unknown key")


def test_file_paths_resolve_against_the_config_folder_but_pem_and_streams_stay(tmp_path):
    nested = tmp_path / "etc"
    nested.mkdir()
    text = (
        "server: {nodeId: n1}\n"
        "security: {serverCert: certs/server.pem, caCert: '-----BEGIN CERTIFICATE-----'}\n"
        "logging: {output: logs/joblet.log}\n"
    )
    cfg = load_config(write(nested, text))

    assert cfg.security.server_cert == str(nested / "certs" / "server.pem")
    assert cfg.security.ca_cert == "-----BEGIN CERTIFICATE-----"
    assert cfg.logging.output == str(nested / "logs" / "joblet.log")
    stream = load_config(write(nested, "server: {nodeId: n1}\nlogging: {output: stderr}\n"))
    assert stream.logging.output == "stderr"
