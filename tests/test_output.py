"""xent_cli.output: the -o target, the check against inputs, atomic files, sinks; and the CLI over them.

Cases that need a process of their own (closed or broken standard streams,
signals, the literal /dev nodes) are in tests/test_hostile_io.py.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import stat
import threading
from pathlib import Path

import pytest

from tests.conftest import LN_5_3, CliEnv
from xent_cli import output
from xent_cli.errors import OutputError
from xent_cli.io.sources import Source
from xent_cli.output import Sink, Target, input_identities, prepare_target, resolve_target

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="making device nodes needs root")

P_CSV = "a,b\n0.5,0.5\n0.2,0.8\n"
P_TSV_RESULT = "row\tid\tentropy_nats\n1\t\t0.6931471805599453\n2\t\t0.5004024235381879\n"


@pytest.fixture
def p_csv(tmp_path: Path) -> Path:
    path = tmp_path / "p.csv"
    path.write_text(P_CSV)
    return path


@pytest.fixture
def umask_027() -> object:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


# --- resolving the target -------------------------------------------------------------------------


def test_dash_and_none_are_stdout() -> None:
    assert prepare_target(output.OutputSettings(path=Path("-"))).kind == "stdout"
    assert prepare_target(output.OutputSettings()).kind == "stdout"


def test_a_new_file_is_atomic_with_the_umask_mode(tmp_path: Path, umask_027: object) -> None:
    target = resolve_target(tmp_path / "new.json")
    assert (target.kind, target.path, target.mode, target.replaces) == (
        "file", tmp_path / "new.json", 0o640, False,
    )  # fmt: skip
    assert output.current_umask() == 0o027


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    existing.chmod(0o604)
    target = resolve_target(existing)
    assert (target.kind, target.mode, target.replaces) == ("file", 0o604, True)


def test_a_symlink_names_its_target(tmp_path: Path) -> None:
    (tmp_path / "real.tsv").write_text("x")
    (tmp_path / "link.tsv").symlink_to("real.tsv")
    (tmp_path / "dangling.tsv").symlink_to("nowhere/../made.tsv")
    assert resolve_target(tmp_path / "link.tsv").path == tmp_path / "real.tsv"
    assert resolve_target(tmp_path / "dangling.tsv").path == tmp_path / "made.tsv"


def test_descriptor_paths_name_the_descriptor() -> None:
    read_end, write_end = os.pipe()
    try:
        for path in (
            f"/dev/fd/{write_end}",
            f"/proc/self/fd/{write_end}",
            f"/proc/{os.getpid()}/fd/{write_end}",
        ):
            target = resolve_target(Path(path))
            assert (target.kind, target.descriptor) == ("descriptor", write_end), path
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_fifo_is_direct(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "f")
    assert resolve_target(tmp_path / "f").kind == "direct"


@needs_root
def test_device_nodes(tmp_path: Path) -> None:
    os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(tmp_path / "disk", 0o600 | stat.S_IFBLK, os.makedev(250, 250))
    assert resolve_target(tmp_path / "null").kind == "direct"
    with pytest.raises(OutputError, match="is a block device"):
        resolve_target(tmp_path / "disk")


def test_the_format_comes_from_the_name_inside_the_compression() -> None:
    assert Target("file", Path("out.JSON.gz")).suffix == ".json"
    assert Target("file", Path("out.tsv")).suffix == ".tsv"
    assert output._compression(Path("a.csv.xz")) == "xz"
    assert output._compression(Path("a.csv")) is None


# --- inputs, by device and inode --------------------------------------------------------------


def test_input_identities_of_paths_shards_and_links(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(P_CSV)
    b.write_text(P_CSV)
    (tmp_path / "link.csv").symlink_to(a)
    found = input_identities(
        [
            Source(label="a", path=tmp_path / "link.csv"),
            Source(label="s", shards=(b,)),
            Source(label="inline", inline="0.5,0.5"),
        ]
    )
    expected = {(os.stat(p).st_dev, os.stat(p).st_ino) for p in (a, b)}
    assert found == expected


def test_the_check_is_repeated_right_before_the_rename(tmp_path: Path) -> None:
    source = tmp_path / "p.csv"
    source.write_text(P_CSV)
    out = tmp_path / "out.tsv"
    target = resolve_target(out, input_identities([Source(label="p", path=source)]))
    with pytest.raises(OutputError, match="is one of the inputs"), output._open_target(target) as sink:
        sink.write("result\n")
        os.link(source, out)  # during the run, the output path became the input
    assert source.read_text() == P_CSV
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv", "p.csv"]  # temporary file removed


# --- sinks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "decompress"), [("gzip", gzip.decompress), ("bz2", bz2.decompress), ("xz", lzma.decompress)]
)
def test_sink_compresses(tmp_path: Path, kind: str, decompress: object) -> None:
    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    sink = Sink(fd, kind)
    text = "".join(f"{i}\tvalue\n" for i in range(100_000))
    sink.text().write(text)
    sink.finish()
    os.close(fd)
    assert decompress(path.read_bytes()).decode() == text  # type: ignore[operator]


def test_a_failed_write_raises_where_it_happens_and_leaves_nothing_buffered() -> None:
    fd = os.open("/dev/full", os.O_WRONLY) if os.path.exists("/dev/full") else None
    if fd is None:
        pytest.skip("no /dev/full")
    try:
        sink = Sink(fd)
        sink.write("x" * 100)
        with pytest.raises(OSError, match="No space left"):
            sink.finish()
    finally:
        os.close(fd)


# --- the CLI's -o --------------------------------------------------------------------------


def test_o_replaces_a_regular_file_and_keeps_its_mode(env: CliEnv, tmp_path: Path, p_csv: Path) -> None:
    out = tmp_path / "out.tsv"
    out.write_text("old\n")
    out.chmod(0o600)
    result = env.run(["entropy", str(p_csv), "-o", str(out)])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert out.read_text() == P_TSV_RESULT
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_o_a_new_file_gets_0666_less_the_umask(
    env: CliEnv, tmp_path: Path, p_csv: Path, umask_027: object
) -> None:
    out = tmp_path / "new.tsv"
    assert env.run(["entropy", str(p_csv), "-o", str(out)]).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_o_through_a_symlink(env: CliEnv, tmp_path: Path, p_csv: Path) -> None:
    real = tmp_path / "real.tsv"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.tsv"
    link.symlink_to("real.tsv")
    assert env.run(["entropy", str(p_csv), "-o", str(link)]).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == "real.tsv"
    assert real.read_text() == P_TSV_RESULT
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to("made.json")
    assert env.run(["entropy", str(p_csv), "-o", str(dangling)]).exit_code == 0
    assert dangling.is_symlink()
    assert json.loads((tmp_path / "made.json").read_text())["command"] == "entropy"


@pytest.mark.parametrize(
    ("suffix", "decompress"),
    [(".json.gz", gzip.decompress), (".json.bz2", bz2.decompress), (".json.xz", lzma.decompress)],
)
def test_o_compresses_by_extension(
    env: CliEnv, tmp_path: Path, p_csv: Path, suffix: str, decompress: object
) -> None:
    out = tmp_path / f"result{suffix}"
    result = env.run(["entropy", str(p_csv), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(decompress(out.read_bytes()))["summary"]["count"] == 2  # type: ignore[operator]


def test_o_csv_gz_is_compressed_csv(env: CliEnv, tmp_path: Path, p_csv: Path) -> None:
    out = tmp_path / "result.csv.gz"
    assert env.run(["entropy", str(p_csv), "-o", str(out)]).exit_code == 0
    assert gzip.decompress(out.read_bytes()).decode().splitlines()[0] == "row,id,entropy_nats"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "is a directory (name a file to write the result to)"),
        ("missing/out.tsv", "no such directory"),
    ],
)
def test_o_a_directory_or_a_missing_folder(
    env: CliEnv, tmp_path: Path, p_csv: Path, name: str, message: str
) -> None:
    result = env.run(["entropy", str(p_csv), "-o", str(tmp_path / name if name else tmp_path)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_o_a_fifo_is_written_directly(env: CliEnv, tmp_path: Path, p_csv: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = env.run(["entropy", str(p_csv), "-o", str(fifo)])
    reader.join(30)
    assert result.exit_code == 0, result.stderr
    assert received == [P_TSV_RESULT.encode()]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_o_a_fifo_whose_reader_leaves_keeps_the_gate_status(env: CliEnv, tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)

    def read_a_little() -> None:
        with open(fifo, "rb") as handle:
            handle.read(10)

    reader = threading.Thread(target=read_a_little)
    reader.start()
    rows = "a,b\n" + "".join(f"{i / 30000},{1 - i / 30000}\n" for i in range(30_000))
    result = env.run(["entropy", "-", "-o", str(fifo), "--fail-above", "0.1"], input=rows)
    reader.join(30)
    assert result.exit_code == 1  # the gate's status, not the pipe's
    assert result.stderr.startswith("xent: gate failed: entropy mean")


def test_o_dev_fd_n_writes_to_that_descriptor(env: CliEnv, p_csv: Path) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader:
        try:
            result = env.run(["entropy", str(p_csv), "-o", f"/dev/fd/{write_end}", "--json"])
        finally:
            os.close(write_end)
        data = reader.read()
    assert result.exit_code == 0, result.stderr
    assert json.loads(data)["summary"]["count"] == 2
    assert result.stdout == ""


def test_o_a_closed_descriptor(env: CliEnv, p_csv: Path) -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)  # a number that is surely not open now
    result = env.run(["entropy", str(p_csv), "-o", f"/dev/fd/{fd}"])
    assert (result.exit_code, result.stderr) == (
        2,
        f"xent: error: -o /dev/fd/{fd}: descriptor {fd} is not open\n",
    )


@needs_root
def test_o_character_devices_are_written_never_replaced(env: CliEnv, tmp_path: Path, p_csv: Path) -> None:
    null, full = tmp_path / "null", tmp_path / "full"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    assert env.run(["entropy", str(p_csv), "-o", str(null)]).exit_code == 0
    result = env.run(["entropy", str(p_csv), "-o", str(full), "--json"])
    assert (result.exit_code, result.stderr) == (
        2, f"xent: error: -o {full}: cannot write: No space left on device\n",
    )  # fmt: skip
    assert stat.S_ISCHR(null.lstat().st_mode) and stat.S_ISCHR(full.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "null", "p.csv"]  # no temporary file


def _refused(result: object, name: str) -> None:
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert result.stdout == ""  # type: ignore[attr-defined]
    assert result.stderr == (  # type: ignore[attr-defined]
        f"xent: error: -o {name} is one of the inputs; xent never overwrites an input "
        "(write the result to another file)\n"
    )


def test_o_never_names_a_shard(env: CliEnv, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in (1, 2):
        (shards / f"part-{i}.csv").write_text(P_CSV)
    part = shards / "part-2.csv"
    _refused(env.run(["entropy", str(shards), "-o", str(part)]), str(part))
    _refused(env.run(["entropy", f"{shards}/part-*.csv", "-o", str(part)]), str(part))
    assert part.read_text() == P_CSV


def test_o_never_names_the_target_labels(env: CliEnv, tmp_path: Path, p_csv: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("label\n0\n1\n")
    _refused(env.run(["loss", str(p_csv), "--target", str(labels), "-o", str(labels)]), str(labels))
    assert labels.read_text() == "label\n0\n1\n"


def test_o_never_names_an_input_by_another_name(env: CliEnv, tmp_path: Path, p_csv: Path) -> None:
    hard = tmp_path / "hard.csv"
    os.link(p_csv, hard)
    soft = tmp_path / "soft.csv"
    soft.symlink_to(p_csv)
    _refused(env.run(["kl", str(p_csv), "0.5,0.5", "-o", str(hard)]), str(hard))
    _refused(env.run(["kl", "0.5,0.5", str(soft), "-o", str(p_csv)]), str(p_csv))
    assert p_csv.read_text() == P_CSV


def test_an_input_file_is_never_modified(env: CliEnv, tmp_path: Path) -> None:
    q = tmp_path / "q.csv"
    q.write_text("0.5,0.5\n")
    before = q.read_bytes()
    result = env.run(["entropy", str(q), "-o", str(q)])
    assert result.exit_code == 2
    assert "is one of the inputs" in result.stderr
    assert q.read_bytes() == before


def test_output_file_is_written_atomically_in_the_format_of_its_extension(
    env: CliEnv, tmp_path: Path
) -> None:
    out = tmp_path / "result.json"
    result = env.run(["kl", "0.5,0.5", "0.9,0.1", "-o", str(out)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert json.loads(out.read_text())["rows"][0]["value"] == LN_5_3
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left


def test_failed_run_leaves_no_output_file(env: CliEnv, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = env.run(["kl", "0.5,0.5", "0.9,0.2", "-o", str(out)])
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [0o444, 0o555, 0o400])
def test_o_never_replaces_a_file_no_one_may_write(env: CliEnv, tmp_path: Path, mode: int) -> None:
    """As the shell's > refuses a read-only file, so does -o (by its bits, even as root)."""
    out = tmp_path / "ro.tsv"
    out.write_text("old\n")
    out.chmod(mode)
    result = env.run(["entropy", "0.5,0.5", "-o", str(out)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: -o {out}: is read-only (mode {mode:04o}); xent does not replace it "
        "(make it writable (chmod u+w) or write the result to another file)\n"
    )
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["ro.tsv"]


def test_o_never_replaces_a_file_the_user_cannot_write(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user other than root: what os.access says for the effective ids (faked: tests run as root)."""
    out = tmp_path / "theirs.tsv"
    out.write_text("old\n")
    out.chmod(0o644)
    real_access = os.access
    asked: list[dict[str, object]] = []

    def access(path: object, mode: int, **kwargs: object) -> bool:
        if Path(str(path)) == out and mode & os.W_OK:
            asked.append(kwargs)
            return False  # as for a user who is not the owner of a 0644 file
        return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    result = env.run(["entropy", "0.5,0.5", "-o", str(out)])
    assert result.exit_code == 2 and "is read-only (mode 0644)" in result.stderr
    assert out.read_text() == "old\n"
    assert asked and asked[0].get("effective_ids") == (os.access in os.supports_effective_ids)


def test_a_folder_renamed_during_the_write_keeps_no_temporary_file(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An output folder renamed mid-run must not keep the temporary file (it can be as big as the result)."""
    folder, moved = tmp_path / "results", tmp_path / "moved"
    folder.mkdir()
    (folder / "out.tsv").write_text("old\n")
    real_write = output._write

    def write_then_move(*args: object, **kwargs: object) -> None:
        real_write(*args, **kwargs)  # type: ignore[arg-type]
        assert any(p.name.endswith(".tmp") for p in folder.iterdir())  # written, not yet renamed
        folder.rename(moved)

    monkeypatch.setattr(output, "_write", write_then_move)
    result = env.run(["entropy", "0.5,0.5", "-o", str(folder / "out.tsv")])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: -o {folder / 'out.tsv'}: the folder {str(folder)!r} was moved or removed "
        "during the run (nothing was written)\n"
    )
    assert [p.name for p in moved.iterdir()] == ["out.tsv"]  # the old file, and no .tmp
    assert (moved / "out.tsv").read_text() == "old\n"
    assert not folder.exists()


def test_a_folder_removed_during_the_write_is_an_error(
    env: CliEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    folder = tmp_path / "results"
    folder.mkdir()
    real_write = output._write

    def write_then_remove(*args: object, **kwargs: object) -> None:
        real_write(*args, **kwargs)  # type: ignore[arg-type]
        shutil.rmtree(folder)

    monkeypatch.setattr(output, "_write", write_then_remove)
    result = env.run(["entropy", "0.5,0.5", "-o", str(folder / "new.tsv")])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: -o {folder / 'new.tsv'}: the folder {str(folder)!r} was moved or removed "
        "during the run (nothing was written)\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- stdout that is not UTF-8 (the faked stream's encoding is ASCII) ------------------------------


@pytest.fixture
def named_csv(tmp_path: Path) -> Path:
    path = tmp_path / "named.csv"
    path.write_text("id,a,b\ncafé,0.5,0.5\n日本,0.2,0.8\n", encoding="utf-8")
    return path


def test_ascii_stdout_json_lines_and_tsv(env: CliEnv, named_csv: Path) -> None:
    lines = env.run(["entropy", str(named_csv), "--format", "jsonl"], charset="ascii")
    assert lines.exit_code == 0, lines.stderr
    assert [json.loads(line)["id"] for line in lines.stdout.splitlines()] == ["café", "日本"]
    assert lines.stdout_bytes.isascii()
    tsv = env.run(["entropy", str(named_csv)], charset="ascii")
    assert tsv.stdout.splitlines()[1:] == [
        "1\tcaf\\u00e9\t0.6931471805599453",
        "2\t\\u65e5\\u672c\t0.5004024235381879",
    ]


def test_ascii_stdout_table_is_transliterated(env: CliEnv, named_csv: Path) -> None:
    result = env.run(["kl", str(named_csv), "0.5,0.5", "--format", "table"], charset="ascii")
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.isascii()
    assert "D(P||Q)" in result.stdout
    assert "caf\\xe9" in result.stdout


def test_ascii_stderr_error_is_one_escaped_line(env: CliEnv, tmp_path: Path) -> None:
    env.monkeypatch.chdir(tmp_path)  # a short name: long labels are cut in messages
    result = env.run(["entropy", "données.csv"], charset="ascii")
    assert result.exit_code == 2
    assert result.stderr_bytes.isascii()
    assert result.stderr.startswith("xent: error: ") and result.stderr.count("\n") == 1
    assert "donn\\xe9es.csv" in result.stderr


def test_o_is_utf8_whatever_stdout_is(env: CliEnv, tmp_path: Path, named_csv: Path) -> None:
    out = tmp_path / "out.csv"
    assert env.run(["entropy", str(named_csv), "-o", str(out)], charset="ascii").exit_code == 0
    assert out.read_text(encoding="utf-8").splitlines()[1] == "1,café,0.6931471805599453"


# --- numbers at the edge of float64, where NumPy would warn (warnings are errors here) ---------------


@pytest.mark.parametrize(
    ("args", "value"),
    [
        (["kl", "0.9,0.1", "0.5,0.5", "--smooth", "1e308", "--value"], "0.36806420716849714"),
        (["kl", "0.9,0.1", "0.5,0.5", "--smooth", "1e300", "--value"], "0.36806420716849714"),
        (["kl", "--as", "logits", "--value", "--", "1e308,0", "0,1e308"], "1e+308"),
        (["kl", "--as", "logits", "--value", "--", "1e308,-1e308", "-1e308,1e308"], "inf"),
        (["entropy", "--as", "logits", "--value", "--", "1e308,-1e308"], "0.0"),
        (["compare", "--as", "logprobs", "--value", "--", "0,-1e308", "-1e308,0"], "1e+308"),
        (["js", "--as", "logits", "--value", "--", "1e308,-1e308", "-1e308,1e308"], "0.6931471805599453"),
        (["loss", "--as", "logits", "--target", "1", "--value", "--", "-1e308,1e308"], "0.0"),
    ],
)
def test_extreme_numbers_compute_without_a_warning(env: CliEnv, args: list[str], value: str) -> None:
    result = env.run(args)
    assert (result.exit_code, result.stdout.strip(), result.stderr) == (0, value, "")


def test_info_with_huge_weights(env: CliEnv, tmp_path: Path) -> None:
    joint = tmp_path / "joint.csv"
    joint.write_text("id,a,b\nx,1e308,1e308\ny,1e308,1e308\n")
    result = env.run(["info", str(joint), "--as", "weights", "--json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)["info"]
    assert info["h_xy"] == pytest.approx(2 * 0.6931471805599453, rel=1e-15)
    assert info["mi"] == 0.0
    probs = env.run(["info", str(joint)])
    assert probs.exit_code == 2
    assert "the table sums to more than 1.8e308, not 1 (use --as weights for counts)" in probs.stderr


# --- --rows 0: the summary alone -----------------------------------------------------------------


def test_rows_0_json_is_the_summary_alone(env: CliEnv, p_csv: Path) -> None:
    full = json.loads(env.run(["entropy", str(p_csv), "--json"]).stdout)
    summary_only = json.loads(env.run(["entropy", str(p_csv), "--json", "--rows", "0"]).stdout)
    assert "rows" not in summary_only
    del full["rows"]
    assert summary_only == full


def test_gate_lines_go_through_messages(env: CliEnv) -> None:
    result = env.run(["kl", "0.5,0.5", "0.9,0.1", "--fail-above", "0.1", "--value"])
    assert (result.exit_code, result.stdout) == (1, "0.5108256237659905\n")
    assert result.stderr == "xent: gate failed: kl mean 0.5108256237659905 > 0.1 (--fail-above 0.1)\n"


def test_transliterating_stream() -> None:
    buffer = io.StringIO()
    stream = output.Transliterating(buffer, "ascii")
    stream.write("D(P‖Q) · 1 … √JS █ é")
    assert buffer.getvalue() == "D(P||Q) - 1 ... sqrt JS # \\xe9"


def test_a_table_in_a_pipe_is_as_wide_as_columns_says(env: CliEnv) -> None:
    """120 columns in a pipe or a file, unless COLUMNS is set: then that, as on a terminal."""
    ids = ",".join(f"{i / 1000:.3f}" for i in range(1, 41))
    args = ["entropy", ids, "--normalize", "--explain", "--format", "table"]
    env.monkeypatch.delenv("COLUMNS", raising=False)
    wide = env.run(args)
    narrow = env.run(args, COLUMNS="60")
    assert wide.exit_code == narrow.exit_code == 0
    assert 60 < max(len(line) for line in wide.stdout.splitlines()) <= 120
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60
