"""The one config file, ``joblet-config.yml``, loaded into typed, validated objects.

Every process of a node (``joblet serve``, ``joblet state``, ``joblet persist``) reads the
same file. Unknown keys, wrong types and missing required values are errors that name the
key and the file: a typo must never silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from joblet_cluster.common.errors import ConfigError
from joblet_cluster.common.ids import SAFE_ID_RULE, is_safe_id

ENV_VAR = "JOBLET_CONFIG_PATH"
STANDARD_PATHS = (
    Path("joblet-config.yml"),
    Path("/opt/joblet/config/joblet-config.yml"),
    Path("/etc/joblet/joblet-config.yml"),
)
MASK = "***"


def _key(
    name: str,
    *,
    default: Any = dataclasses.MISSING,
    path: bool = False,
    secret: bool = False,
    factory: Any = dataclasses.MISSING,
) -> Any:
    """A config field whose YAML key is ``name`` (Joblet mixes camelCase and snake_case)."""
    meta = {"key": name, "path": path, "secret": secret}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class NodeMonitoringConfig:
    """The node's own Prometheus ``/metrics`` and ``/health``, on one HTTP port."""

    enabled: bool = _key("enabled", default=True)
    address: str = _key("address", default="127.0.0.1")
    port: int = _key("port", default=9094)  # 0: any free port (logged at start)


@dataclass(frozen=True)
class ServerConfig:
    node_id: str = _key("nodeId")
    address: str = _key("address", default="0.0.0.0")
    port: int = _key("port", default=50051)
    # a job runs in <jobs_dir>/<job id> unless it names its own work_dir
    jobs_dir: str = _key("jobs_dir", default="/opt/joblet/jobs", path=True)
    max_concurrent_jobs: int = _key("max_concurrent_jobs", default=100)  # the rest wait queued
    metrics_interval: float = _key("metrics_interval", default=5.0)  # s between job samples
    stop_grace_seconds: float = _key("stop_grace_seconds", default=10.0)  # SIGTERM, then KILL
    monitoring: NodeMonitoringConfig = _key("monitoring", factory=NodeMonitoringConfig)


@dataclass(frozen=True)
class ClusterConfig:
    raft_address: str = _key("raft_address", default="")
    peers: list[str] = _key("peers", factory=list)
    data_dir: str = _key("data_dir", default="/opt/joblet/data/raft", path=True)
    secret: str = _key("secret", default="", secret=True)
    # seconds; a follower that hears no leader for a random time in between stands
    election_timeout_min: float = _key("election_timeout_min", default=0.4)
    election_timeout_max: float = _key("election_timeout_max", default=1.4)
    # seconds a batch of changes may wait for its commit before the client is told
    # UNAVAILABLE (it keeps the changes and sends them again)
    commit_timeout: float = _key("commit_timeout", default=30.0)
    # seconds the node lets its state service go without answering, without a good raft
    # tick, or without applying while the leader commits, before it restarts the service
    # (node/watchdog.py); long enough for an election and a catch-up
    watchdog_timeout: float = _key("watchdog_timeout", default=10.0)
    # the raft log is snapshotted (to data_dir/dump, in a forked child) and cut once it
    # holds more entries than this, and at least every log_compaction_seconds, each node
    # in its own part of that period: the log, held in memory, stays bounded under load
    log_compaction_entries: int = _key("log_compaction_entries", default=10_000)
    log_compaction_seconds: float = _key("log_compaction_seconds", default=60.0)
    # zlib level of what replicas send each other, 0-9; -1: 0 without a secret and 1 with
    # one (cluster/compression.py says why)
    compression_level: int = _key("compression_level", default=-1)


@dataclass(frozen=True)
class RedisConfig:
    endpoint: str = _key("endpoint", default="localhost:6379")
    password: str = _key("password", default="", secret=True)
    db: int = _key("db", default=0)
    ttl_days: int = _key("ttl_days", default=30)


@dataclass(frozen=True)
class DynamoDBConfig:
    region: str = _key("region", default="")
    table_name: str = _key("table_name", default="joblet-jobs")
    ttl_enabled: bool = _key("ttl_enabled", default=True)
    ttl_days: int = _key("ttl_days", default=30)
    read_capacity: int = _key("read_capacity", default=5)
    write_capacity: int = _key("write_capacity", default=5)
    endpoint_url: str = _key("endpoint_url", default="")


@dataclass(frozen=True)
class StateStorageConfig:
    redis: RedisConfig = _key("redis", factory=RedisConfig)
    dynamodb: DynamoDBConfig = _key("dynamodb", factory=DynamoDBConfig)


@dataclass(frozen=True)
class StateConfig:
    backend: Literal["memory", "raft", "redis", "dynamodb"] = _key("backend", default="memory")
    socket: str = _key("socket", default="/opt/joblet/run/state-ipc.sock", path=True)
    max_line_bytes: int = _key("max_line_bytes", default=10 * 1024 * 1024)
    max_connections: int = _key("max_connections", default=64)
    storage: StateStorageConfig = _key("storage", factory=StateStorageConfig)


@dataclass(frozen=True)
class PersistServerConfig:
    grpc_socket: str = _key("grpc_socket", default="/opt/joblet/run/persist-grpc.sock", path=True)
    max_connections: int = _key("max_connections", default=500)


@dataclass(frozen=True)
class PersistIPCConfig:
    socket: str = _key("socket", default="/opt/joblet/run/persist-ipc.sock", path=True)
    max_connections: int = _key("max_connections", default=10)
    max_message_size: int = _key("max_message_size", default=134217728)


@dataclass(frozen=True)
class PersistDirConfig:
    directory: str = _key("directory", default="", path=True)
    format: Literal["jsonl.gz"] = _key("format", default="jsonl.gz")


@dataclass(frozen=True)
class RotationConfig:
    max_size_mb: int = _key("max_size_mb", default=100)  # a stream's file rolls over past this
    max_files: int = _key("max_files", default=10)  # rolled files kept per stream


@dataclass(frozen=True)
class RetentionConfig:
    logs_days: int = _key("logs_days", default=7)  # 0: keep forever
    metrics_days: int = _key("metrics_days", default=30)
    cleanup_interval_seconds: int = _key("cleanup_interval_seconds", default=3600)


@dataclass(frozen=True)
class PersistLocalConfig:
    logs: PersistDirConfig = _key("logs", factory=PersistDirConfig)
    metrics: PersistDirConfig = _key("metrics", factory=PersistDirConfig)
    # 1: fast; logs are written far more often than read. 9: smallest files, most CPU.
    compression_level: int = _key("compression_level", default=1)
    max_open_files: int = _key("max_open_files", default=256)
    rotation: RotationConfig = _key("rotation", factory=RotationConfig)
    retention: RetentionConfig = _key("retention", factory=RetentionConfig)


@dataclass(frozen=True)
class CloudWatchConfig:
    region: str = _key("region", default="")
    log_group_prefix: str = _key("log_group_prefix", default="/joblet")
    metric_namespace: str = _key("metric_namespace", default="Joblet/Jobs")
    metric_dimensions: dict[str, str] = _key("metric_dimensions", factory=dict)
    log_batch_size: int = _key("log_batch_size", default=100)
    metric_batch_size: int = _key("metric_batch_size", default=20)
    log_retention_days: int = _key("log_retention_days", default=7)
    endpoint_url: str = _key("endpoint_url", default="")


@dataclass(frozen=True)
class PersistStorageConfig:
    type: Literal["local", "cloudwatch"] = _key("type", default="local")
    base_dir: str = _key("base_dir", default="/opt/joblet", path=True)
    local: PersistLocalConfig = _key("local", factory=PersistLocalConfig)
    cloudwatch: CloudWatchConfig = _key("cloudwatch", factory=CloudWatchConfig)


@dataclass(frozen=True)
class PrometheusConfig:
    enabled: bool = _key("enabled", default=True)
    address: str = _key("address", default="127.0.0.1")
    port: int = _key("port", default=9092)  # 0: any free port (logged at start)
    path: str = _key("path", default="/metrics")


@dataclass(frozen=True)
class HealthConfig:
    enabled: bool = _key("enabled", default=True)
    address: str = _key("address", default="127.0.0.1")
    port: int = _key("port", default=9093)
    path: str = _key("path", default="/health")


@dataclass(frozen=True)
class MonitoringConfig:
    prometheus: PrometheusConfig = _key("prometheus", factory=PrometheusConfig)
    health: HealthConfig = _key("health", factory=HealthConfig)


@dataclass(frozen=True)
class PersistConfig:
    server: PersistServerConfig = _key("server", factory=PersistServerConfig)
    ipc: PersistIPCConfig = _key("ipc", factory=PersistIPCConfig)
    storage: PersistStorageConfig = _key("storage", factory=PersistStorageConfig)
    monitoring: MonitoringConfig = _key("monitoring", factory=MonitoringConfig)


@dataclass(frozen=True)
class SecurityConfig:
    server_cert: str = _key("serverCert", default="", secret=True, path=True)  # PEM or file
    server_key: str = _key("serverKey", default="", secret=True, path=True)
    ca_cert: str = _key("caCert", default="", secret=True, path=True)


@dataclass(frozen=True)
class LoggingConfig:
    level: Literal["DEBUG", "INFO", "WARNING", "WARN", "ERROR"] = _key("level", default="INFO")
    format: Literal["text", "json"] = _key("format", default="text")
    output: str = _key("output", default="stdout", path=True)  # stdout, stderr or a file


@dataclass(frozen=True)
class Config:
    """The whole file. ``source`` is where it was read from (None when built in code)."""

    server: ServerConfig = _key("server")
    version: str = _key("version", default="3.0")
    cluster: ClusterConfig = _key("cluster", factory=ClusterConfig)
    state: StateConfig = _key("state", factory=StateConfig)
    persist: PersistConfig = _key("persist", factory=PersistConfig)
    security: SecurityConfig = _key("security", factory=SecurityConfig)
    logging: LoggingConfig = _key("logging", factory=LoggingConfig)
    source: Path | None = field(default=None, compare=False, metadata={"internal": True})


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the config is: ``-c`` first, then ``$JOBLET_CONFIG_PATH``, then standard paths."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return Path(from_env)
    for candidate in STANDARD_PATHS:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(p) for p in STANDARD_PATHS)
    raise ConfigError(f"no config file: pass -c FILE, set ${ENV_VAR}, or create one of: {tried}")


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Find, read and validate the config file."""
    path = find_config(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    return parse_config(text, path)


def parse_config(text: str, source: Path | None = None) -> Config:
    """Validate YAML text; relative paths in it are taken from the file's own folder."""
    where = str(source) if source else "<config>"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML: {problem}{at}") from exc
    if data is None:
        data = {}
    base = source.resolve().parent if source else Path.cwd()
    config = _Builder(where, base).build(Config, data, "")
    config = dataclasses.replace(config, source=source)
    _check_cross_fields(config, where)
    return config


def config_from_dict(data: dict[str, Any], base: Path | None = None) -> Config:
    """Build a config in code (tests, ``joblet dev``) with the same validation as a file."""
    config = _Builder("<dict>", base or Path.cwd()).build(Config, data, "")
    _check_cross_fields(config, "<dict>")
    return config


def to_dict(config: Any, *, mask_secrets: bool = True) -> dict[str, Any]:
    """The effective config as plain data under its YAML keys, secrets masked."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if f.metadata.get("internal"):
            continue
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            value = to_dict(value, mask_secrets=mask_secrets)
        elif mask_secrets and f.metadata.get("secret") and value:
            value = MASK
        out[f.metadata["key"]] = value
    return out


class _Builder:
    def __init__(self, where: str, base: Path) -> None:
        self.where = where
        self.base = base

    def fail(self, key: str, message: str) -> typing.NoReturn:
        raise ConfigError(f"{self.where}: {key}: {message}")

    def build(self, cls: type, data: Any, prefix: str) -> Any:
        if not isinstance(data, dict):
            self.fail(prefix.rstrip(".") or "(top level)", f"expected a mapping, got {_kind(data)}")
        hints = typing.get_type_hints(cls)
        fields = {f.metadata["key"]: f for f in dataclasses.fields(cls) if "key" in f.metadata}
        unknown = [k for k in data if k not in fields]
        if unknown:
            name = f"{prefix}{unknown[0]}"
            self.fail(name, f"unknown key (known here: {', '.join(sorted(fields))})")
        values: dict[str, Any] = {}
        for key, f in fields.items():
            dotted = f"{prefix}{key}"
            if key not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    if dataclasses.is_dataclass(hints[f.name]):
                        values[f.name] = self.build(hints[f.name], {}, dotted + ".")
                        continue
                    self.fail(dotted, "required value is missing")
                continue
            value = self.convert(hints[f.name], data[key], dotted)
            if f.metadata.get("path") and _is_file_path(value):
                value = str(self.base / Path(value).expanduser())
            values[f.name] = value
        return cls(**values)

    def convert(self, hint: Any, value: Any, key: str) -> Any:
        origin = typing.get_origin(hint)
        if dataclasses.is_dataclass(hint):
            return self.build(typing.cast(type, hint), {} if value is None else value, key + ".")
        if origin is Literal:
            choices = typing.get_args(hint)
            if value not in choices:
                self.fail(key, f"{value!r} is not one of {', '.join(map(repr, choices))}")
            return value
        if origin is list:
            if not isinstance(value, list):
                self.fail(key, f"expected a list, got {_kind(value)}")
            (item,) = typing.get_args(hint)
            return [self.convert(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
        if origin is dict:
            if not isinstance(value, dict):
                self.fail(key, f"expected a mapping, got {_kind(value)}")
            _, item = typing.get_args(hint)
            return {str(k): self.convert(item, v, f"{key}.{k}") for k, v in value.items()}
        if hint is bool:
            if not isinstance(value, bool):
                self.fail(key, f"expected true or false, got {_kind(value)}")
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(key, f"expected an integer, got {_kind(value)}")
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(key, f"expected a number, got {_kind(value)}")
            return float(value)
        if hint is str:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                self.fail(key, f"expected a string, got {_kind(value)}")
            return str(value)
        raise TypeError(f"config field {key} has an unsupported type {hint}")


def _is_file_path(value: Any) -> bool:
    """Path-valued keys may also hold a stream name or inline PEM text: those stay as given."""
    return (
        isinstance(value, str)
        and value not in ("", "stdout", "stderr")
        and not value.lstrip().startswith("-----BEGIN")
    )


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {
        dict: "a mapping",
        list: "a list",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
    }.get(type(value), type(value).__name__)


def _check_cross_fields(config: Config, where: str) -> None:
    """Rules that span fields: each names the key a user has to fix."""

    def fail(key: str, message: str) -> typing.NoReturn:
        raise ConfigError(f"{where}: {key}: {message}")

    if not is_safe_id(config.server.node_id):
        fail(
            "server.nodeId",
            f"{config.server.node_id!r} is not a safe identifier ({SAFE_ID_RULE})",
        )
    if not 0 < config.server.port < 65536:
        fail("server.port", f"{config.server.port} is not a TCP port (1-65535)")
    if config.server.max_concurrent_jobs < 1:
        fail("server.max_concurrent_jobs", "must be at least 1")
    if config.server.metrics_interval < 0.1:
        fail("server.metrics_interval", "must be at least 0.1 (seconds)")
    if config.server.stop_grace_seconds < 0:
        fail("server.stop_grace_seconds", "must not be negative")
    if not 0 <= config.server.monitoring.port < 65536:
        fail("server.monitoring.port", f"{config.server.monitoring.port} is not a TCP port")
    if config.cluster.watchdog_timeout < 1:
        fail("cluster.watchdog_timeout", "must be at least 1 (seconds; the node pings every 1)")
    if config.cluster.log_compaction_entries < 1:
        fail("cluster.log_compaction_entries", "must be at least 1")
    if config.cluster.log_compaction_seconds < 1:
        fail("cluster.log_compaction_seconds", "must be at least 1 (seconds)")
    if not -1 <= config.cluster.compression_level <= 9:
        fail(
            "cluster.compression_level",
            "must be from 0 (none) to 9 (smallest), or -1 (0 without a secret, 1 with one)",
        )
    if config.state.max_line_bytes < 1024:
        fail("state.max_line_bytes", "must be at least 1024 bytes")
    if config.state.max_connections < 1:
        fail("state.max_connections", "must be at least 1")
    if not config.state.socket:
        fail("state.socket", "must name a socket path")
    if config.persist.ipc.max_message_size < 1024:
        fail("persist.ipc.max_message_size", "must be at least 1024 bytes")
    local = config.persist.storage.local
    if not 0 <= local.compression_level <= 9:
        fail("persist.storage.local.compression_level", "must be from 0 (none) to 9 (smallest)")
    if local.max_open_files < 2:
        fail("persist.storage.local.max_open_files", "must be at least 2")
    if local.rotation.max_size_mb < 1:
        fail("persist.storage.local.rotation.max_size_mb", "must be at least 1")
    if local.rotation.max_files < 0:
        fail("persist.storage.local.rotation.max_files", "must not be negative")
    for key in ("logs_days", "metrics_days"):
        if getattr(local.retention, key) < 0:
            fail(f"persist.storage.local.retention.{key}", "must not be negative (0 keeps forever)")
    if local.retention.cleanup_interval_seconds < 1:
        fail("persist.storage.local.retention.cleanup_interval_seconds", "must be at least 1")
    for name in ("prometheus", "health"):
        endpoint = getattr(config.persist.monitoring, name)
        if not 0 <= endpoint.port < 65536:
            fail(f"persist.monitoring.{name}.port", f"{endpoint.port} is not a TCP port")
        if not endpoint.path.startswith("/"):
            fail(f"persist.monitoring.{name}.path", "must start with /")
