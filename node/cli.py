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
from joblet_cluster.node.certs import generate
from joblet_cluster.node.daemon import serve_node
from joblet_cluster.node.dev import run_dev
from joblet_cluster.persist import serve_persist
from joblet_cluster.state import StateClient, serve_state
from joblet_cluster.state._snapshot import read_snapshot

app = typer.Typer(
    name="joblet",
    help="Joblet cluster node: run the services of a node, check its config.",
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect and validate joblet-config.yml.", no_args_is_help=True)
app.add_typer(config_app, name="config")
certs_app = typer.Typer(help="Certificates for the API's mutual TLS.", no_args_is_help=True)
app.add_typer(certs_app, name="certs")

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


state_app = typer.Typer(
    help="Run the state service (job metadata over a unix socket) in the foreground; "
    "or restore a snapshot into it."
)
app.add_typer(state_app, name="state")


@state_app.callback(invoke_without_command=True)
def state(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Run the state service (job metadata over a unix socket) in the foreground."""
    if ctx.invoked_subcommand is None:
        _serve(config, serve_state)


@state_app.command("restore")
def state_restore(
    file: Annotated[Path, typer.Argument(help="A file `rnx cluster snapshot save` wrote.")],
    config: ConfigOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace every job of the cluster without asking.")
    ] = False,
) -> None:
    """Disaster recovery: replace every job in the store (the whole cluster's, through
    the raft log) with the snapshot's. The node's state service must be running."""
    try:
        loaded = load_config(config)
        header, jobs = read_snapshot(file)
    except JobletError as exc:
        _fail(exc)
    if not yes and not typer.confirm(
        f"replace every job in the cluster with the {len(jobs)} jobs of {file} "
        f"(taken {header.get('takenAt')} on {header.get('nodeId')})?"
    ):
        _fail(JobletError("nothing restored"), 1)

    async def restore() -> int:
        async with StateClient(loaded.state.socket, connect_timeout=10) as client:
            return await client.restore(jobs)

    try:
        restored = aio.run(restore())
    except JobletError as exc:
        _fail(exc, 1)
    typer.echo(f"restored {restored} jobs from {file}")


@app.command()
def persist(config: ConfigOption = None) -> None:
    """Run the persist service (job logs and metrics) in the foreground."""
    _serve(config, serve_persist)


@app.command()
def serve(
    config: ConfigOption = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Plain-text API with admin rights for anyone: local experiments only.",
        ),
    ] = False,
) -> None:
    """Run a node: its state and persist services, its jobs, and its API (mTLS)."""
    _serve(config, lambda loaded: serve_node(loaded, insecure=insecure))


@certs_app.command("generate")
def certs_generate(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the files.")],
    address: Annotated[
        list[str],
        typer.Option("--address", help="A name or IP the node is reached at (repeatable)."),
    ],
) -> None:
    """Make a CA, a server certificate, admin and viewer client certificates, and an
    rnx-config.yml that uses them."""
    try:
        files = generate(directory, address)
    except ValueError as exc:
        _fail(exc)
    typer.echo(f"wrote certificates and {files.rnx_config} to {directory}")


@app.command()
def dev(
    nodes: Annotated[int, typer.Option("--nodes", min=1, max=9, help="How many nodes.")] = 1,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where configs, certificates and data go.")
    ] = Path(".joblet-dev"),
) -> None:
    """Bring up a local cluster on loopback (free ports, mTLS) until Ctrl-C."""
    try:
        run_dev(directory.absolute(), nodes)
    except RuntimeError as exc:
        _fail(exc, 1)


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
