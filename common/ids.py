"""Validation of identifiers that come from outside and later name files or keys."""

from __future__ import annotations

import re

from joblet_cluster.common.errors import InvalidInput

MAX_ID_LENGTH = 128
#: The whole rule as one anchored pattern, for schema validators (msgspec) that take a regex.
SAFE_ID_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
SAFE_ID_RULE = f"1-{MAX_ID_LENGTH} of A-Z a-z 0-9 _ . -, starting with a letter or digit, no '..'"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


_KNOWN_SAFE: set[str] = set()
_KNOWN_SAFE_MAX = 200_000


def is_safe_id(value: object) -> bool:
    """True for ids that are safe as a single path component or key segment.

    Letters, digits, ``_ . -``; starting with a letter or digit (so never ``.`` or ``..``);
    at most 128 characters; no ``..`` anywhere, so no id can be read as a parent reference.
    Every change names its job and node, so ids already seen are remembered (bounded).
    """
    if type(value) is str and value in _KNOWN_SAFE:
        return True
    if type(value) is not str or _SAFE_ID.fullmatch(value) is None or ".." in value:
        return False
    if len(_KNOWN_SAFE) >= _KNOWN_SAFE_MAX:
        _KNOWN_SAFE.clear()
    _KNOWN_SAFE.add(value)
    return True


def check_id(value: object, what: str = "job id") -> str:
    """Return ``value`` if it is a safe id, else raise ``InvalidInput`` naming ``what``."""
    if (type(value) is str and value in _KNOWN_SAFE) or is_safe_id(value):  # one call less
        return value  # type: ignore[return-value]
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise InvalidInput(
        f"{what} {shown} is not a safe identifier ({SAFE_ID_RULE})",
        code="INVALID_ID",
    )
