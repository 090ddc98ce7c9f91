"""The ``joblet`` command: the node's processes and its operator tools."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from joblet_cluster.common import aio
from joblet_cluster.common.config import Config, load_config, to_dict
from joblet_cluster.common.errors import JobletError
from joblet_cluster.common.logs import setup_logging
from joblet_cluster.common.version import VERSION
from joblet_cluster.persist import serve_persist
from joblet_cluster.state import serve_state

app = typer.Typer(
    name="joblet",
    help="Joblet cluster node: run the services of a node, check its config.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect and validate joblet-config.yml.", no_args_is_help=True)
app.add_typer(config_app, name="config")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $JOBLET_CONFIG_PATH, then ./joblet-config.yml, "
        "/opt/joblet/config/joblet-config.yml, /etc/joblet/joblet-config.yml).",
        show_default=False,
    ),
]


def _fail(error: Exception, code: int = 2) -> None:
    typer.echo(f"joblet: {error}", err=True)
    raise typer.Exit(code)


def _serve(config: Path | None, serve: Callable[[Config], Coroutine[Any, Any, None]]) -> None:
    """Load the config (exit 2 when it is wrong), then serve (exit 1 when that fails)."""
    try:
        loaded = load_config(config)
    except JobletError as exc:
        _fail(exc)
    setup_logging(loaded.logging)
    try:
        aio.run(serve(loaded))
    except JobletError as exc:
        _fail(exc, 1)


@app.command()
def state(config: ConfigOption = None) -> None:
    """Run the state service (job metadata over a unix socket) in the foreground."""
    _serve(config, serve_state)


@app.command()
def persist(config: ConfigOption = None) -> None:
    """Run the persist service (job logs and metrics) in the foreground."""
    _serve(config, serve_persist)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate a config file and print the effective config (secrets masked)."""
    try:
        loaded = load_config(config)
    except JobletError as exc:
        _fail(exc)
    typer.echo(f"# {loaded.source}: valid", err=True)
    typer.echo(yaml.safe_dump(to_dict(loaded), sort_keys=False), nl=False)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"joblet {VERSION} (python {sys.version.split()[0]})")


def main() -> None:
    app()
