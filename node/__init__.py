"""The `joblet` daemon and its CLI."""

import os

# The node starts job processes from a process where gRPC threads run; gRPC's fork
# handlers would only log that they are skipped on every start (the child execs at once).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
