"""The global options of one ``rnx`` run and the node they select, shared by every command.

The root callback stores a :class:`Session` in ``ctx.obj``; commands ask it for the node's
connection. The config file is read only by commands that talk to a node, so ``--help``
and ``version`` work without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.rnx.config import ClientConfig, NodeEntry, load_config
from joblet_cluster.rnx.connect import Connection, connect
from joblet_cluster.rnx.errors import ExitCode

T = TypeVar("T")

#: ``--json`` on a command: the same as the global ``--json`` given before it
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (same as the global --json).")
]


@dataclass
class Session:
    """``--config``, ``--node`` and ``--json`` as given before the command."""

    config_path: Path | None = None
    node_name: str | None = None
    json: bool = False
    _config: ClientConfig | None = field(default=None, init=False, repr=False)

    def config(self) -> ClientConfig:
        """The config file, read once."""
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def entry(self) -> NodeEntry:
        """The node the command is for: ``--node``, or the config's default."""
        return self.config().node(self.node_name)

    def connect(self) -> Connection:
        """A connection to :meth:`entry`."""
        return connect(self.entry())

    def wants_json(self, flag: bool) -> bool:
        """``--json`` given before the command or on it."""
        return self.json or flag


def session_of(ctx: typer.Context) -> Session:
    """The session the root callback stored (a default one when a command runs alone)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Session):
        root.obj = Session()
    return root.obj


def option_value(option: str, parse: Callable[[str], T], value: str) -> T:
    """``parse(value)``, with an :class:`InvalidInput` naming the option when it fails."""
    try:
        return parse(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{option}: {exc}") from None


def require_subcommand(ctx: typer.Context) -> None:
    """A group called without a command prints its help and exits as a usage error."""
    if ctx.invoked_subcommand is None:
        help_text = ctx.get_help()  # with rich, typer prints the help itself and returns ""
        if help_text:
            typer.echo(help_text)
        raise typer.Exit(ExitCode.USAGE)
