"""``python -m joblet_cluster.rnx``: the same as the ``rnx`` console script."""

from joblet_cluster.rnx.cli import main

main()
