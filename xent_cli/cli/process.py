"""What the ``xent`` process sets up before any command runs: standard descriptors and signals.

* A standard descriptor (0, 1, 2) that is closed at start-up (``>&-``, ``2>&-``)
  is reopened on ``/dev/null``, so that no file xent opens later lands on it
  (a result written to "stdout" would go into the input file; a C-level
  message to "stderr" into the ``-o`` temporary file). Which ones were closed
  is remembered: a result for a closed stdout is an error, a message for a
  closed stderr is dropped.
* The process is tuned (allocator, BLAS threads, garbage collector) by
  :func:`xent_cli.tuning.tune_process`.
* SIGTERM and SIGHUP unwind the program as SIGINT does (Python's
  ``KeyboardInterrupt``): the ``-o`` temporary file is removed on the way and
  the exit status is 128 + the signal's number. A signal that was ignored when
  xent started (``nohup``) stays ignored.

Only the console script calls :func:`prepare_process`; tests running the app
in-process keep their own streams and handlers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType

from xent_cli.errors import Terminated
from xent_cli.tuning import tune_process

# Descriptors found closed at start-up.
closed_at_start: frozenset[int] = frozenset()

_SIGNAL_NAMES = {signal.SIGTERM: "terminated", signal.SIGHUP: "hangup"}


def prepare_process() -> None:
    """Occupy closed standard descriptors, handle SIGTERM/SIGHUP like SIGINT, tune the process."""
    global closed_at_start
    closed_at_start = frozenset(reopen_closed_descriptors())
    install_signal_handlers()
    tune_process()


def reopen_closed_descriptors() -> set[int]:
    """Reopen each closed descriptor among 0, 1, 2 on /dev/null; return the ones that were closed."""
    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
    for fd in sorted(closed):
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
    if 2 in closed:
        sys.stderr = None  # messages are dropped (see xent_cli.messages)
    return closed


def _raise_terminated(number: int, frame: FrameType | None) -> None:
    # Further signals would interrupt the clean-up this starts.
    for other in _SIGNAL_NAMES:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(other, signal.SIG_IGN)
    raise Terminated(number, _SIGNAL_NAMES.get(signal.Signals(number), "terminated"))


def install_signal_handlers() -> None:
    for number in _SIGNAL_NAMES:
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or no such signal
            if signal.getsignal(number) is signal.SIG_IGN:
                continue
            signal.signal(number, _raise_terminated)
