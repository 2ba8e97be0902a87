"""The ``xent`` console script and ``python -m xent_cli``: the one place a crash becomes exit 3.

Exit statuses 0 and 1 are verdicts on the user's data ("computed, every gate held",
"a gate failed"); a CI script acts on them. A bug in xent or a broken install must
never look like one, and Python's own answer to an uncaught exception is a traceback
and status 1. So :func:`main` imports the command line itself, inside a handler that
catches everything: a dependency that fails to import (a Typer upgrade that renamed
something, a half-installed NumPy), an exception outside any command, an interrupt
during start-up. Each becomes one line on stderr and exit 3 (``XENT_DEBUG=1`` adds the
traceback). This module imports only the standard library and :mod:`xent_cli.messages`,
so that nothing it needs can be what is broken.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from xent_cli import messages

# Mirrors xent_cli.errors.ExitStatus, which this module does not import (see above).
_INTERNAL = 3
_INTERRUPTED = 130


def main() -> NoReturn:
    """Run the ``xent`` command line; every way it can end is an exit status, never a traceback."""
    started = False
    try:
        from xent_cli.cli import main as run_command_line

        started = True
        run_command_line()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            raise
        _crashed(exc, started)  # sys.exit("text"): Python would print it and exit 1
    except KeyboardInterrupt:  # Ctrl-C during start-up (later ones are handled by the app)
        messages.signal_line("interrupted")
        sys.exit(_INTERRUPTED)
    except BaseException as exc:
        status = getattr(exc, "exit_status", None)  # XentError with XENT_DEBUG, Terminated
        if isinstance(status, int) and status not in (0, 1):
            if os.environ.get("XENT_DEBUG"):
                _print_traceback()
            elif hasattr(exc, "signal_number"):
                messages.signal_line(str(exc))
            else:
                messages.error(str(exc))
            sys.exit(status)
        _crashed(exc, started)
    sys.exit(0)


def _crashed(exc: BaseException, started: bool) -> NoReturn:
    if os.environ.get("XENT_DEBUG"):
        _print_traceback()
    messages.internal_error(exc, started=started)
    sys.exit(_INTERNAL)


def _print_traceback() -> None:
    import traceback

    if sys.stderr is not None:
        traceback.print_exc()


if __name__ == "__main__":
    main()
