"""The ``rnx`` command: the client side of the cluster.

Job commands arrive with the node API; for now ``rnx`` reports its version.
"""

from __future__ import annotations

import sys

import typer

from joblet_cluster.common.version import VERSION

app = typer.Typer(
    name="rnx",
    help="Run and inspect jobs on a Joblet cluster.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Run and inspect jobs on a Joblet cluster."""


@app.command()
def version() -> None:
    """Print the client version."""
    typer.echo(f"rnx {VERSION} (python {sys.version.split()[0]})")


def main() -> None:
    app()
