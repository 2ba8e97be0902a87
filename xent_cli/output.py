"""Where and how a result is written: format choice, gates, the ``-o`` target, broken pipes.

``-o`` rules (the README has them too):

* ``-o -`` is stdout.
* A regular file, or a new path, is written atomically: to a temporary file
  ``.NAME.XXXXXXXX.tmp`` beside it, renamed over it once complete. A new file
  gets mode ``0666 & ~umask``; a replaced one keeps its mode. Whatever stops
  the run (an error, Ctrl-C, SIGTERM, SIGHUP, the folder renamed or removed)
  removes the temporary file and leaves the old file as it was.
* A file ``> FILE`` could not write (``os.access``), or one that grants write
  permission to no one (mode 0444, also when run by root), is never replaced.
* A symbolic link is followed: the file it points to is replaced (or created),
  the link stays.
* ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N`` and ``/proc/self/fd/N`` are
  written to descriptor N itself, as ``>&N`` would: never reopened, never
  replaced.
* A character device (``/dev/null``, a terminal), a FIFO or a socket is opened
  and written directly, never replaced; a block device or a directory is refused.
* ``-o`` never names an input: a source, a shard of a folder or glob, the
  ``--target`` labels file, or the file on stdin (``< p.csv``), compared by
  device and inode (so hard links and symlinks are caught too), before any
  work is done and again right before the rename.
* ``.gz``, ``.bz2`` and ``.xz`` compress (the format comes from the name
  inside: ``out.json.gz`` is gzip-compressed JSON); ``.zst`` needs the
  ``zstandard`` package.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from xent_cli import messages
from xent_cli.errors import ExitStatus, OutputError, option
from xent_cli.render import write_table
from xent_cli.results import Gate, GateReport, Result
from xent_cli.writers import (
    OutputFormat,
    is_unicode,
    write_delimited,
    write_json,
    write_jsonl,
    write_value,
)

if TYPE_CHECKING:
    from xent_cli.io.sources import Source

_FORMAT_BY_EXTENSION: dict[str, OutputFormat] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "table",
    ".md": "markdown",
}
_COMPRESSION_BY_EXTENSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
# /proc/PID/fd/N (and /proc/PID/task/TID/fd/N) once /dev/fd, /dev/stdout, /proc/self are resolved.
_DESCRIPTOR_PATH = re.compile(r"^/proc/(\d+)(?:/task/\d+)?/fd/(\d+)$")

Identity = tuple[int, int]
TargetKind = Literal["stdout", "descriptor", "direct", "file"]


@dataclass
class OutputSettings:
    format: OutputFormat = "auto"
    value_only: bool = False
    max_rows: int = 20
    worst: int = 0
    path: Path | None = None
    gates: list[Gate] = field(default_factory=list)
    # Every source the command reads, for the check that -o names none of them.
    inputs: list[Source] = field(default_factory=list)
    stdout_is_terminal: bool = False
    # stdout was closed when xent started (>&-).
    stdout_closed: bool = False
    # None: colour on a terminal only.
    color: bool | None = None
    no_color_env: bool = False
    # COLUMNS, when set (otherwise a terminal's own width, and 120 in a pipe or a file).
    width: int | None = None
    # --ci: each measure's bootstrap interval of the mean, by measure key (None: not asked for).
    intervals: dict[str, tuple[float, float]] | None = None

    @property
    def to_stdout(self) -> bool:
        return self.path is None or str(self.path) == "-"


@dataclass(frozen=True)
class Target:
    """Where ``-o`` (or its absence) sends the result, decided once, before any work."""

    kind: TargetKind
    # -o as given.
    given: Path | None = None
    # file: the regular file to create or replace (links resolved); direct: the path to open.
    path: Path | None = None
    # descriptor: this process's descriptor N, and what it was open on.
    descriptor: int | None = None
    descriptor_identity: Identity | None = None
    compression: str | None = None
    # file: the mode of the file written, and whether it replaces one.
    mode: int = 0o644
    replaces: bool = False
    # file: the owner of the file it replaces (kept when xent runs as root).
    owner: tuple[int, int] | None = None
    # What the target must never be: every input file, by device and inode.
    inputs: frozenset[Identity] = frozenset()

    @property
    def name(self) -> str:
        return "stdout" if self.kind == "stdout" else f"-o {self.given}"

    @property
    def suffix(self) -> str:
        """The extension that names the format (the one inside a compression extension)."""
        if self.given is None:
            return ""
        name = self.given.name.lower()
        for extension in _COMPRESSION_BY_EXTENSION:
            if name.endswith(extension):
                name = name[: -len(extension)]
                break
        return os.path.splitext(name)[1]


# --- the -o target ----------------------------------------------------------------------------


def input_identities(sources: Iterable[Source]) -> frozenset[Identity]:
    """(st_dev, st_ino) of every file the sources read.

    Each source's file, every shard of a folder or glob source, and, for a
    source read from stdin, the file behind descriptor 0. Only regular files and
    FIFOs count: a terminal or ``/dev/null`` may be read and written at once.
    """
    found: set[Identity] = set()
    for source in sources:
        for path in source.local_paths:
            with contextlib.suppress(OSError):
                _add_data_file(found, os.stat(path))
        if source.is_stdin:
            with contextlib.suppress(OSError):
                _add_data_file(found, os.fstat(0))
    return frozenset(found)


def _add_data_file(found: set[Identity], status: os.stat_result) -> None:
    if stat.S_ISREG(status.st_mode) or stat.S_ISFIFO(status.st_mode):
        found.add((status.st_dev, status.st_ino))


def _identity(status: os.stat_result) -> Identity | None:
    if stat.S_ISREG(status.st_mode) or stat.S_ISFIFO(status.st_mode):
        return (status.st_dev, status.st_ino)
    return None


def prepare_target(settings: OutputSettings) -> Target:
    """Decide where the result goes and check it can go there, before any work is done."""
    inputs = input_identities(settings.inputs)
    if settings.to_stdout:
        if settings.stdout_closed:
            raise _stdout_closed()
        return Target("stdout", inputs=inputs)
    assert settings.path is not None
    target = resolve_target(settings.path, inputs)
    _refuse_inputs(target)
    if target.kind == "descriptor" and target.descriptor == 1 and settings.stdout_closed:
        raise _stdout_closed(target.name)
    return target


def resolve_target(given: Path, inputs: frozenset[Identity] = frozenset()) -> Target:
    """What ``-o given`` names: a descriptor, a device or FIFO, or a regular (or new) file."""
    text = os.fspath(given)
    compression = _compression(given)
    owner, number = _descriptor_named(text)
    if owner == "self" and number is not None:
        try:
            status = os.fstat(number)
        except OSError:
            raise OutputError(f"-o {given}: descriptor {number} is not open") from None
        identity = (status.st_dev, status.st_ino)
        return Target(
            "descriptor", given, descriptor=number, descriptor_identity=identity,
            compression=compression, inputs=inputs,
        )  # fmt: skip
    try:
        status = os.stat(text)
    except FileNotFoundError:
        # A new file (behind a dangling link, the file the link names).
        final = Path(os.path.realpath(text))
        _check_directory(given, final.parent)
        return Target(
            "file", given, final, compression=compression, mode=0o666 & ~current_umask(), inputs=inputs
        )
    except OSError as exc:
        raise OutputError(f"-o {given}: cannot write: {exc.strerror or exc}") from None
    if stat.S_ISDIR(status.st_mode):
        raise OutputError(f"-o {given}: is a directory", hint="name a file to write the result to")
    if stat.S_ISREG(status.st_mode) and owner is None:
        final = Path(os.path.realpath(text))
        _check_directory(given, final.parent)
        _check_writable(given, final, status.st_mode)
        return Target(
            "file", given, final, compression=compression, mode=status.st_mode & 0o777,
            replaces=True, owner=(status.st_uid, status.st_gid), inputs=inputs,
        )  # fmt: skip
    if stat.S_ISBLK(status.st_mode):
        raise OutputError(
            f"-o {given}: is a block device",
            hint="xent writes results to files, pipes and character devices, never over a disk",
        )
    # A character device, FIFO or socket (or another process's descriptor): written directly.
    return Target("direct", given, Path(text), compression=compression, inputs=inputs)


def _descriptor_named(text: str) -> tuple[Literal["self", "other"] | None, int | None]:
    """Whether ``text`` leads, through links, to an open descriptor: this process's N, or another's."""
    current = os.path.abspath(text)
    for _ in range(40):  # the kernel's own limit on links followed
        parent = os.path.realpath(os.path.dirname(current))
        current = os.path.join(parent, os.path.basename(current))
        match = _DESCRIPTOR_PATH.match(current)
        if match:
            if int(match.group(1)) == os.getpid():
                return "self", int(match.group(2))
            return "other", None
        if not os.path.islink(current):
            return None, None
        current = os.path.normpath(os.path.join(parent, os.readlink(current)))
    return None, None


def _compression(given: Path) -> str | None:
    name = given.name.lower()
    for extension, kind in _COMPRESSION_BY_EXTENSION.items():
        if name.endswith(extension):
            if kind == "zstd":
                try:
                    import zstandard  # noqa: F401
                except ImportError:
                    raise OutputError(
                        f"-o {given}: writing .zst needs the zstandard package",
                        hint="pip install zstandard, or write .gz, .bz2 or .xz",
                    ) from None
            return kind
    return None


def _check_directory(given: Path, directory: Path) -> None:
    if not directory.is_dir():
        raise OutputError(f"-o {given}: no such directory {str(directory)!r}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(
            f"-o {given}: cannot write in {str(directory)!r}: permission denied",
            hint="xent writes a temporary file beside the result and renames it into place",
        )


def _check_writable(given: Path, path: Path, mode: int) -> None:
    """Refuse to replace a file that ``> FILE`` could not write, or that no one may write.

    xent replaces a file by renaming a new one over it, which needs only the folder's
    permission: without this check it would replace files the user cannot write. So a
    file the user may not open for writing (``os.access`` with the effective ids: the
    shell's ``>`` would fail) is refused. For root, ``os.access`` always says yes, so the
    mode bits decide too: a file that grants write permission to no one (``chmod a-w``)
    is kept, as ``rm`` and ``mv`` ask before replacing one even when run by root.
    """
    effective = os.access in os.supports_effective_ids
    if os.access(path, os.W_OK, effective_ids=effective) and mode & 0o222:
        return
    raise OutputError(
        f"-o {given}: is read-only (mode {stat.S_IMODE(mode):04o}); xent does not replace it",
        hint="make it writable (chmod u+w) or write the result to another file",
    )


def _refuse_inputs(target: Target) -> None:
    """``-o`` names an input (by device and inode): refuse, whatever its path looks like."""
    identity: Identity | None = None
    if target.kind == "descriptor":
        identity = target.descriptor_identity
        if identity is not None and target.descriptor is not None:
            with contextlib.suppress(OSError):
                identity = _identity(os.fstat(target.descriptor))
    elif target.path is not None:
        with contextlib.suppress(OSError):
            identity = _identity(os.stat(target.path))
    if identity is not None and identity in target.inputs:
        raise OutputError(
            f"{target.name} is one of the inputs; xent never overwrites an input",
            hint="write the result to another file",
        )


def _stdout_closed(name: str | None = None) -> OutputError:
    where = f"{name}: " if name else ""
    return OutputError(
        f"{where}stdout is closed (>&-), so the result has nowhere to go",
        hint="redirect stdout, or write to a file with -o FILE",
    )


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc/self/status``)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- writing ------------------------------------------------------------------------------------


def resolve_format(
    settings: OutputSettings, stdout_is_terminal: bool, target: Target | None = None
) -> OutputFormat:
    if settings.format != "auto":
        return settings.format
    if not settings.to_stdout:
        suffix = target.suffix if target is not None else Target("file", settings.path).suffix
        return _FORMAT_BY_EXTENSION.get(suffix, "tsv")
    return "table" if stdout_is_terminal else "tsv"


def emit(
    result: Result, settings: OutputSettings, target: Target | None = None, report: GateReport | None = None
) -> ExitStatus:
    """Write the result, then report broken gates on stderr; return the exit status.

    ``report`` holds the gates' verdicts (:func:`xent_cli.gates.evaluate`); None: the
    settings' gates are evaluated here, against no baseline.
    """
    from xent_cli.gates import evaluate, failure_line

    if report is None:
        report = evaluate(result, settings.gates)
    if target is None:
        target = prepare_target(settings)
    if target.kind == "stdout":
        _write_stdout(result, report, settings)
    else:
        _write_target(result, report, settings, target)
    for check in report.failed:
        messages.gate_failed(failure_line(check))
    return ExitStatus.OK if report.held else ExitStatus.GATE_FAILED


def _write_stdout(result: Result, report: GateReport, settings: OutputSettings) -> None:
    stream = sys.stdout
    if settings.stdout_closed or stream is None:
        raise _stdout_closed()
    encoding = getattr(stream, "encoding", None)
    try:
        _write(
            result, report, settings, stream, is_terminal=settings.stdout_is_terminal,
            encoding=None if is_unicode(encoding) else encoding,
        )  # fmt: skip
        stream.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:
        silence_stdout()
        raise OutputError(f"stdout: cannot write: {exc.strerror or exc}") from None


def _write_target(result: Result, report: GateReport, settings: OutputSettings, target: Target) -> None:
    try:
        with _open_target(target) as out:
            _write(result, report, settings, out, is_terminal=False, encoding=None, target=target)
    except BrokenPipeError:
        if target.kind == "file":
            raise OutputError(f"{target.name}: cannot write: broken pipe") from None
        # A FIFO or descriptor whose reader left: as with stdout, quietly.
    except OSError as exc:
        hint = None
        if target.kind == "file":
            hint = f"{target.path} is unchanged" if target.replaces else "nothing was written"
        raise OutputError(f"{target.name}: cannot write: {exc.strerror or exc}", hint=hint) from None


@contextlib.contextmanager
def _open_target(target: Target) -> Iterator[TextIO]:
    """A text sink for the target; on success everything is written (and a file renamed into place)."""
    if target.kind == "file":
        with _atomic_file(target) as fd:
            sink = Sink(fd, target.compression)
            yield sink.text()
            sink.finish()
        return
    if target.kind == "descriptor":
        assert target.descriptor is not None
        with contextlib.suppress(OSError):
            if _identity_of_fd(target.descriptor) != target.descriptor_identity:
                raise OutputError(f"{target.name}: descriptor {target.descriptor} changed during the run")
        fd = os.dup(target.descriptor)
    else:
        assert target.path is not None
        # O_TRUNC matters only for a regular file behind another process's descriptor;
        # FIFOs and devices ignore it.
        fd = os.open(target.path, os.O_WRONLY | os.O_TRUNC | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        sink = Sink(fd, target.compression)
        yield sink.text()
        sink.finish()
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _identity_of_fd(fd: int) -> Identity:
    status = os.fstat(fd)
    return (status.st_dev, status.st_ino)


class Sink:
    """UTF-8 text to a descriptor, through a compressor if asked, with no buffers left behind.

    Writes go straight to the descriptor with ``os.write`` (a MB at a time): a
    failure raises where it happens and leaves no buffered object for the
    interpreter to flush (and fail on) at exit.
    """

    _DRAIN_BYTES = 1 << 20

    def __init__(self, fd: int, compression: str | None = None) -> None:
        self._fd = fd
        self._parts: list[bytes] = []
        self._size = 0
        self._compressor = _compressor(compression) if compression else None

    def text(self) -> TextIO:
        return _SinkText(self)  # type: ignore[return-value]

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self._parts.append(data)
        self._size += len(data)
        if self._size >= self._DRAIN_BYTES:
            self.drain()
        return len(text)

    def drain(self) -> None:
        data = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        if self._compressor is not None:
            data = self._compressor.compress(data)
        _write_all(self._fd, data)

    def finish(self) -> None:
        self.drain()
        if self._compressor is not None:
            _write_all(self._fd, self._compressor.flush())


class _SinkText:
    """The file-like face of a :class:`Sink` that writers, csv and Rich write to."""

    encoding = "utf-8"

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, text: str) -> int:
        return self._sink.write(text)

    def flush(self) -> None:
        self._sink.drain()

    def isatty(self) -> bool:
        return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _compressor(kind: str) -> Any:
    """A streaming compressor (``compress`` then ``flush``) for gzip, bzip2, xz or zstd."""
    if kind == "gzip":
        import zlib

        return zlib.compressobj(6, zlib.DEFLATED, 31)  # a gzip member: header, deflate, trailer
    if kind == "bz2":
        import bz2

        return bz2.BZ2Compressor()
    if kind == "xz":
        import lzma

        return lzma.LZMACompressor()
    import zstandard

    return zstandard.ZstdCompressor().compressobj()


@contextlib.contextmanager
def _atomic_file(target: Target) -> Iterator[int]:
    """A temporary file beside the target, renamed over it on success and removed otherwise.

    The folder is held open (a descriptor) for the whole write, and the temporary file is
    made, renamed and removed through it: a folder that is renamed or removed meanwhile
    still loses the temporary file, and the result is not renamed into a folder that no
    longer is the one ``-o`` named.
    """
    assert target.path is not None
    path = target.path
    try:
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise OutputError(f"{target.name}: cannot write: {exc.strerror or exc}") from None
    try:
        fd, temp_name = _temporary_file(folder, path.name, target.name)
        try:
            try:
                os.fchmod(fd, target.mode)
                if target.owner is not None and os.geteuid() == 0:
                    with contextlib.suppress(OSError):
                        os.fchown(fd, *target.owner)
                yield fd
                os.fsync(fd)
            finally:
                os.close(fd)
            # The target may have changed during the run: check again just before replacing it.
            with contextlib.suppress(FileNotFoundError):
                identity = _identity(os.stat(path))
                if identity is not None and identity in target.inputs:
                    raise OutputError(
                        f"{target.name} is one of the inputs; xent never overwrites an input",
                        hint="write the result to another file",
                    )
            if not _same_folder(path.parent, folder):
                raise OutputError(
                    f"{target.name}: the folder {str(path.parent)!r} was moved or removed during the run",
                    hint="nothing was written",
                )
            os.replace(temp_name, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def _temporary_file(folder: int, name: str, shown: str) -> tuple[int, str]:
    """``.NAME.XXXXXXXX.tmp`` made new (mode 0600) in the open ``folder``: its descriptor and name."""
    import secrets

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        temp_name = f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(temp_name, flags, 0o600, dir_fd=folder), temp_name
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"{shown}: cannot write: {exc.strerror or exc}") from None
    raise OutputError(f"{shown}: cannot write: no free temporary name beside it")


def _same_folder(path: Path, folder: int) -> bool:
    try:
        now, held = os.stat(path), os.fstat(folder)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _write(
    result: Result,
    report: GateReport,
    settings: OutputSettings,
    out: TextIO,
    is_terminal: bool,
    encoding: str | None,
    target: Target | None = None,
) -> None:
    """Write in the chosen format; ``encoding`` is the stream's when it is not UTF."""
    if settings.value_only:
        write_value(result, out)
        return
    fmt = resolve_format(settings, is_terminal, target)
    if settings.worst and fmt in ("jsonl", "csv", "tsv"):
        # One row per line has no place for a second list; say so rather than drop the flag.
        messages.warning(
            f"{option('worst')} is shown in tables and JSON; {fmt} lists every row "
            f"(sort them, or use {option('json')})"
        )
    ascii_only = encoding is not None
    if fmt == "json":
        write_json(
            result, report, out, rows=settings.max_rows != 0, ensure_ascii=ascii_only, worst=settings.worst
        )
    elif fmt == "jsonl":
        write_jsonl(result, out, ensure_ascii=ascii_only)
    elif fmt in ("csv", "tsv"):
        write_delimited(result, out, "," if fmt == "csv" else "\t", encoding=encoding)
    elif fmt == "markdown":
        from xent_cli.reports import markdown

        out.write(markdown(result, report, settings.intervals))
    else:
        color = settings.color if settings.color is not None else is_terminal and not settings.no_color_env
        console = _pipe_console(
            file=out if encoding is None else Transliterating(out, encoding),
            force_terminal=True if is_terminal or settings.color else None,
            no_color=not color,
            highlight=False,
            # COLUMNS, when set, is the width anywhere (as Rich and `man` read it); else a
            # terminal's own width, and 120 in a pipe or a file.
            width=settings.width or (None if is_terminal else 120),
        )
        write_table(result, console, settings.max_rows, worst=settings.worst)
        if result.intervals is not None:
            from xent_cli.reports import interval_line

            console.print(interval_line(result), markup=False, highlight=False, soft_wrap=True)
        if report.baseline is not None:
            from xent_cli.reports import baseline_line

            console.print(baseline_line(report.baseline), markup=False, highlight=False, soft_wrap=True)


def _pipe_console(**options: Any) -> Any:
    """A Rich console that leaves a closed pipe to xent: Rich itself would exit with status 1."""
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return PipeConsole(**options)


# Tables for people on a terminal that is not UTF-8: the symbols xent uses, in ASCII.
_ASCII_FALLBACK = str.maketrans(
    {
        "‖": "||",
        "·": "-",
        "…": "...",
        "−": "-",
        "–": "-",
        "—": "-",
        "√": "sqrt ",
        "█": "#",
        "∣": "|",
        "Σ": "sum ",
        "│": "|",
        "─": "-",
        "━": "-",
    }
)


class Transliterating:
    """Text for a stream whose encoding is not UTF: known symbols in ASCII, the rest escaped."""

    def __init__(self, inner: TextIO, encoding: str) -> None:
        self._inner = inner
        self._encoding = encoding
        # Rich reads it to choose ASCII box characters.
        self.encoding = encoding

    def write(self, text: str) -> int:
        if not text.isascii():
            text = (
                text.translate(_ASCII_FALLBACK)
                .encode(self._encoding, "backslashreplace")
                .decode(self._encoding)
            )
        self._inner.write(text)
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()


def silence_stdout() -> None:
    """After a reader closed the pipe: send the rest to /dev/null, quietly."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
