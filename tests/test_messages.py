"""xent_cli.messages: stderr lines that never fail a run and never reach stdout."""

from __future__ import annotations

import errno
import io
import sys

import pytest

from xent_cli import messages


class Failing(io.StringIO):
    def __init__(self, error: int) -> None:
        super().__init__()
        self.error = error
        self.attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        raise OSError(self.error, "failed")


@pytest.fixture(autouse=True)
def _reset() -> object:
    messages.reset()
    yield
    messages.reset()


@pytest.mark.parametrize("error", [errno.EPIPE, errno.ENOSPC, errno.EBADF, errno.EIO])
def test_a_failing_stderr_is_swallowed_and_later_lines_dropped(
    monkeypatch: pytest.MonkeyPatch, error: int
) -> None:
    stream = Failing(error)
    monkeypatch.setattr(sys, "stderr", stream)
    messages.error("first")
    messages.gate_failed("second")
    assert stream.attempts == 1


def test_no_stderr_means_no_message_and_nothing_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stderr", None)
    messages.error("stderr was closed")
    assert capsys.readouterr().out == ""


def test_an_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    messages.error("a\nb\r\nc")
    messages.note("inferred")
    assert stream.getvalue() == "xent: error: a b c\nxent: note: inferred\n"


def test_a_narrow_encoding_gets_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stderr", stream)
    messages.error("données.csv: no such file")
    stream.flush()
    assert raw.getvalue() == b"xent: error: donn\\xe9es.csv: no such file\n"
