"""A job's output as ``GetJobLogs`` streams it: lines picked on the way, and its end found.

Joblet's ``DataChunk`` is raw bytes, stdout and stderr merged, with no times: ``--filter``
and ``--tail`` work on the lines of that stream. The server keeps streaming a running job
until it ends, so "what the job has printed so far" is what arrives before the stream goes
quiet for :data:`QUIET` seconds.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Protocol

import grpc

from joblet_cluster.proto import joblet_pb2

QUIET = 0.5  # no output for this long: the history has been sent
FIRST_CHUNK_WAIT = 2.0  # the first chunk may take longer: the node may forward to another
MAX_LINE = 1 << 20  # a longer "line" is passed on in pieces rather than held without bound

Sink = Callable[[bytes], None]


class LineSplitter:
    """Cuts a byte stream into lines (each with its ``\\n``) across chunk boundaries."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines ``chunk`` completes; the rest waits for the next chunk."""
        data = self._partial + chunk
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        lines = [line + b"\n" for line in data[: cut - 1].split(b"\n")] if cut else []
        if len(self._partial) >= MAX_LINE:
            lines.append(self._partial)
            self._partial = b""
        return lines

    def flush(self) -> list[bytes]:
        """At the end of the stream: the last line, if it had no newline."""
        rest, self._partial = self._partial, b""
        return [rest] if rest else []


class LogPrinter:
    """Passes output to ``out``: only lines holding ``contains``, and of the history only
    the last ``tail`` lines. With neither, chunks pass through as they come (a prompt
    without a newline shows at once)."""

    def __init__(self, out: Sink, *, contains: bytes | None = None, tail: int | None = None):
        self._out = out
        self._contains = contains
        self._splitter = LineSplitter() if contains is not None or tail is not None else None
        self._held: deque[bytes] | None = deque(maxlen=tail) if tail is not None else None

    def feed(self, chunk: bytes) -> None:
        """Take one chunk of the stream."""
        if self._splitter is None:
            self._out(chunk)
            return
        for line in self._splitter.feed(chunk):
            self._line(line)

    def end_history(self) -> None:
        """The history is over: print the tail held so far; later lines print at once."""
        held, self._held = self._held, None
        if held:
            self._out(b"".join(held))

    def finish(self) -> None:
        """The stream is over: a last line without newline counts too."""
        if self._splitter is not None:
            for line in self._splitter.flush():
                self._line(line)
        self.end_history()

    def _line(self, line: bytes) -> None:
        if self._contains is not None and self._contains not in line:
            return
        if self._held is not None:
            self._held.append(line)
        else:
            self._out(line)


class LogStream(Protocol):
    """What a gRPC server-streaming call of ``GetJobLogs`` is to us."""

    def __iter__(self) -> Iterator[joblet_pb2.DataChunk]: ...

    def cancel(self) -> bool: ...


_END = object()


class StreamReader:
    """Reads a server stream on a thread, so that the caller can stop waiting for it.

    The queue between them is bounded: a slow terminal slows the reading, not memory.
    A gRPC error of the stream is raised again in the caller's thread.
    """

    def __init__(self, stream: LogStream) -> None:
        self._stream = stream
        self._queue: queue.Queue[object] = queue.Queue(maxsize=64)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="rnx-log-reader", daemon=True)
        self._thread.start()

    def __enter__(self) -> StreamReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._stream.cancel()
        self._thread.join(timeout=1.0)

    def read(self, feed: Sink, *, first_wait: float | None, quiet: float | None) -> bool:
        """Pass payloads to ``feed`` until the stream ends (``True``), or until nothing
        came for ``first_wait`` seconds at first, then ``quiet`` seconds (``False``).
        ``None`` waits as long as it takes."""
        wait = first_wait
        while True:
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                return False
            if item is _END:
                return True
            if isinstance(item, grpc.RpcError):
                raise item
            assert isinstance(item, bytes)
            feed(item)
            wait = quiet

    def _pump(self) -> None:
        try:
            for chunk in self._stream:
                self._put(chunk.payload)
            self._put(_END)
        except grpc.RpcError as exc:  # including the CANCELLED of our own cancel
            self._put(exc)

    def _put(self, item: object) -> None:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def copy_output(stream: LogStream, printer: LogPrinter, *, until_quiet: bool, follow: bool) -> None:
    """Copy a ``GetJobLogs`` stream into ``printer``.

    ``until_quiet`` (a job still running): the history is what arrives before the stream
    goes quiet; then stop, or with ``follow`` keep printing live output until the job ends.
    Otherwise print everything until the server ends the stream.
    """
    with StreamReader(stream) as reader:
        ended = False
        if until_quiet:
            ended = reader.read(printer.feed, first_wait=FIRST_CHUNK_WAIT, quiet=QUIET)
            printer.end_history()
        if not until_quiet or (follow and not ended):
            reader.read(printer.feed, first_wait=None, quiet=None)
        printer.finish()
