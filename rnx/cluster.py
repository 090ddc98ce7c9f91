"""``rnx cluster``: the replicated store as the node rnx talks to sees it."""

from __future__ import annotations

import typer

from joblet_cluster.proto import cluster_pb2
from joblet_cluster.rnx.connect import REQUEST_TIMEOUT
from joblet_cluster.rnx.output import message_dict, print_json, show_cluster, waiting
from joblet_cluster.rnx.session import require_subcommand, session_of

app = typer.Typer(help="The cluster: its nodes and its replication.", add_completion=False)


@app.callback(invoke_without_command=True)
def _cluster(ctx: typer.Context) -> None:
    require_subcommand(ctx)


@app.command()
def status(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Leader, term, commit index, each node (role, up or down, running jobs, lag)."""
    session = session_of(ctx)
    with session.connect() as connection, waiting("asking the cluster"):
        answer = connection.cluster.Status(
            cluster_pb2.ClusterStatusRequest(), timeout=REQUEST_TIMEOUT
        )
    if session.wants_json(json_output):
        print_json(message_dict(answer))
    else:
        show_cluster(answer)
