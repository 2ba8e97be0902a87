"""Alignment of two sources (by column name, by position, by --id), broadcasting one-row sources,
one- and two-column tables, and blocks of P and Q that are split differently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import rel_entr

from tests.plans import NATS, kl, run_entropy, run_pair, spec
from xent_cli.errors import InputError
from xent_cli.results import Unit


def csv(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_columns_align_by_name(tmp_path: Path) -> None:
    p = csv(tmp_path, "p.csv", "a,b,c\n0.2,0.3,0.5\n")
    q = csv(tmp_path, "q.csv", "c,a,b\n0.25,0.25,0.5\n")
    expected = rel_entr([0.2, 0.3, 0.5], [0.25, 0.5, 0.25]).sum()
    assert kl(spec(p), spec(q))[0] == pytest.approx(expected, rel=1e-14)


def test_different_names_are_listed(tmp_path: Path) -> None:
    p = csv(tmp_path, "p.csv", "a,b\n0.5,0.5\n")
    q = csv(tmp_path, "q.csv", "a,c\n0.5,0.5\n")
    with pytest.raises(InputError) as info:
        kl(spec(p), spec(q))
    assert info.value.message == f"{p} and {q} have different outcomes (only in {p}: 'b'; only in {q}: 'c')"


def test_one_row_q_broadcasts_and_one_row_p_too(tmp_path: Path) -> None:
    p = csv(tmp_path, "p.csv", "0.5,0.5\n0.9,0.1\n0.1,0.9\n")
    values = kl(spec(p), spec("0.5,0.5"))
    np.testing.assert_allclose(values, rel_entr([[0.5, 0.5], [0.9, 0.1], [0.1, 0.9]], 0.5).sum(axis=1))
    reverse = kl(spec("0.5,0.5"), spec(p))
    assert reverse.shape == (3,)


def test_row_counts_must_match(tmp_path: Path) -> None:
    p = csv(tmp_path, "p.csv", "0.5,0.5\n0.9,0.1\n0.1,0.9\n")
    q = csv(tmp_path, "q.csv", "0.5,0.5\n0.9,0.1\n")
    with pytest.raises(InputError, match=r"p.csv has 3 rows but .*q.csv has 2"):
        kl(spec(p), spec(q))
    with pytest.raises(InputError, match=r"q.csv has 2 rows but .*p.csv has 3"):
        kl(spec(q), spec(p))


def test_width_must_match(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has 2 outcomes but 0.2,0.3,0.5 has 3"):
        kl(spec("0.5,0.5"), spec("0.2,0.3,0.5"))


def test_id_join(tmp_path: Path) -> None:
    p = csv(tmp_path, "p.csv", "id,a,b\nx,0.5,0.5\ny,0.9,0.1\n")
    q = csv(tmp_path, "q.csv", "id,a,b\ny,0.8,0.2\nx,0.4,0.6\n")
    values = kl(spec(p, id_column="id"), spec(q, id_column="id"), join_ids=True)
    expected = rel_entr([[0.5, 0.5], [0.9, 0.1]], [[0.4, 0.6], [0.8, 0.2]]).sum(axis=1)
    np.testing.assert_allclose(values, expected, rtol=1e-14)


@pytest.mark.parametrize(
    ("q_text", "message"),
    [
        ("id,a,b\nx,0.4,0.6\n", "row 2 \\(line 3\\): id 'y' is not in"),
        ("id,a,b\nx,0.4,0.6\ny,0.8,0.2\nz,0.5,0.5\n", "1 id\\(s\\) are not in .*'z'"),
        ("id,a,b\nx,0.4,0.6\nx,0.8,0.2\n", "id 'x' appears more than once"),
    ],
)
def test_id_join_errors(tmp_path: Path, q_text: str, message: str) -> None:
    p = csv(tmp_path, "p.csv", "id,a,b\nx,0.5,0.5\ny,0.9,0.1\n")
    q = csv(tmp_path, "q.csv", q_text)
    with pytest.raises(InputError, match=message):
        kl(spec(p, id_column="id"), spec(q, id_column="id"), join_ids=True)


def test_one_column_table_is_one_distribution(tmp_path: Path) -> None:
    path = csv(tmp_path, "w.csv", "outcome,p\nsunny,0.5\ncloudy,0.25\nrain,0.25\n")
    result = run_entropy(spec(path), unit=Unit.parse("2"), tolerance=1e-6)
    assert result.headline.values.tolist() == [1.5]


def test_one_column_errors_name_the_file_row(tmp_path: Path) -> None:
    path = csv(tmp_path, "w.csv", "outcome,p\nsunny,0.5\ncloudy,-0.25\nrain,0.75\n")
    with pytest.raises(InputError) as info:
        run_entropy(spec(path), unit=NATS, tolerance=1e-6)
    assert info.value.message == f"{path}: row 2 (line 3): value -0.25 is negative"


def test_two_numeric_columns_are_p_and_q(tmp_path: Path) -> None:
    path = csv(tmp_path, "t.csv", "o,p,q\na,0.5,0.25\nb,0.5,0.75\n")
    result = run_pair("kl", spec(path), None, unit=NATS, tolerance=1e-6, smoothing=None, join_ids=False)
    assert result.sources == {"p": f"{path}[p]", "q": f"{path}[q]"}
    assert result.headline.values[0] == pytest.approx(rel_entr([0.5, 0.5], [0.25, 0.75]).sum(), rel=1e-14)


def test_validation_error_names_source_row_and_line(tmp_path: Path) -> None:
    p = csv(tmp_path, "p.csv", "id,a,b\nx,0.5,0.5\ny,0.9,0.2\n")
    with pytest.raises(InputError) as info:
        kl(spec(p), spec("0.5,0.5"))
    assert str(info.value) == f"{p}: row 2 (line 3): values sum to 1.1, not 1 (use --normalize to rescale)"


@pytest.mark.parametrize("block_rows", [1, 7, 64, 1000])
def test_streaming_equals_in_memory(tmp_path: Path, block_rows: int) -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=300)
    q = rng.dirichlet(np.ones(5), size=300)
    p_path = tmp_path / "p.csv"
    q_path = tmp_path / "q.jsonl"
    p_path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in p) + "\n")
    q_path.write_text("\n".join("[" + ",".join(repr(float(v)) for v in row) + "]" for row in q) + "\n")
    # P and Q blocks split differently: Q is read in blocks of 3
    streamed = kl(spec(str(p_path), block_rows=block_rows), spec(str(q_path), block_rows=3))
    from xent_cli import kl_divergence

    np.testing.assert_array_equal(streamed, kl_divergence(p, q))


@pytest.mark.parametrize("block_rows", [997, 65_536])
def test_two_csvs_read_side_by_side_pair_as_in_memory(tmp_path: Path, block_rows: int) -> None:
    """P and Q each parsed on a thread of their own, P with a blank line deep in it: the rows
    pair up as in memory."""
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(4), size=20_000)
    q = rng.dirichlet(np.ones(4), size=20_000)
    p_lines = [",".join(repr(float(v)) for v in row) for row in p]
    p_lines.insert(15_000, "")  # a blank line: skipped, as pandas skips it
    p_path = tmp_path / "p.csv"
    p_path.write_text("a,b,c,d\n" + "\n".join(p_lines) + "\n")
    q_path = tmp_path / "q.csv"
    q_path.write_text("a,b,c,d\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in q) + "\n")
    from xent_cli import kl_divergence

    expected = kl_divergence(p, q)
    result = kl(spec(p_path, block_rows=block_rows), spec(q_path, block_rows=block_rows))
    np.testing.assert_allclose(result, expected, rtol=1e-13)


def test_a_bad_cell_deep_in_q_is_named_when_both_are_read_side_by_side(tmp_path: Path) -> None:
    good = "0.25,0.25,0.5\n" * 30_000
    p = csv(tmp_path, "p.csv", "a,b,c\n" + good)
    q = csv(tmp_path, "q.csv", "a,b,c\n" + good[: 14 * 20_000] + "0.25,NA,0.5\n" + good[14 * 20_001 :])
    with pytest.raises(InputError) as info:
        kl(spec(p, block_rows=4096), spec(q, block_rows=4096))
    assert info.value.message.startswith(f"{q}: row 20001 (line 20002), column 2 ('b')")
