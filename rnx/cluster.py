"""``rnx cluster``: the replicated store as the node rnx talks to sees it, and the
operator's actions on it (membership, leadership, snapshots)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.proto import cluster_pb2
from joblet_cluster.rnx.connect import REQUEST_TIMEOUT
from joblet_cluster.rnx.errors import RnxError
from joblet_cluster.rnx.output import message_dict, note, print_json, show_cluster, waiting
from joblet_cluster.rnx.session import JsonFlag, require_subcommand, session_of
from joblet_cluster.state._snapshot import read_snapshot

CHANGE_TIMEOUT = 60.0  # seconds for a membership change or a transfer to commit

app = typer.Typer(
    help="The cluster: its nodes, its replication, its snapshots.", add_completion=False
)
snapshot_app = typer.Typer(help="Consistent copies of every job in the cluster.")
app.add_typer(snapshot_app, name="snapshot")


@app.callback(invoke_without_command=True)
def _cluster(ctx: typer.Context) -> None:
    require_subcommand(ctx)


@snapshot_app.callback(invoke_without_command=True)
def _snapshot(ctx: typer.Context) -> None:
    require_subcommand(ctx)


@app.command()
def status(ctx: typer.Context, json_output: JsonFlag = False) -> None:
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


@app.command()
def add(
    ctx: typer.Context,
    address: str = typer.Argument(..., help="The new member's raft address, host:port."),
    json_output: JsonFlag = False,
) -> None:
    """Add a raft member (admin). Start the new node with every member as its peers."""
    _change(ctx, "add", address, json_output)


@app.command()
def remove(
    ctx: typer.Context,
    address: str = typer.Argument(..., help="The member's raft address, host:port."),
    json_output: JsonFlag = False,
) -> None:
    """Remove a raft member (admin), through any other node; then stop that node."""
    _change(ctx, "remove", address, json_output)


def _change(ctx: typer.Context, action: str, address: str, json_output: bool) -> None:
    session = session_of(ctx)
    request = cluster_pb2.MemberRequest(address=address)
    with session.connect() as connection, waiting(f"{action}ing {address}"):
        call = connection.cluster.AddMember if action == "add" else connection.cluster.RemoveMember
        answer = call(request, timeout=CHANGE_TIMEOUT)
    if session.wants_json(json_output):
        print_json(message_dict(answer))
    else:
        note(f"{'added' if action == 'add' else 'removed'} {address}")
        show_cluster(answer)


@app.command("transfer-leader")
def transfer_leader(
    ctx: typer.Context,
    node: str = typer.Argument(
        "", help="A node id or raft address (default: the most caught-up node)."
    ),
    json_output: JsonFlag = False,
) -> None:
    """Hand raft leadership to another node (admin); waits until it leads."""
    session = session_of(ctx)
    with session.connect() as connection, waiting("transferring leadership"):
        answer = connection.cluster.TransferLeader(
            cluster_pb2.TransferLeaderRequest(node=node), timeout=CHANGE_TIMEOUT
        )
    if session.wants_json(json_output):
        print_json(message_dict(answer))
    else:
        typer.echo(f"leader: {answer.leader}")


@snapshot_app.command("save")
def snapshot_save(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write it; must not exist.")],
    json_output: JsonFlag = False,
) -> None:
    """Save every job of the cluster, consistent and current, with a checksum (admin).
    Restore it with ``joblet state restore FILE``."""
    session = session_of(ctx)
    if file.exists():
        raise InvalidInput(f"{file} exists; a snapshot never overwrites (choose another name)")
    partial = file.with_name(f".{file.name}.part")
    try:
        with (
            session.connect() as connection,
            waiting("taking a snapshot"),
            partial.open("xb") as out,
        ):
            first = None
            for chunk in connection.cluster.SaveSnapshot(
                cluster_pb2.SaveSnapshotRequest(), timeout=CHANGE_TIMEOUT
            ):
                first = first or chunk
                out.write(chunk.data)
            out.flush()
            os.fsync(out.fileno())
        if first is None:
            raise RnxError("the node sent no snapshot")
        header, _ = read_snapshot(partial)  # the checksum and the counts, before keeping it
        partial.rename(file)
    except FileExistsError:
        raise RnxError(f"{partial} exists: another save is running, or remove it") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    summary = {
        "file": str(file),
        "jobs": header["jobs"],
        "sha256": first.sha256,
        "raftIndex": first.raft_index,
        "raftTerm": first.raft_term,
        "takenAt": header.get("takenAt"),
        "nodeId": header.get("nodeId"),
    }
    if session.wants_json(json_output):
        print_json(summary)
    else:
        typer.echo(
            f"saved {summary['jobs']} jobs to {file} (raft index {first.raft_index}, "
            f"sha256 {first.sha256[:16]}...)"
        )
