"""List columns: one list of numbers per row is one distribution (Parquet, Feather, Arrow, JSON Lines).

Every file is written by the real library (pyarrow, pandas, polars when installed) and
xent's number is checked against SciPy on the values as written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from scipy.special import softmax
from scipy.stats import entropy

from tests.conftest import CliEnv
from xent_cli.io.readers import ReadOptions, read
from xent_cli.io.sources import Source

RNG = np.random.default_rng(24)
P = RNG.dirichlet(np.ones(6), size=40)
Q = RNG.dirichlet(np.ones(6), size=40)
Y = RNG.integers(0, 6, size=40)


def _lists(values: np.ndarray) -> list[list[float]]:
    return [list(map(float, row)) for row in values]


def _parquet_list(path: Path) -> np.ndarray:
    pq.write_table(pa.table({"probs": _lists(P)}), path)
    return P


def _parquet_float32_beside_id_and_weight(path: Path) -> np.ndarray:
    probs = pa.array(_lists(P), type=pa.list_(pa.float32()))
    pq.write_table(pa.table({"id": np.arange(40), "probs": probs, "weight": RNG.random(40)}), path)
    return P.astype(np.float32).astype(np.float64)


def _parquet_fixed_size(path: Path) -> np.ndarray:
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(P.ravel()), 6)
    pq.write_table(pa.table({"probs": fixed}), path)
    return P


def _parquet_large_list(path: Path) -> np.ndarray:
    pq.write_table(pa.table({"probs": pa.array(_lists(P), type=pa.large_list(pa.float64()))}), path)
    return P


def _feather_file(path: Path) -> np.ndarray:
    feather.write_feather(pa.table({"name": [f"r{i}" for i in range(40)], "probs": _lists(P)}), str(path))
    return P


def _arrow_stream(path: Path) -> np.ndarray:
    table = pa.table({"probs": _lists(P)})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=7)  # several record batches
    return P


def _pandas_json_lines(path: Path) -> np.ndarray:
    frame = pd.DataFrame({"id": range(40), "probs": _lists(P)})
    frame.to_json(path, orient="records", lines=True)
    return np.array([json.loads(line)["probs"] for line in path.read_text().splitlines()])


def _pandas_json_records(path: Path) -> np.ndarray:
    frame = pd.DataFrame({"id": range(40), "probs": _lists(P)})
    frame.to_json(path, orient="records")
    return np.array([row["probs"] for row in json.loads(path.read_text())])


def _pandas_parquet(path: Path) -> np.ndarray:
    pd.DataFrame({"probs": _lists(P)}, index=pd.Index(range(100, 140), name="row")).to_parquet(path)
    return P


WRITERS: dict[str, tuple[str, Callable[[Path], np.ndarray]]] = {
    "parquet list<double>": ("parquet", _parquet_list),
    "parquet list<float> + id + weight": ("parquet", _parquet_float32_beside_id_and_weight),
    "parquet fixed_size_list": ("parquet", _parquet_fixed_size),
    "parquet large_list": ("parquet", _parquet_large_list),
    "pandas parquet with index": ("parquet", _pandas_parquet),
    "feather file": ("feather", _feather_file),
    "arrow stream": ("arrows", _arrow_stream),
    "pandas json lines": ("jsonl", _pandas_json_lines),
    "pandas json records": ("json", _pandas_json_records),
}


@pytest.mark.parametrize("case", list(WRITERS))
def test_entropy_of_a_list_column_equals_scipy(env: CliEnv, tmp_path: Path, case: str) -> None:
    extension, write = WRITERS[case]
    path = tmp_path / f"p.{extension}"
    written = write(path)
    result = env.run(["entropy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    got = np.array([row["value"] for row in doc["rows"]])
    np.testing.assert_allclose(got, entropy(written, axis=1), rtol=1e-12)
    assert doc["summary"]["count"] == 40


def test_json_layout_names_the_list_column(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    _parquet_float32_beside_id_and_weight(path)
    result = env.run(["entropy", str(path), "--json"])
    doc = json.loads(result.stdout)
    layout = doc["layout"]["p"] if "p" in doc.get("layout", {}) else doc["layout"]
    assert layout["list"] == "probs"
    assert layout["outcomes"] == 6
    assert layout["id"] == "id"
    assert layout["ignored"] == ["weight"]
    assert doc["rows"][3]["id"] == "3"
    assert (
        f"xent: note: {path}: the outcomes are the lists in column 'probs'; column 'weight' left out "
        "(--columns to choose)\n"
    ) in result.stderr


def test_polars_files(env: CliEnv, tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"id": list(range(40)), "probs": _lists(P)})
    arrays = pl.DataFrame({"probs": P})  # a fixed-width Array column
    frame.write_parquet(tmp_path / "a.parquet")
    frame.write_ndjson(tmp_path / "a.ndjson")
    frame.write_ipc(tmp_path / "a.arrow")
    arrays.write_parquet(tmp_path / "b.parquet")
    for name in ("a.parquet", "a.ndjson", "a.arrow", "b.parquet"):
        result = env.run(["entropy", str(tmp_path / name), "--value"])
        assert result.exit_code == 0, (name, result.output)
        assert float(result.stdout) == pytest.approx(entropy(P, axis=1).mean(), rel=1e-12), name


def test_logits_list_column_as_logits(env: CliEnv, tmp_path: Path) -> None:
    logits = RNG.normal(size=(40, 6)) * 3
    path = tmp_path / "z.feather"
    feather.write_feather(pa.table({"logits": _lists(logits)}), str(path))
    result = env.run(["entropy", str(path), "--as", "logits", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(entropy(softmax(logits, axis=1), axis=1).mean(), rel=1e-12)


def test_loss_with_a_label_column_beside_a_list_column(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "pred.parquet"
    pq.write_table(pa.table({"probs": _lists(P), "label": Y}), path)
    result = env.run(["loss", str(path), "--target", "label", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(-np.log(P[np.arange(40), Y]).mean(), rel=1e-12)


def test_kl_of_a_list_column_against_a_csv(env: CliEnv, tmp_path: Path) -> None:
    p_path, q_path = tmp_path / "p.jsonl", tmp_path / "q.csv"
    p_path.write_text("".join(json.dumps({"probs": list(map(float, r))}) + "\n" for r in P))
    pd.DataFrame(Q).to_csv(q_path, index=False)
    result = env.run(["kl", str(p_path), str(q_path), "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(entropy(P, Q, axis=1).mean(), rel=1e-12)


def test_rows_of_unequal_length_name_the_row(env: CliEnv, tmp_path: Path) -> None:
    parquet = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"probs": [[0.5, 0.5], [0.25, 0.75], [0.2, 0.3, 0.5]]}), parquet)
    result = env.run(["entropy", str(parquet)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {parquet}: row 3, column 'probs': the list holds 3 values, but row 1's holds 2 "
        "(every row's list needs one value per outcome)\n"
    )
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"probs": [0.5, 0.5]}\n{"probs": [1.0]}\n')
    result = env.run(["entropy", str(lines)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {lines}: row 2 (line 2): 'probs' holds 1 values, but row 1's holds 2 "
        "(every row's list needs one value per outcome)\n"
    )


def test_a_missing_list_or_item_names_the_row(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "null.parquet"
    pq.write_table(pa.table({"probs": [[0.5, 0.5], None]}), path)
    result = env.run(["entropy", str(path)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {path}: row 2, column 'probs': the list is missing (fill it in or remove the row)\n"
    )
    path = tmp_path / "item.parquet"
    pq.write_table(pa.table({"probs": [[0.5, 0.5], [0.5, None]]}), path)
    result = env.run(["entropy", str(path)])
    assert result.stderr == (
        f"xent: error: {path}: row 2, column 'probs': item 2 is missing (fill it in or remove the row)\n"
    )


def test_two_list_columns_need_columns(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "two.parquet"
    pq.write_table(pa.table({"p": _lists(P), "q": _lists(Q)}), path)
    result = env.run(["entropy", str(path)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"xent: error: {path}: has 2 list columns ('p', 'q'); any of them could be the outcomes "
        "(choose one: --columns p)\n"
    )
    chosen = env.run(["entropy", str(path), "--columns", "q", "--value"])
    assert chosen.exit_code == 0, chosen.output
    assert float(chosen.stdout) == pytest.approx(entropy(Q, axis=1).mean(), rel=1e-12)


def test_list_column_is_read_in_record_batches(tmp_path: Path) -> None:
    """Streamed: a 5,000-row file arrives as blocks of the computation's size, not whole."""
    values = RNG.dirichlet(np.ones(4), size=5000)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"probs": _lists(values)}), path, row_group_size=1000)
    table = read(Source(label=str(path), path=path), ReadOptions(block_rows=512))
    try:
        blocks = list(table.blocks())
    finally:
        table.close()
    assert max(len(b) for b in blocks) == 512
    np.testing.assert_array_equal(np.concatenate([b.values for b in blocks]), values)
    assert [b.start for b in blocks] == list(range(0, 5000, 512))


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_messages_for_binary_and_json_never_suggest_delimiter(env: CliEnv, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"t.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.table({"a": ["x", "y"], "b": ["u", "v"]}), path)
    else:
        path.write_text('{"a": "x", "b": "u"}\n{"a": "y", "b": "v"}\n')
    result = env.run(["entropy", str(path)])
    assert result.exit_code == 2
    assert "--delimiter" not in result.stderr and "--decimal" not in result.stderr
    assert result.stderr == (
        f"xent: error: {path}: has no numeric columns "
        "(a table needs columns of numbers, or one column of lists of numbers)\n"
    )


# --- the values' type decides, never the encoding ---------------------------------------------


def test_dictionary_encoded_floats_are_outcomes_not_the_id(env: CliEnv, tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": RNG.normal(size=30).round(1), "b": RNG.normal(size=30)})
    truth = entropy(softmax(frame.to_numpy(), axis=1), axis=1).mean()
    frame["a"] = frame["a"].astype("category")
    path = tmp_path / "f.feather"
    frame.to_feather(path)
    assert pa.types.is_dictionary(feather.read_table(path).schema.field("a").type)
    result = env.run(["entropy", str(path), "--as", "logits", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["summary"]["mean"] == pytest.approx(truth, rel=1e-12)
    layout = doc["layout"]["p"] if "p" in doc.get("layout", {}) else doc["layout"]
    assert layout["id"] is None and layout["outcomes"] == ["a", "b"]


def test_float16_decimal_and_integer_columns_by_value_type(env: CliEnv, tmp_path: Path) -> None:
    half = np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float16)
    table = pa.table(
        {
            "x": pa.array(half[:, 0]),
            "y": pa.array([Decimal("0.75"), Decimal("0.50")], type=pa.decimal128(4, 2)),
            "z": pa.array([0, 0], type=pa.int8()),
        }
    )
    path = tmp_path / "mixed.parquet"
    pq.write_table(table, path)
    result = env.run(["entropy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["value"] for r in doc["rows"]] == pytest.approx(
        list(entropy([[0.25, 0.75], [0.5, 0.5]], axis=1))
    )


def test_a_struct_column_is_named_in_an_error_never_the_id(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "s.feather"
    feather.write_feather(pa.table({"meta": [{"k": 1}, {"k": 2}], "x": [0.3, 0.7]}), str(path))
    result = env.run(["entropy", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {path}: column 'meta' holds struct<k: int64> values, neither numbers nor labels "
        "(choose the outcome columns with --columns)\n"
    )
    chosen = env.run(["entropy", str(path), "--columns", "x", "--value"])
    assert chosen.exit_code == 0, chosen.output
    assert float(chosen.stdout) == pytest.approx(entropy([0.3, 0.7]), rel=1e-12)


def test_a_json_object_column_is_named_in_an_error(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "meta.jsonl"
    path.write_text('{"meta": {"k": 1}, "a": 0.5, "b": 0.5}\n{"meta": {"k": 2}, "a": 0.2, "b": 0.8}\n')
    result = env.run(["entropy", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"xent: error: {path}: column 'meta' holds nested values (objects, lists of text), neither numbers "
        "nor labels (choose the outcome columns with --columns)\n"
    )
    # beside a list column it is left out, with a note
    listed = tmp_path / "listed.jsonl"
    listed.write_text('{"meta": {"k": 1}, "probs": [0.5, 0.5]}\n{"meta": {"k": 2}, "probs": [0.2, 0.8]}\n')
    result = env.run(["entropy", str(listed), "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(entropy([[0.5, 0.5], [0.2, 0.8]], axis=1).mean(), rel=1e-12)
    assert "column 'meta' left out" in result.stderr


def test_an_extension_type_is_classified_by_what_it_stores(env: CliEnv, tmp_path: Path) -> None:
    uuids = pa.ExtensionArray.from_storage(pa.uuid(), pa.array([b"a" * 16, b"b" * 16], pa.binary(16)))
    path = tmp_path / "u.parquet"
    pq.write_table(pa.table({"key": uuids, "probs": [[0.5, 0.5], [0.2, 0.8]]}), path)
    result = env.run(["entropy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    layout = doc["layout"]["p"] if "p" in doc.get("layout", {}) else doc["layout"]
    assert layout["id"] == "key" and layout["list"] == "probs"


def test_wide_json_lines_sample_fewer_rows_and_read_them_all(tmp_path: Path) -> None:
    """A vocabulary-wide list a line: the layout samples by cells, blocks are the compute size."""
    wide = RNG.dirichlet(np.ones(300), size=1500)
    path = tmp_path / "wide.jsonl"
    path.write_text(
        "".join(json.dumps({"id": i, "probs": row.tolist()}) + "\n" for i, row in enumerate(wide))
    )
    table = read(Source(label=str(path), path=path), ReadOptions(block_elements=300 * 100))
    try:
        blocks = list(table.blocks())
    finally:
        table.close()
    assert max(len(b) for b in blocks) == 100
    np.testing.assert_array_equal(np.concatenate([b.values for b in blocks]), wide)
    assert [i for b in blocks for i in (b.ids or [])] == [str(i) for i in range(1500)]


def test_wide_parquet_lists_sample_a_few_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xent_cli.io import columnar

    wide = RNG.dirichlet(np.ones(50), size=300)
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"probs": _lists(wide)}), path)
    sizes: list[int] = []
    original = columnar._Reader.sample

    def spy(self: columnar._Reader, rows: int = 2000) -> object:
        sizes.append(rows)
        return original(self, rows)

    monkeypatch.setattr(columnar._Reader, "sample", spy)
    table = read(Source(label=str(path), path=path), ReadOptions())
    try:
        values = np.concatenate([b.values for b in table.blocks()])
    finally:
        table.close()
    assert sizes == [columnar._LIST_SAMPLE_ROWS]
    np.testing.assert_array_equal(values, wide)


@pytest.mark.parametrize("orient", ["split", "records", "index", "columns", "table", "values"])
def test_every_pandas_orient_of_a_list_column(env: CliEnv, tmp_path: Path, orient: str) -> None:
    frame = pd.DataFrame({"probs": _lists(P[:8]), "w": np.arange(8.0)}, index=range(20, 28))
    path = tmp_path / f"{orient}.json"
    frame.to_json(path, orient=orient)
    result = env.run(["entropy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    written = [row for row in pd.read_json(path, orient=orient)["probs" if orient != "values" else 0]]
    np.testing.assert_allclose(
        [r["value"] for r in doc["rows"]], entropy(np.array(written), axis=1), rtol=1e-12
    )
    if orient not in ("records", "values"):
        assert [r["id"] for r in doc["rows"]] == [str(i) for i in range(20, 28)]
