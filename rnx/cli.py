"""The ``rnx`` command: the client side of the cluster, speaking Joblet's API.

::

    rnx [--config FILE] [--node NAME] [--json] COMMAND
        job run|list|status|log|metrics|stop|cancel|delete|delete-all
        nodes
        version

Every failure ends as one line on stderr, ``rnx: ...``, and an exit code a script can
branch on (see ``errors.ExitCode``): 1 the request or job failed, 2 usage or config, 3 the
node could not be reached.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from joblet_cluster.common.errors import ConfigError, InvalidInput
from joblet_cluster.common.version import VERSION
from joblet_cluster.proto import cluster_pb2
from joblet_cluster.rnx import cluster, jobs
from joblet_cluster.rnx.connect import REQUEST_TIMEOUT
from joblet_cluster.rnx.errors import ExitCode, RnxError
from joblet_cluster.rnx.nodes import probe, probe_all
from joblet_cluster.rnx.output import (
    message_dict,
    print_json,
    show_cluster_nodes,
    show_nodes,
    show_version,
    waiting,
)
from joblet_cluster.rnx.session import JsonFlag, Session, require_subcommand, session_of

app = typer.Typer(
    name="rnx",
    help="Run and inspect jobs on a Joblet cluster.",
    add_completion=False,
)
app.add_typer(jobs.app, name="job")
app.add_typer(cluster.app, name="cluster")


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="The rnx-config.yml to use. Otherwise $RNX_CONFIG, ./rnx-config.yml, "
            "~/.rnx/rnx-config.yml, the first that exists.",
            show_default=False,
        ),
    ] = None,
    node: Annotated[
        str | None,
        typer.Option(
            help="The node of the config to talk to (default: 'default').", show_default=False
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document instead of tables.")
    ] = False,
) -> None:
    """Run and inspect jobs on a Joblet cluster."""
    ctx.obj = Session(config_path=config, node_name=node, json=json_output)
    require_subcommand(ctx)


@app.command()
def nodes(
    ctx: typer.Context,
    json_output: JsonFlag = False,
    probe_config: Annotated[
        bool,
        typer.Option(
            "--probe",
            help="Instead ask every node of the config file whether it answers "
            "(works with nodes that are not in one cluster, and with Joblet's own).",
        ),
    ] = False,
) -> None:
    """Every node of the cluster: address, raft role, up or down, running jobs, lag."""
    session = session_of(ctx)
    if probe_config:
        entries = list(session.config().nodes.values())
        with waiting(f"asking {len(entries)} nodes"):
            reports = probe_all(entries)
        show_nodes(reports, session.wants_json(json_output))
        return
    with session.connect() as connection, waiting("asking the cluster"):
        answer = connection.cluster.Status(
            cluster_pb2.ClusterStatusRequest(), timeout=REQUEST_TIMEOUT
        )
    if session.wants_json(json_output):
        print_json([message_dict(node) for node in answer.nodes])
    else:
        show_cluster_nodes(answer.nodes)


@app.command()
def version(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Print the client version, and the server's when a config names a node that answers."""
    session = session_of(ctx)
    try:
        entry = session.entry()
    except ConfigError:  # no usable config: the client's version is still worth printing
        report = None
    else:
        with waiting(f"asking node {entry.name}"):
            report = probe(entry)
    show_version(VERSION, sys.version.split()[0], report, session.wants_json(json_output))


def run(argv: Sequence[str] | None = None) -> int:
    """Run ``rnx`` with ``argv`` (default: the process's) and return its exit code.

    This is where every error becomes its one line on stderr and its exit code.
    """
    try:
        result = app(args=argv, prog_name="rnx", standalone_mode=False)
    except RnxError as exc:
        return _fail(str(exc), exc.exit_code)
    except (ConfigError, InvalidInput) as exc:
        return _fail(str(exc), ExitCode.USAGE)
    except typer.TyperException as exc:  # click's usage errors: bad flag, missing argument
        return _fail(_usage_message(exc), exc.exit_code)
    except typer.Abort:
        return _fail("aborted", ExitCode.FAILED)
    return result if isinstance(result, int) else ExitCode.OK


def _usage_message(exc: typer.TyperException) -> str:
    message = exc.format_message()
    context = getattr(exc, "ctx", None)
    if context is None:
        return message
    return f"{message} (see '{context.command_path} --help')"


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"rnx: {' '.join(message.split())}\n")
    return code


def main() -> None:
    """The console script."""
    sys.exit(run())
