"""How every joblet process runs its asyncio loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

try:
    import uvloop
except ImportError:  # not on every platform; the standard loop works, only slower
    uvloop = None


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed: about a tenth more IPC throughput."""
    if uvloop is not None:
        return uvloop.run(main)
    return asyncio.run(main)
