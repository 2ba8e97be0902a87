"""Big inputs in many blocks: the same numbers as in memory, and errors that name their row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CliEnv
from tests.plans import NATS, run_entropy, run_pair, spec
from xent_cli import entropy, kl_divergence


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(21)
    p = rng.dirichlet(np.ones(7), size=20_011)  # a final partial block
    q = rng.dirichlet(np.ones(7), size=20_011)
    p_csv, q_npy = root / "p.csv", root / "q.npy"
    with p_csv.open("w") as handle:
        handle.write("id," + ",".join(f"c{i}" for i in range(7)) + "\n")
        for i, row in enumerate(p):
            handle.write(f"r{i}," + ",".join(repr(float(v)) for v in row) + "\n")
    np.save(q_npy, q)
    return {"p": p, "q": q, "p_csv": p_csv, "q_npy": q_npy}


@pytest.mark.parametrize("block_rows", [100, 1000, 65_536])
def test_entropy_streams_to_the_same_digits(data: dict[str, object], block_rows: int) -> None:
    result = run_entropy(
        spec(data["p_csv"], block_rows=block_rows),  # type: ignore[arg-type]
        unit=NATS,
        tolerance=1e-6,
    )
    # Big blocks take the fast kernels, whose values may differ from the library's careful
    # path in the last bit or two (tests/core/test_kernels.py holds them to it).
    np.testing.assert_allclose(result.headline.values, entropy(data["p"]), rtol=1e-14, atol=0)  # type: ignore[arg-type]
    assert result.ids is not None and result.ids[-1] == "r20010"


def test_two_sources_blocked_differently(data: dict[str, object]) -> None:
    result = run_pair(
        "kl",
        spec(data["p_csv"], block_rows=77),  # type: ignore[arg-type]
        spec(data["q_npy"], block_rows=1000),  # type: ignore[arg-type]
        unit=NATS,
        tolerance=1e-6,
        smoothing=None,
        join_ids=False,
    )
    expected = kl_divergence(data["p"], data["q"])  # type: ignore[arg-type]
    np.testing.assert_array_equal(result.headline.values, expected)


def test_summary_does_not_depend_on_blocks(env: CliEnv, data: dict[str, object]) -> None:
    doc = json.loads(env.run(["entropy", str(data["p_csv"]), "--json"]).stdout)
    values = entropy(data["p"])  # type: ignore[arg-type]
    assert doc["summary"]["sum"] == pytest.approx(float(np.sum(values)), rel=1e-15)
    assert doc["summary"]["count"] == 20_011


def test_bad_value_deep_in_a_big_file(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = ["a,b"] + ["0.25,0.75"] * 150_000
    lines[123_457] = "0.25,oops"
    path.write_text("\n".join(lines) + "\n")
    result = env.run(["entropy", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"xent: error: {path}: row 123457 (line 123458), column 2 ('b'): 'oops' is not a number "
        "(outcome columns must hold only numbers)\n"
    )


def test_ragged_row_deep_in_a_big_file(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = ["a,b"] + ["0.25,0.75"] * 150_000
    lines[140_001] = "0.25,0.75,0.5"
    path.write_text("\n".join(lines) + "\n")
    result = env.run(["entropy", str(path)])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"xent: error: {path}: line 140002: has 3 fields, expected 2 (every row needs the same number of columns)\n"
    )


def test_truncated_last_line(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_text("a,b\n" + "0.25,0.75\n" * 100_000 + "0.25,")
    result = env.run(["entropy", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"xent: error: {path}: row 100001 (line 100002), column 2 ('b'): value is missing"
    )


def test_truncated_npy(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "cut.npy"
    np.save(path, np.full((5000, 4), 0.25))
    path.write_bytes(path.read_bytes()[:-1000])
    result = env.run(["entropy", str(path)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"xent: error: {path}: ")


def test_a_bad_value_deep_in_a_big_csv_is_named_by_row_and_line(env: CliEnv, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    path = tmp_path / "p.csv"
    rows = rng.dirichlet(np.full(6, 0.3), size=60_000)
    np.savetxt(path, rows, delimiter=",", fmt="%.17g", header="a,b,c,d,e,f", comments="")
    lines = path.read_text().splitlines()
    lines[45_001] = lines[45_001].replace(lines[45_001].split(",")[2], "-0.5", 1)
    path.write_text("\n".join(lines) + "\n")
    bad = env.run(["entropy", str(path)])
    assert bad.exit_code == 2
    assert bad.stderr.startswith(f"xent: error: {path}: row 45001 (line 45002), column 3 ('c'): ")


@pytest.mark.parametrize("row_group_size", [777, 20_011])
def test_parquet_row_groups_and_batches_give_the_same_digits(
    env: CliEnv, tmp_path: Path, data: dict[str, object], row_group_size: int
) -> None:
    """Parquet and .npy are read in batches of the computation's block size (not cut and joined
    again); row groups that end mid-block still give every row once, in order."""
    import pandas as pd

    p_parquet = tmp_path / "p.parquet"
    pd.DataFrame(data["p"], columns=[f"c{i}" for i in range(7)]).to_parquet(  # type: ignore[call-overload]
        p_parquet, row_group_size=row_group_size
    )
    by_npy = env.json(["kl", str(data["p_csv"]), str(data["q_npy"]), "--rows", "0", "--worst", "3"])
    by_parquet = env.json(["kl", str(p_parquet), str(data["q_npy"]), "--rows", "0", "--worst", "3"])
    assert by_parquet["summary"] == by_npy["summary"]
    assert [w["value"] for w in by_parquet["worst"]] == [w["value"] for w in by_npy["worst"]]
    rows = env.run(["kl", str(p_parquet), str(data["q_npy"]), "--format", "tsv"]).stdout.splitlines()
    assert len(rows) == 20_012  # the header, then every row once
    values = np.array([float(r.split("\t")[-1]) for r in rows[1:]])
    csv_rows = env.run(["kl", str(data["p_csv"]), str(data["q_npy"]), "--format", "tsv"]).stdout.splitlines()
    np.testing.assert_array_equal(values, [float(r.split("\t")[-1]) for r in csv_rows[1:]])
    np.testing.assert_allclose(values, kl_divergence(data["p"], data["q"]), rtol=1e-14)  # type: ignore[arg-type]
