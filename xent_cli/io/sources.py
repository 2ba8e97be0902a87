"""Where the numbers come from: paths, stdin, inline lists; decompression; format sniffing.

Nothing here imports NumPy or pandas, so resolving a source costs nothing.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from xent_cli.errors import InputError, OpenError, UsageError, XentError, option

if TYPE_CHECKING:
    from contextlib import ExitStack

Format = Literal["csv", "tsv", "json", "jsonl", "npy", "npz", "safetensors", "llama", "parquet", "feather"]
BINARY_FORMATS = ("npy", "npz", "safetensors", "llama", "parquet", "feather")
# Formats that hold several named arrays, one of which ``FILE:NAME`` picks.
ARCHIVE_FORMATS = ("npz", "safetensors")

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".npy": "npy",
    ".npz": "npz",
    ".safetensors": "safetensors",
    ".kld": "llama",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".arrows": "feather",
    ".ipc": "feather",
}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_NPY_MAGIC = b"\x93NUMPY"
# np.savez writes a zip archive; its first local file header starts with this.
_ZIP_MAGIC = b"PK\x03\x04"
# llama-perplexity --kl-divergence-base writes this first.
LLAMA_MAGIC = b"_logits_"
_PARQUET_MAGIC = b"PAR1"
_ARROW_FILE_MAGIC = b"ARROW1"
# An Arrow IPC stream starts with a message: the continuation marker, then its length.
_ARROW_STREAM_MAGIC = b"\xff\xff\xff\xff"
SNIFF_BYTES = 1 << 16

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|infinity|nan)"
_INLINE = re.compile(rf"^\s*{_NUMBER}\s*(?:[,;]\s*{_NUMBER}\s*)*$", re.IGNORECASE)
# A JSON list of numbers typed inline: [0.5, 0.5].
_INLINE_JSON = re.compile(rf"^\s*\[\s*{_NUMBER}\s*(?:,\s*{_NUMBER}\s*)*\]\s*$", re.IGNORECASE)
_INLINE_NAMED = re.compile(rf"^\s*[^=,;]+=\s*{_NUMBER}\s*(?:[,;]\s*[^=,;]+=\s*{_NUMBER}\s*)*$", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """A resolved source: a path, stdin, an inline list of numbers, or shards.

    Shards (a glob or a folder) are files read as one batch, in order.
    """

    label: str
    path: Path | None = None
    inline: str | None = None
    # Local files are Paths; fsspec URLs (s3://…, file://…) are strings.
    shards: tuple[Path | str, ...] | None = None
    url: str | None = None
    # The array of an archive that ``FILE.npz:NAME`` or ``FILE.safetensors:NAME`` names.
    member: str | None = None

    @property
    def is_stdin(self) -> bool:
        return self.path is None and self.inline is None and self.shards is None and self.url is None

    def shard_sources(self) -> list[Source]:
        """One source per shard (just this one when not sharded)."""
        if self.shards is None:
            return [self]
        return [
            Source(label=str(shard), path=shard)
            if isinstance(shard, Path)
            else Source(label=shard, url=shard)
            for shard in self.shards
        ]

    def anchored(self) -> Source:
        """The same source with local paths made absolute (for workers that run in another folder).

        Labels, which messages show, stay as they were given.
        """
        path = self.path.absolute() if self.path is not None else None
        shards = None
        if self.shards is not None:
            shards = tuple(s.absolute() if isinstance(s, Path) else s for s in self.shards)
        return Source(self.label, path, self.inline, shards, self.url, self.member)

    @property
    def local_paths(self) -> list[Path]:
        """The local files this source reads (none for stdin, inline lists and URLs)."""
        if self.shards is not None:
            return [s for s in self.shards if isinstance(s, Path)]
        return [self.path] if self.path is not None else []

    def identities(self) -> list[tuple[int, int]]:
        """``(st_dev, st_ino)`` of every file this source reads.

        The file itself (symbolic links followed), every shard, and stdin when it is
        a regular file (``xent entropy < p.csv``); nothing for an inline list, a pipe
        or a terminal on stdin. Compared with an output path, this tells whether
        writing there would overwrite an input.
        """
        if self.inline is not None:
            return []
        if self.is_stdin:
            try:
                info = os.fstat(sys.stdin.fileno()) if sys.stdin is not None else None
            except (OSError, ValueError, AttributeError):
                return []
            return [(info.st_dev, info.st_ino)] if info is not None and stat.S_ISREG(info.st_mode) else []
        found = []
        for path in self.local_paths:
            try:
                info = os.stat(path)
            except OSError:
                continue
            found.append((info.st_dev, info.st_ino))
        return found


def _natural_key(path: Path | str) -> list[object]:
    """part-2 before part-10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def path_kind(text: str) -> str | None:
    """What a command-line argument names on disk: "file", "dir", "other", or None.

    A name the system cannot even look up (too long, say an inline list of 300
    numbers, or with a NUL byte) names nothing, rather than raising.
    """
    try:
        mode = os.stat(text).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def _shards(spec: str) -> Source | None:
    """A glob pattern or a folder of data files, as shards; None when ``spec`` is neither."""
    import glob

    path = Path(spec)
    if path_kind(spec) == "dir":
        files = [
            p
            for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and format_from_name(p.name)[0] is not None
        ]
        if not files:
            raise InputError(
                f"{spec}: is a folder with no data files", hint="shards are .csv .tsv .json .jsonl .npy files"
            )
        return Source(label=spec, shards=tuple(sorted(files, key=_natural_key)))
    if any(ch in spec for ch in "*?[") and len(spec) < 4096:
        matches = [Path(p) for p in glob.glob(spec) if path_kind(p) == "file"]
        if not matches:
            raise InputError(
                f"{spec}: no file matches", hint="check the pattern; quote it so the shell does not expand it"
            )
        return Source(label=spec, shards=tuple(sorted(matches, key=_natural_key)))
    return None


# scheme://…: read through fsspec (s3://, gs://, abfs://, https://, file://, memory://, …).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
FSSPEC_HINT = (
    "pip install fsspec, and the filesystem's package: s3fs for s3://, gcsfs for gs://, adlfs for abfs://"
)


def is_url(spec: str) -> bool:
    return bool(_URL.match(spec))


def _filesystem(spec: str) -> tuple[Any, str]:
    try:
        import fsspec.core
    except ImportError:
        raise UsageError(f"{spec}: reading URLs needs fsspec", hint=FSSPEC_HINT) from None
    try:
        found: tuple[Any, str] = fsspec.core.url_to_fs(spec)
        return found
    except (ImportError, ValueError) as exc:
        raise UsageError(f"{spec}: cannot read this kind of URL: {exc}", hint=FSSPEC_HINT) from None
    except Exception as exc:
        # Some filesystems connect as they are made (ftp://, sftp://): a server that refuses,
        # a name that does not resolve, a login the server rejects (ftplib.error_perm is no
        # OSError) are all about the URL the user gave, not a bug in xent.
        raise InputError(
            f"{spec}: cannot connect: {_reason(exc)}", hint="check the host, port and login in the URL"
        ) from None


def _reason(exc: BaseException) -> str:
    """What went wrong, in one phrase: the system's words for an OSError, else the exception's."""
    text = getattr(exc, "strerror", None) or str(exc)
    return text if isinstance(exc, OSError) or not text else f"{type(exc).__name__}: {text}"


def _url_source(spec: str) -> Source:
    """A URL, a glob of URLs or a folder URL, listed once, here, through the same filesystem."""
    fs, path = _filesystem(spec)

    def data_files(infos: Any) -> list[str]:
        names = [
            info["name"]
            for info in infos
            if info.get("type") == "file"
            and not info["name"].rsplit("/", 1)[-1].startswith(".")
            and format_from_name(info["name"])[0] is not None
        ]
        return [fs.unstrip_protocol(name) for name in names]

    try:
        if any(ch in path for ch in "*?["):
            matches = data_files(fs.glob(path, detail=True).values())
            if not matches:
                raise InputError(
                    f"{spec}: no file matches",
                    hint="check the pattern; quote it so the shell does not expand it",
                )
            return Source(label=spec, shards=tuple(sorted(matches, key=_natural_key)))
        if fs.isdir(path):
            files = data_files(fs.ls(path, detail=True))
            if not files:
                raise InputError(f"{spec}: is a folder with no data files")
            return Source(label=spec, shards=tuple(sorted(files, key=_natural_key)))
        if not fs.exists(path):
            raise InputError(f"{spec}: no such file")
    except OSError as exc:
        raise InputError(f"{spec}: cannot list: {exc}") from None
    except XentError:
        raise
    except Exception as exc:  # a remote filesystem's own error (ftplib.error_perm, a client's)
        raise InputError(f"{spec}: cannot list: {_reason(exc)}") from None
    return Source(label=spec, url=spec)


def resolve(spec: str | None, *, stdin_is_terminal: bool) -> Source:
    """Turn a command-line source argument into a :class:`Source`.

    ``-`` (or nothing, when stdin is a pipe) is stdin; an existing path is a file;
    otherwise a comma list like ``0.5,0.5`` or ``cat=0.2,dog=0.8`` is inline data.
    """
    if spec is None or spec == "-":
        if stdin_is_terminal:
            raise UsageError(
                "no input: give a file, an inline list like 0.5,0.5, or pipe data on stdin",
                hint="see xent --help",
            )
        return Source(label="<stdin>")
    if is_url(spec):
        return _url_source(spec)
    kind = path_kind(spec)
    if kind in ("file", "other"):
        return Source(label=spec, path=Path(spec))
    member = archive_member(spec)
    if member is not None:
        return member
    if _INLINE_JSON.match(spec):  # before globs: [ ... ] is not a pattern here
        return Source(label=spec, inline=spec)
    sharded = _shards(spec)
    if sharded is not None:
        return sharded
    if _INLINE.match(spec) or _INLINE_NAMED.match(spec):
        return Source(label=_clip_label(spec), inline=spec)
    raise InputError(
        f"{_clip_label(spec)}: no such file",
        hint="an inline distribution is written like 0.25,0.75 or cat=0.25,dog=0.75",
    )


def read_once(source: Source) -> bool:
    """Whether ``source`` can be read only once: stdin, or a path that is no regular file or folder.

    A FIFO, a ``<(…)`` process substitution (``/dev/fd/N``), ``/dev/stdin`` or a character
    device yields its data once; opening it again finds nothing, or waits for a writer
    that is gone. Anything that must look at such a source twice copies it first
    (:func:`reopenable`), or, like stdin, does without the second look.
    """
    if source.is_stdin:
        return True
    if source.path is None:
        return False
    return path_kind(str(source.path)) == "other"


def reopenable(source: Source, closer: ExitStack) -> Source:
    """``source`` as something that can be opened more than once.

    A source that can be read only once (:func:`read_once`) is read now, once, into a
    temporary file (on disk: memory stays bounded), which ``closer`` removes, also when
    the run is interrupted; it keeps the source's label (messages name what the user
    gave) and its name (the extension still gives the format). Anything else is
    returned as it is.
    """
    if not read_once(source):
        return source
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="xent-"))
    closer.callback(shutil.rmtree, folder, ignore_errors=True)
    copy = folder / (source.path.name if source.path is not None and source.path.name else "stdin")
    try:
        if source.path is None:
            raw: IO[bytes] = sys.stdin.buffer
            with open(copy, "wb") as out:
                shutil.copyfileobj(raw, out, 1 << 20)
        else:
            with open(source.path, "rb") as file, open(copy, "wb") as out:
                shutil.copyfileobj(file, out, 1 << 20)
    except OSError as exc:
        raise InputError(f"{source.label}: cannot read: {exc.strerror or exc}") from None
    return replace(source, path=copy)


def archive_member(spec: str) -> Source | None:
    """``FILE.npz:NAME`` or ``FILE.safetensors:NAME``: one array of an archive that exists."""
    path, colon, name = spec.rpartition(":")
    if not colon or not path or not name or path_kind(path) not in ("file", "other"):
        return None
    if format_from_name(path)[0] not in ARCHIVE_FORMATS:
        return None
    return Source(label=spec, path=Path(path), member=name)


def _clip_label(spec: str, limit: int = 60) -> str:
    """A long inline list, cut short for messages."""
    return spec if len(spec) <= limit else spec[: limit - 1] + "…"


def format_from_name(name: str) -> tuple[Format | None, str | None]:
    """The format and compression implied by a file name's extensions."""
    lower = name.lower()
    compression = None
    for ext, kind in _COMPRESSIONS.items():
        if lower.endswith(ext):
            compression = kind
            lower = lower[: -len(ext)]
            break
    return _EXTENSIONS.get(os.path.splitext(lower)[1]), compression


class PrefixedStream(io.RawIOBase):
    """A read-only stream: some bytes already read, then the rest of another stream.

    Lets us sniff the start of stdin (which cannot seek) and still hand the whole
    stream to a parser.
    """

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._rest.close()
        super().close()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return _read_into(self._rest, buffer)


class WrappedStream(io.RawIOBase):
    """A read-only stream over another one, named ``label`` for messages; closing it closes ``inner``.

    Subclasses say what reading through them adds (``readinto``).
    """

    def __init__(self, inner: IO[bytes], label: str) -> None:
        self._inner = inner
        self._label = label

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


class GuardedStream(WrappedStream):
    """Turns a failure to read or decompress, wherever it happens, into one clear InputError.

    Parsers read through this, so a gzip file truncated a megabyte in is
    reported as such rather than as a parser's internal exception.
    """

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        import lzma
        import zlib

        try:
            return _read_into(self._inner, buffer)
        except (EOFError, zlib.error, lzma.LZMAError) as exc:
            raise InputError(
                f"{self._label}: cannot decompress: {exc}", hint="the file may be truncated or corrupt"
            ) from None
        except OSError as exc:
            message = (
                str(exc) if "compress" in str(exc).lower() or "gzip" in str(exc).lower() else exc.strerror
            )
            raise InputError(f"{self._label}: cannot read: {message or exc}") from None


class TranscodedStream(io.RawIOBase):
    """Bytes in another encoding, read back as UTF-8 bytes (for --encoding and UTF-16)."""

    def __init__(self, inner: IO[bytes], encoding: str, label: str) -> None:
        self._text = io.TextIOWrapper(inner, encoding=encoding, newline="")
        self._pending = b""
        self._label = label
        self._encoding = encoding

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            try:
                chunk = self._text.read(1 << 14)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{self._label}: is not {self._encoding} text ({exc.reason})",
                    hint=f"check {option('encoding')}",
                ) from None
            if not chunk:
                break
            self._pending += chunk.encode("utf-8")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._text.close()
        super().close()


def _read_into(stream: Any, buffer: memoryview) -> int:
    """``stream.readinto(buffer)`` where the stream has it (no intermediate copy)."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return int(readinto(buffer) or 0)
    data = stream.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


def read_up_to(stream: IO[bytes], size: int) -> bytes:
    """Read ``size`` bytes or to EOF; a pipe may deliver less per read."""
    chunks = []
    remaining = size
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)


def _buffered(raw: Any) -> IO[bytes]:
    return cast(IO[bytes], io.BufferedReader(raw, buffer_size=1 << 16))


def _decompressor(kind: str, raw: IO[bytes], label: str) -> IO[bytes]:
    stream: Any
    if kind == "gzip":
        import gzip

        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    elif kind == "bz2":
        import bz2

        stream = bz2.BZ2File(raw, mode="rb")
    elif kind == "xz":
        import lzma

        stream = lzma.LZMAFile(raw, mode="rb")  # noqa: SIM115 - the caller owns it
    else:
        try:
            import zstandard
        except ImportError:
            raise InputError(
                f"{label}: is zstd-compressed, which needs the zstandard package",
                hint="pip install zstandard, or decompress it with unzstd first",
            ) from None
        stream = zstandard.ZstdDecompressor().stream_reader(raw)
    return _buffered(stream)


class OpenedSource:
    """A source opened for reading: a byte stream that starts with ``head``.

    ``head`` is read ahead for sniffing; :meth:`peek` reads further ahead when a
    reader needs more to decide (a wide CSV row, a long header). :attr:`stream`
    then delivers every byte from the start: ``head``, then the rest, from the same
    open file, pipe or stdin, which is never reopened, so a pipe given as a path
    (``<(cat p.csv)``, ``/dev/stdin``, a FIFO) loses nothing.

    ``plain`` is set for an uncompressed UTF-8 regular file, which :meth:`raw_stream`
    rewinds and hands over directly, without the layers that sniffing needed.
    """

    def __init__(
        self, source: Source, rest: IO[bytes], head: bytes, fmt: Format, file: IO[bytes] | None, plain: bool
    ) -> None:
        self.source = source
        self.head = head
        self.format: Format = fmt
        self.plain = plain
        self.eof = False
        self._rest = rest
        self._file = file
        self._stream: IO[bytes] | None = None
        # Bytes dropped from the start by :meth:`drop_blank_prefix` (a plain file is read from there),
        # and whether the last of them was a CR without an LF.
        self._dropped = 0
        self.lone_cr_before_data = False
        self.identity: tuple[int, int] | None = None
        if file is not None:
            try:
                info = os.fstat(file.fileno())
                self.identity = (info.st_dev, info.st_ino)
            except (OSError, ValueError, io.UnsupportedOperation):
                self.identity = None

    @property
    def label(self) -> str:
        return self.source.label

    def peek(self, size: int) -> bytes:
        """``head`` grown to at least ``size`` bytes (or to the end of the data)."""
        if self._stream is not None:
            raise RuntimeError("peek after the stream was taken")
        if len(self.head) < size and not self.eof:
            try:
                more = read_up_to(self._rest, size - len(self.head))
            except (OSError, EOFError, ValueError) as exc:
                raise InputError(f"{self.label}: cannot read: {exc}") from None
            if len(more) < size - len(self.head):
                self.eof = True
            self.head += more
        return self.head

    def drop_blank_prefix(self) -> int:
        """Drop a UTF-8 byte-order mark and the blank lines after it; the number of lines dropped.

        Text parsers skip both (pandas does), so nothing read changes; dropping them as they
        arrive keeps a prefix of millions of blank lines from growing ``head``.
        """
        if self._stream is not None:
            raise RuntimeError("drop_blank_prefix after the stream was taken")
        lines = 0
        if self.peek(3).startswith(b"\xef\xbb\xbf"):
            self._drop(3)
        while True:
            head = self.head
            blank = len(head) - len(head.lstrip(b"\r\n"))
            if blank and blank == len(head) and head.endswith(b"\r") and not self.eof:
                blank -= 1  # a CR whose LF may come with the next read: one line end, not two
            if blank:
                self.lone_cr_before_data = head[blank - 1 : blank] == b"\r"
                lines += head.count(b"\n", 0, blank) + head.count(b"\r", 0, blank)
                lines -= head.count(b"\r\n", 0, blank)
                self._drop(blank)
            if self.head.lstrip(b"\r\n") or self.eof:
                return lines
            self.peek(len(self.head) + (1 << 20))

    @property
    def dropped(self) -> int:
        """Bytes dropped from the start by :meth:`drop_blank_prefix`."""
        return self._dropped

    def _drop(self, size: int) -> None:
        self.head = self.head[size:]
        self._dropped += size

    @property
    def stream(self) -> IO[bytes]:
        """Every byte from the start: the head read so far, then the rest."""
        if self._stream is None:
            self._stream = _buffered(PrefixedStream(self.head, self._rest))
        return self._stream

    def size(self) -> int | None:
        """The size in bytes of a plain regular file (None for pipes, compressed or transcoded data)."""
        if not self.plain or self._file is None:
            return None
        try:
            return os.fstat(self._file.fileno()).st_size
        except (OSError, ValueError):
            return None

    def raw_stream(self) -> IO[bytes]:
        """The data from the start (after any dropped prefix): the regular file itself, repositioned,
        when plain; else :attr:`stream`."""
        if self.plain and self._file is not None and self._stream is None:
            try:
                self._file.seek(self._dropped)
            except OSError as exc:
                raise InputError(f"{self.label}: cannot read: {exc.strerror or exc}") from None
            self._stream = self._file
            return self._file
        return self.stream

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._rest.close()
        if self._file is not None:
            self._file.close()


def open_source(
    source: Source, forced_format: Format | None = None, encoding: str | None = None
) -> OpenedSource:
    """Open a path or stdin, undo any compression, transcode to UTF-8, and settle its format.

    Text is UTF-8 unless ``encoding`` says otherwise; UTF-16 with a byte-order
    mark is recognised and read without being asked. Binary formats (``.npy``,
    Parquet, Arrow) are recognised by their magic bytes and never transcoded.
    """
    assert source.inline is None
    label = source.label
    file: IO[bytes] | None = None
    regular = False
    if source.path is not None:
        try:
            file = open(source.path, "rb", buffering=0)  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise OpenError(label, str(exc.strerror or exc)) from None
        except ValueError as exc:  # a NUL byte in the name
            raise OpenError(label, str(exc)) from None
        try:
            regular = stat.S_ISREG(os.fstat(file.fileno()).st_mode)
        except OSError:
            regular = False
        raw: IO[bytes] = file
        named_format, _ = format_from_name(source.path.name)
    elif source.url is not None:
        raw = _open_url(source.url, label)
        named_format, _ = format_from_name(source.url.rsplit("/", 1)[-1].split("?", 1)[0])
    else:
        raw = sys.stdin.buffer
        named_format = None
    try:
        head = read_up_to(raw, 8)
    except OSError as exc:
        if file is not None:
            file.close()
        raise InputError(f"{label}: cannot read: {exc.strerror or exc}") from None
    stream = _buffered(PrefixedStream(head, raw))
    compressed = False
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            stream = _decompressor(kind, stream, label)
            compressed = True
            break
    stream = _buffered(GuardedStream(stream, label))
    try:
        start = read_up_to(stream, SNIFF_BYTES)
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"{label}: cannot decompress: {exc}") from None
    binary = forced_format in BINARY_FORMATS or (
        forced_format is None and named_format in (None, *BINARY_FORMATS) and binary_format(start) is not None
    )
    transcoded = False
    if not binary:
        if encoding is None and start[:2] in (b"\xff\xfe", b"\xfe\xff"):
            encoding = "utf-16"
        if encoding is not None and encoding.replace("-", "").replace("_", "").lower() not in (
            "utf8",
            "utf8sig",
        ):
            import codecs

            try:
                codecs.lookup(encoding)
            except LookupError:
                raise UsageError(
                    f"{option('encoding')} {encoding!r}: unknown encoding",
                    hint="e.g. latin-1, cp1252, utf-16",
                ) from None
            stream = _buffered(TranscodedStream(_buffered(PrefixedStream(start, stream)), encoding, label))
            transcoded = True
            try:
                start = read_up_to(stream, SNIFF_BYTES)
            except (OSError, EOFError, ValueError) as exc:
                raise InputError(f"{label}: cannot decompress: {exc}") from None
    fmt = forced_format or named_format or sniff_format(start)
    plain = regular and not compressed and not transcoded
    opened = OpenedSource(source, stream, start, fmt, file, plain)
    opened.eof = len(start) < SNIFF_BYTES
    return opened


def _open_url(url: str, label: str) -> IO[bytes]:
    fs, path = _filesystem(url)
    try:
        return cast("IO[bytes]", fs.open(path, "rb"))
    except FileNotFoundError:
        raise OpenError(label, "No such file or directory") from None
    except (OSError, ValueError) as exc:
        raise OpenError(label, str(getattr(exc, "strerror", None) or exc)) from None
    except Exception as exc:  # a remote filesystem's own error (ftplib.error_perm, a client's)
        raise OpenError(label, _reason(exc)) from None


def binary_format(head: bytes) -> Format | None:
    """The binary format whose magic bytes start ``head``, if any."""
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_ZIP_MAGIC):
        return "npz"
    if head.startswith(LLAMA_MAGIC):
        return "llama"
    if _looks_like_safetensors(head):
        return "safetensors"
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_ARROW_FILE_MAGIC) or head.startswith(_ARROW_STREAM_MAGIC):
        return "feather"
    return None


def _looks_like_safetensors(head: bytes) -> bool:
    """A safetensors file: a little-endian 64-bit header size, then a JSON object's ``{"``."""
    if len(head) < 10:
        return False
    size = int.from_bytes(head[:8], "little")
    return 2 <= size <= (100 << 20) and head[8:10] in (b'{"', b"{}", b"{ ")


def sniff_format(head: bytes) -> Format:
    """Guess the format of unnamed data from its first bytes.

    Magic bytes (``.npy``, a zip archive for ``.npz``, llama.cpp's ``_logits_``, a
    safetensors header, Parquet ``PAR1``, Arrow ``ARROW1`` or an IPC stream's
    continuation marker), then ``[`` or ``{`` (JSON, or JSON Lines when the first line
    is a complete value and more lines follow), else delimited text.
    """
    binary = binary_format(head)
    if binary is not None:
        return binary
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"[", b"{"):
        first, _, rest = text.partition(b"\n")
        if rest.strip():
            import json

            try:
                json.loads(first)
            except ValueError:
                return "json"
            return "jsonl"
        return "json"
    return "csv"
