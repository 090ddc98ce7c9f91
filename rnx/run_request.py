"""The ``RunJobRequest`` that ``rnx job run`` sends, built from already-checked values.

Building is a pure function (:func:`build_run_request`), so what goes on the wire for a
command line can be tested without a node; reading ``--upload`` files is apart from it.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.proto import joblet_pb2


def parse_env_pairs(pairs: Sequence[str], option: str) -> dict[str, str]:
    """``K=V`` strings as a mapping; the value may hold ``=``; a repeated key is an error.

    The error never repeats the value: it may be a secret.
    """
    result: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise InvalidInput(f"{option} wants KEY=VALUE: one value has no '='")
        if not key:
            raise InvalidInput(f"{option} wants KEY=VALUE: one has an empty KEY")
        if key in result:
            raise InvalidInput(f"{option} sets {key} twice")
        result[key] = value
    return result


def collect_uploads(paths: Sequence[Path]) -> list[joblet_pb2.FileUpload]:
    """``--upload`` paths as ``FileUpload`` entries, named relative to the path's parent.

    A file is sent under its base name with its mode; a directory as itself
    (``is_directory``) and, in sorted order, everything under it as ``dir/sub/file``.
    """
    uploads: list[joblet_pb2.FileUpload] = []
    for path in paths:
        if not path.exists():
            raise InvalidInput(f"--upload {path}: no such file or directory")
        root = path.resolve().parent
        for entry in _tree(path.resolve()):
            uploads.append(_upload(entry, entry.relative_to(root).as_posix()))
    repeated = sorted(name for name, count in Counter(u.path for u in uploads).items() if count > 1)
    if repeated:
        raise InvalidInput(f"--upload sends {', '.join(repeated)} more than once")
    return uploads


def _tree(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    found = [path]
    for directory, subdirectories, files in os.walk(path):
        subdirectories.sort()
        base = Path(directory)
        found.extend(base / name for name in subdirectories)
        found.extend(base / name for name in sorted(files))
    return sorted(found)


def _upload(path: Path, name: str) -> joblet_pb2.FileUpload:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            return joblet_pb2.FileUpload(
                path=name, mode=stat.S_IMODE(info.st_mode), is_directory=True
            )
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"--upload {path}: not a regular file or directory")
        content = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"--upload {path}: {exc.strerror}") from exc
    return joblet_pb2.FileUpload(path=name, content=content, mode=stat.S_IMODE(info.st_mode))


def build_run_request(
    command: str,
    args: Sequence[str],
    *,
    environment: Mapping[str, str] | None = None,
    secret_environment: Mapping[str, str] | None = None,
    work_dir: str = "",
    uploads: Sequence[joblet_pb2.FileUpload] = (),
    schedule: str = "",
    max_cpu: int = 0,
    max_memory: int = 0,
    max_retries: int = 0,
    retry_delay: str = "",
    priority: int = 0,
    node: str = "",
) -> joblet_pb2.RunJobRequest:
    """The request for ``command args...``; empty values are the API's "not set".

    ``schedule`` is RFC 3339 and ``retry_delay`` a Go duration already (see ``durations``).
    """
    return joblet_pb2.RunJobRequest(
        command=command,
        args=list(args),
        environment=dict(environment or {}),
        secret_environment=dict(secret_environment or {}),
        work_dir=work_dir,
        uploads=list(uploads),
        schedule=schedule,
        max_cpu=max_cpu,
        max_memory=max_memory,
        max_retries=max_retries,
        retry_delay=retry_delay,
        priority=priority,
        node=node,
    )
