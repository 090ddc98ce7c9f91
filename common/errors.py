"""The exception tree of every joblet process.

::

    JobletError                  root: catch this to catch anything of ours
    ├── ConfigError              a config file or value is wrong (names the key and the file)
    ├── InvalidInput             input from outside failed validation (ids, records, requests)
    └── StateError               the state service answered with an error (carries its code)
        ├── StaleVersion         a change older than or equal to the stored version
        ├── NotFound             no such job
        ├── AlreadyExists        a create for a job that exists at a newer version
        ├── IllegalTransition    a status move the lifecycle forbids
        └── StateUnavailable     the state service cannot be reached or is shutting down

Third-party errors are translated into these at the boundary, so callers never need to
know which library raised.
"""

from __future__ import annotations


class JobletError(Exception):
    """Root of every error raised on purpose by this project."""


class ConfigError(JobletError):
    """A config file is missing, unreadable, or holds a wrong key or value."""


class InvalidInput(JobletError):
    """Input from outside the process failed validation.

    ``code`` is the protocol error code the state and persist services answer with.
    """

    def __init__(self, message: str, code: str = "INVALID_REQUEST") -> None:
        super().__init__(message)
        self.code = code


class StateError(JobletError):
    """An error answered by the state service: ``code`` is the part before ``": "``."""

    code = "STATE_ERROR"

    def __init__(
        self, message: str, code: str | None = None, *, version: int | None = None
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.version = version  # the job's stored version, when the error concerns one

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"

    @classmethod
    def from_wire(cls, error: str, version: int | None = None) -> StateError:
        """Rebuild the typed error from a response's ``"CODE: message"`` and ``version``."""
        code, separator, message = error.partition(": ")
        if not separator:
            return StateError(error, version=version)
        subclass = _BY_CODE.get(code, StateError)
        return subclass(message, code, version=version)


class StaleVersion(StateError):
    code = "STALE_VERSION"


class NotFound(StateError):
    code = "NOT_FOUND"


class AlreadyExists(StateError):
    code = "ALREADY_EXISTS"


class IllegalTransition(StateError):
    code = "ILLEGAL_TRANSITION"


class StateUnavailable(StateError):
    code = "UNAVAILABLE"


_BY_CODE: dict[str, type[StateError]] = {
    c.code: c for c in (StaleVersion, NotFound, AlreadyExists, IllegalTransition, StateUnavailable)
}
