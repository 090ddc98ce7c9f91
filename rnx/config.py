"""Joblet's client config, ``rnx-config.yml``: where it is, and the nodes it names.

::

    nodes:
      default:
        address: "host:50051"
        cert: |            # PEM text, or a path (relative to this file)
          -----BEGIN CERTIFICATE-----
        key: ...
        ca: ...
        nodeId: ...        # optional

The same file serves Joblet's Go ``rnx``, its SDK and admin UI, which add keys of their own
(``version``, ``default_node``, ``persistAddress``, ...): keys this client does not use are
left alone, so one file works for every client. Errors name the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from joblet_cluster.common.errors import ConfigError
from joblet_cluster.common.tls import read_pem

ENV_VAR = "RNX_CONFIG"
FILE_NAME = "rnx-config.yml"
DEFAULT_NODE = "default"
_PEM_MARK = "-----BEGIN"


@dataclass(frozen=True)
class TlsMaterial:
    """The PEM bytes of one node's mutual TLS: the CA to trust, our certificate and key."""

    ca: bytes
    cert: bytes
    key: bytes


@dataclass(frozen=True)
class NodeEntry:
    """One node of the config. ``cert``/``key``/``ca`` are as written: PEM text or a path."""

    name: str
    address: str
    cert: str
    key: str
    ca: str
    node_id: str
    source: Path  # the config file, for errors and for relative paths

    def tls(self) -> TlsMaterial:
        """Read the PEMs, from the file itself or from the files it points at.

        Done only when connecting, so that one node's missing file does not stop
        ``rnx`` from talking to the others.
        """
        return TlsMaterial(
            ca=self._pem("ca", self.ca),
            cert=self._pem("cert", self.cert),
            key=self._pem("key", self.key),
        )

    def _pem(self, key: str, value: str) -> bytes:
        if _PEM_MARK not in value:  # a path: relative to the config file, not to the cwd
            value = str(self.source.parent / Path(value).expanduser())
        return read_pem(value, f"nodes.{self.name}.{key} in {self.source}")


@dataclass(frozen=True)
class ClientConfig:
    """The nodes of one ``rnx-config.yml``, in file order."""

    source: Path
    nodes: dict[str, NodeEntry]
    default_node: str = DEFAULT_NODE

    def node(self, name: str | None) -> NodeEntry:
        """The node called ``name``, or the default one when no name is given."""
        wanted = name if name is not None else self.default_node
        try:
            return self.nodes[wanted]
        except KeyError:
            known = ", ".join(self.nodes)
            if name is None:
                raise ConfigError(
                    f"{self.source} has no node {wanted!r}: choose one with --node (nodes: {known})"
                ) from None
            raise ConfigError(f"no node {wanted!r} in {self.source} (nodes: {known})") from None


def find_config(explicit: Path | None, environ: Mapping[str, str], home: Path, cwd: Path) -> Path:
    """The config file: ``--config``, ``$RNX_CONFIG``, ``./rnx-config.yml``, ``~/.rnx/...``.

    A file named explicitly (by flag or variable) must exist: falling through to another
    file would send jobs to a node the user did not mean.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} (from --config) does not exist")
        return explicit
    from_env = environ.get(ENV_VAR, "")
    if from_env:
        if not Path(from_env).is_file():
            raise ConfigError(f"config file {from_env} (from ${ENV_VAR}) does not exist")
        return Path(from_env)
    candidates = (cwd / FILE_NAME, home / ".rnx" / FILE_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {FILE_NAME} found (looked for {', '.join(map(str, candidates))}): "
        f"pass --config FILE or set ${ENV_VAR}"
    )


def load_config(explicit: Path | None = None) -> ClientConfig:
    """Find the config file as :func:`find_config` does for this process, and read it."""
    path = find_config(explicit, os.environ, Path.home(), Path.cwd())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return parse_config(text, path)


def parse_config(text: str, source: Path) -> ClientConfig:
    """Validate the YAML text of ``source`` into a :class:`ClientConfig`."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source} is not valid YAML{where}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{source} must be a mapping with a 'nodes' key")
    nodes = document.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        raise ConfigError(f"{source}: 'nodes' must map node names to their settings")
    default_node = document.get("default_node", DEFAULT_NODE)
    if not isinstance(default_node, str) or not default_node:
        raise ConfigError(f"{source}: 'default_node' must be a node name")
    entries = {}
    for name, settings in nodes.items():
        if not isinstance(name, str):
            raise ConfigError(f"{source}: node name {name!r} must be a string")
        entries[name] = _node(name, settings, source)
    return ClientConfig(source=source, nodes=entries, default_node=default_node)


def _node(name: str, settings: Any, source: Path) -> NodeEntry:
    if not isinstance(settings, dict):
        raise ConfigError(f"nodes.{name} in {source} must be a mapping")

    def text(key: str, required: bool = True) -> str:
        value = settings.get(key, "")
        if not isinstance(value, str):
            raise ConfigError(f"nodes.{name}.{key} in {source} must be a string")
        if required and not value.strip():
            need = " (rnx always connects with mutual TLS)" if key != "address" else ""
            raise ConfigError(f"nodes.{name}.{key} in {source} is missing or empty{need}")
        return value.strip() if key in ("address", "nodeId") else value

    address = text("address")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"nodes.{name}.address in {source} must be host:port, not {address!r}")
    return NodeEntry(
        name=name,
        address=address,
        cert=text("cert"),
        key=text("key"),
        ca=text("ca"),
        node_id=text("nodeId", required=False),
        source=source,
    )
