"""How ``rnx`` ends: its exit codes, and the one error type that carries one.

::

    JobletError (common.errors)
    ├── ConfigError      rnx-config.yml is missing or wrong            -> exit 2
    ├── InvalidInput     a flag's value failed validation              -> exit 2
    └── RnxError         anything else rnx reports, with its own exit code
"""

from __future__ import annotations

from enum import IntEnum

from joblet_cluster.common.errors import JobletError


class ExitCode(IntEnum):
    """What a script calling ``rnx`` can branch on."""

    OK = 0
    FAILED = 1  # the request or the job failed
    USAGE = 2  # bad flags, config or values: fix the command line
    UNREACHABLE = 3  # the node could not be reached (network, TLS, timeout)


class RnxError(JobletError):
    """An error ``rnx`` prints as one line and turns into ``exit_code``."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def job_exit_code(status: str, exit_code: int) -> int:
    """What ``rnx`` exits with after following a job that ended with ``status``/``exit_code``.

    The job's own code when a shell can carry it (1-255); 1 for a job that failed without
    one (stopped, canceled, killed by a signal, or a code outside that range).
    """
    if status == "COMPLETED" and exit_code == 0:
        return ExitCode.OK
    return exit_code if 0 < exit_code < 256 else ExitCode.FAILED
