"""The ``rnx`` command-line client."""

import os

# gRPC's C core logs a failed TLS handshake itself, on stderr, at INFO, before rnx can report
# it in its one line. It reads this variable once, when grpc is first imported: hence here,
# before any module of the package imports grpc. A value the user set (to debug) wins.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
