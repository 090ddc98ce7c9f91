"""``python -m joblet_cluster.node`` is the ``joblet`` command."""

from joblet_cluster.node.cli import main

main()
