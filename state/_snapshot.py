"""The snapshot file: every job of the store at one point of its history, checksummed.

One JSON object per line: a header, one line per job, and a trailer holding the SHA-256
of every byte before it. A file cut short, edited or damaged fails :func:`read_snapshot`
with a message naming what is wrong, before anything is restored from it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec
import orjson

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.state._record import JobRecord, normalise, schema_error
from joblet_cluster.state.backends import StoreSnapshot

FORMAT = "joblet-state-snapshot"
FORMAT_VERSION = 1

_JOB = msgspec.json.Decoder(JobRecord)


def write_snapshot(path: Path, snapshot: StoreSnapshot, node_id: str, taken_at: str) -> str:
    """Write ``path`` (which must not exist: a snapshot never overwrites) and fsync it;
    returns the checksum."""
    digest = hashlib.sha256()
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "takenAt": taken_at,
        "nodeId": node_id,
        "raftIndex": snapshot.index,
        "raftTerm": snapshot.term,
        "jobs": len(snapshot.jobs),
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise InvalidInput(f"snapshot path {path} exists; a snapshot never overwrites") from None
    except OSError as exc:
        raise InvalidInput(f"snapshot path {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as out:

        def put(line: bytes) -> None:
            digest.update(line)
            out.write(line)

        put(orjson.dumps(header) + b"\n")
        for job in snapshot.jobs:
            put(orjson.dumps(job) + b"\n")
        checksum = digest.hexdigest()
        out.write(orjson.dumps({"sha256": checksum}) + b"\n")
        out.flush()
        os.fsync(out.fileno())
    return checksum


def read_snapshot(path: Path) -> tuple[dict[str, Any], list[JobRecord]]:
    """The header and the jobs of a snapshot file, once its checksum and counts hold."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read snapshot {path}: {exc.strerror}") from None
    body, _, trailer = data.rstrip(b"\n").rpartition(b"\n")
    try:
        expected = orjson.loads(trailer)["sha256"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise InvalidInput(
            f"{path} is not a snapshot, or is cut short (no checksum line)"
        ) from None
    if hashlib.sha256(body + b"\n").hexdigest() != expected:
        raise InvalidInput(f"{path}: checksum mismatch (the file is damaged or was edited)")
    header_line, *lines = body.split(b"\n")
    try:
        header = orjson.loads(header_line)
    except orjson.JSONDecodeError:
        raise InvalidInput(f"{path}: the header line is not JSON") from None
    if (
        not isinstance(header, dict)
        or header.get("format") != FORMAT
        or header.get("version") != FORMAT_VERSION
    ):
        raise InvalidInput(f"{path}: not a {FORMAT} version {FORMAT_VERSION} file")
    jobs = []
    for number, line in enumerate(lines, start=2):
        try:
            jobs.append(normalise(_JOB.decode(line), fill_created=True))
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"{path} line {number}: {schema_error(exc, 'job')}") from None
        except InvalidInput as exc:
            raise InvalidInput(f"{path} line {number}: {exc}", exc.code) from None
        except msgspec.DecodeError:
            raise InvalidInput(f"{path} line {number}: not a JSON object") from None
    if len(jobs) != header.get("jobs"):
        raise InvalidInput(f"{path}: the header says {header.get('jobs')} jobs, found {len(jobs)}")
    return header, jobs
