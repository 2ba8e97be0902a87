"""Resolving sources, decompression and format sniffing."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from xent_cli.errors import InputError, UsageError
from xent_cli.io.sources import format_from_name, open_source, resolve, sniff_format


def test_dash_and_nothing_mean_stdin() -> None:
    assert resolve("-", stdin_is_terminal=False).is_stdin
    assert resolve(None, stdin_is_terminal=False).is_stdin


def test_no_source_on_a_terminal_is_an_immediate_error() -> None:
    with pytest.raises(UsageError, match="no input"):
        resolve(None, stdin_is_terminal=True)


@pytest.mark.parametrize("spec", ["0.5,0.5", "1", "1e-3, 0.999", "cat=0.2,dog=0.8", "-inf,0", "0,5;0,5"])
def test_inline_lists(spec: str) -> None:
    assert resolve(spec, stdin_is_terminal=True).inline == spec


def test_an_existing_file_wins_over_inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("0.5,0.5").write_text("0.1,0.9\n")
    assert resolve("0.5,0.5", stdin_is_terminal=True).path == Path("0.5,0.5")


def test_missing_file_error_suggests_inline() -> None:
    with pytest.raises(InputError) as info:
        resolve("nope.csv", stdin_is_terminal=True)
    assert info.value.message == "nope.csv: no such file"
    assert "0.25,0.75" in (info.value.hint or "")


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder with no data files"):
        resolve(str(tmp_path), stdin_is_terminal=True)


def test_globs_and_folders_are_shards_in_natural_order(tmp_path: Path) -> None:
    for name in ("part-10.csv", "part-2.csv", "part-1.csv", "notes.md"):
        (tmp_path / name).write_text("0.5,0.5\n")
    by_glob = resolve(str(tmp_path / "part-*.csv"), stdin_is_terminal=True)
    by_folder = resolve(str(tmp_path), stdin_is_terminal=True)
    names = ["part-1.csv", "part-2.csv", "part-10.csv"]
    assert by_glob.shards is not None and [p.name for p in by_glob.shards] == names
    assert by_folder.shards is not None and [p.name for p in by_folder.shards] == names
    with pytest.raises(InputError, match="no file matches"):
        resolve(str(tmp_path / "nope-*.csv"), stdin_is_terminal=True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", ("csv", None)),
        ("a.TSV", ("tsv", None)),
        ("a.json.gz", ("json", "gzip")),
        ("a.ndjson.xz", ("jsonl", "xz")),
        ("a.npy.bz2", ("npy", "bz2")),
        ("a.dat", (None, None)),
    ],
)
def test_format_from_name(name: str, expected: tuple[str | None, str | None]) -> None:
    assert format_from_name(name) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"[0.5, 0.5]", "json"),
        (b'{"a": 0.5,\n "b": 0.5}\n', "json"),
        (b"[0.5, 0.5]\n[0.1, 0.9]\n", "jsonl"),
        (b'{"a": 0.5}\n{"a": 1}\n', "jsonl"),
        (b"\xef\xbb\xbf[1]", "json"),
        (b"a,b\n0.5,0.5\n", "csv"),
        (b"\x93NUMPY", "npy"),
    ],
)
def test_sniff_format(head: bytes, expected: str) -> None:
    assert sniff_format(head) == expected


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compression_is_detected_by_magic(tmp_path: Path, compress: object) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(compress(b"0.5,0.5\n"))  # type: ignore[operator]
    opened = open_source(resolve(str(path), stdin_is_terminal=True))
    assert opened.format == "csv"
    assert opened.stream.read() == b"0.5,0.5\n"


def test_corrupt_gzip_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(b"0.5,0.5\n" * 100)[:30])
    with pytest.raises(InputError, match="cannot decompress"):
        open_source(resolve(str(path), stdin_is_terminal=True))
