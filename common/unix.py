"""Unix-socket servers as every joblet service opens them: private, and never two at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from joblet_cluster.common.errors import ConfigError, JobletError

log = logging.getLogger("joblet.unix")


class AddressInUse(JobletError):
    """Another live service already listens on the socket path."""


async def listen_unix(
    path: Path, factory: Callable[[], asyncio.BaseProtocol], key: str
) -> asyncio.AbstractServer:
    """Listen on ``path`` (named by config ``key`` in errors): 0600, in a 0700 folder.

    A socket left by a dead service is replaced; a live one, or a file that is not a
    socket, is refused. The umask is tightened while binding, so the socket is never
    reachable by others, not even for a moment.
    """
    prepare_socket_path(path, key)
    with private_umask():
        server = await asyncio.get_running_loop().create_unix_server(factory, str(path))
    os.chmod(path, 0o600)
    return server


def prepare_socket_path(path: Path, key: str) -> None:
    """Check the path, create its private folder, clear a dead service's socket."""
    if len(os.fsencode(path)) > 107:
        raise ConfigError(f"{key}: path {path} is longer than a unix socket allows (107 bytes)")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.parent.stat().st_mode & 0o077:
        log.warning(
            "%s is open to other users; the socket itself is 0600, but a private "
            "(0700) folder is safer",
            path.parent,
        )
    _remove_stale_socket(path, key)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files created inside are 0600 from birth."""
    old_umask = os.umask(0o177)
    try:
        yield
    finally:
        os.umask(old_umask)


def remove_socket(path: Path) -> None:
    """Remove our socket at shutdown (and nothing else that might sit at the path)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()


def _remove_stale_socket(path: Path, key: str) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"{key}: {path} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        log.info("replacing stale socket %s", path)
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise AddressInUse(f"{key}: another service is listening on {path} (ADDRESS_IN_USE)")
