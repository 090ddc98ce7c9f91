"""Log lines picked as they stream, and the end of a running job's history."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.rnx import logs
from joblet_cluster.rnx.logs import MAX_LINE, LineSplitter, LogPrinter, StreamReader, copy_output


@given(st.lists(st.binary(max_size=20), max_size=20))
def test_splitting_loses_nothing_and_cuts_only_after_newlines(chunks: list[bytes]) -> None:
    splitter = LineSplitter()
    lines = [line for chunk in chunks for line in splitter.feed(chunk)] + splitter.flush()

    assert b"".join(lines) == b"".join(chunks)
    assert all(line.endswith(b"\n") for line in lines[:-1])
    assert all(b"\n" not in line[:-1] for line in lines)


def test_a_line_without_end_is_passed_on_once_it_is_too_long() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"x" * (MAX_LINE - 1)) == []
    assert splitter.feed(b"xx") == [b"x" * (MAX_LINE + 1)]
    assert splitter.feed(b"y\nz") == [b"y\n"]
    assert splitter.flush() == [b"z"]


class Collected:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.parts.append(data)

    @property
    def text(self) -> bytes:
        return b"".join(self.parts)


def test_without_filters_chunks_pass_as_they_come() -> None:
    out = Collected()
    printer = LogPrinter(out)
    printer.feed(b"prompt> ")
    assert out.parts == [b"prompt> "]
    printer.finish()
    assert out.text == b"prompt> "


def test_filter_keeps_lines_holding_the_text() -> None:
    out = Collected()
    printer = LogPrinter(out, contains=b"err")
    for chunk in (b"ok 1\nan er", b"ror\nok 2\nerr at end"):
        printer.feed(chunk)
    assert out.text == b"an error\n"
    printer.finish()
    assert out.text == b"an error\nerr at end"


def test_tail_holds_the_history_then_lets_live_lines_through() -> None:
    out = Collected()
    printer = LogPrinter(out, contains=b"x", tail=2)
    printer.feed(b"x1\nx2\ny\nx3\n")
    assert out.parts == []
    printer.end_history()
    assert out.text == b"x2\nx3\n"
    printer.feed(b"x4\ny\n")
    printer.finish()
    assert out.text == b"x2\nx3\nx4\n"


def test_tail_zero_shows_no_history() -> None:
    out = Collected()
    printer = LogPrinter(out, tail=0)
    printer.feed(b"a\nb\n")
    printer.finish()
    assert out.text == b""


class FakeStream:
    """A server stream: ``chunks``, then (if ``hold``) nothing until cancelled or released,
    then ``live`` chunks."""

    def __init__(
        self,
        chunks: list[bytes],
        hold: bool = False,
        error: grpc.RpcError | None = None,
        live: tuple[bytes, ...] = (),
    ):
        self.chunks = chunks
        self.live = live
        self.release = threading.Event()
        self.cancelled = threading.Event()
        self.error = error
        if not hold:
            self.release.set()

    def __iter__(self) -> Iterator[pb.DataChunk]:
        for chunk in self.chunks:
            yield pb.DataChunk(payload=chunk)
        while not self.release.wait(0.01):
            if self.cancelled.is_set():
                raise grpc.RpcError("cancelled")
        for chunk in self.live:
            yield pb.DataChunk(payload=chunk)
        if self.error is not None:
            raise self.error

    def cancel(self) -> bool:
        self.cancelled.set()
        return True


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "QUIET", 0.1)
    monkeypatch.setattr(logs, "FIRST_CHUNK_WAIT", 0.2)


def test_a_finished_job_prints_everything_until_the_server_ends() -> None:
    out = Collected()
    copy_output(FakeStream([b"a\n", b"b\n"]), LogPrinter(out), until_quiet=False, follow=False)
    assert out.text == b"a\nb\n"


def test_a_running_job_prints_its_history_then_stops_when_quiet() -> None:
    stream, out = FakeStream([b"a\n", b"b\n"], hold=True), Collected()
    started = time.monotonic()
    copy_output(stream, LogPrinter(out), until_quiet=True, follow=False)

    assert out.text == b"a\nb\n"
    assert stream.cancelled.is_set()
    assert time.monotonic() - started < 2


def test_a_silent_running_job_stops_after_the_first_wait() -> None:
    stream, out = FakeStream([], hold=True), Collected()
    copy_output(stream, LogPrinter(out), until_quiet=True, follow=False)
    assert out.text == b""
    assert stream.cancelled.is_set()


def test_follow_with_tail_prints_the_tail_then_live_output_until_the_end() -> None:
    stream, out = FakeStream([b"1\n2\n3\n"], hold=True, live=(b"4\n", b"5")), Collected()
    printer = LogPrinter(out, tail=1)
    released = threading.Timer(0.5, stream.release.set)
    released.start()
    copy_output(stream, printer, until_quiet=True, follow=True)
    released.join()
    # the tail was printed when the history went quiet; live output followed to the end
    assert out.parts == [b"3\n", b"4\n", b"5"]


def test_a_stream_error_reaches_the_caller() -> None:
    class Failed(grpc.RpcError):
        pass

    stream = FakeStream([b"a\n"], error=Failed())
    with pytest.raises(Failed):
        copy_output(stream, LogPrinter(Collected()), until_quiet=False, follow=False)


def test_the_reader_is_bounded_and_stops_when_cancelled() -> None:
    stream = FakeStream([b"x"] * 1000, hold=True)
    with StreamReader(stream) as reader:
        seen = Collected()
        assert reader.read(seen, first_wait=1.0, quiet=0.05) is False
    assert len(seen.parts) == 1000
    assert stream.cancelled.is_set()
