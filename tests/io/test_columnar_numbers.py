"""Parquet/Arrow columns to NumPy without pandas: the buffer views equal ``to_numpy``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xent_cli.io.columnar import _numbers

TYPES = [pa.float16(), pa.float32(), pa.float64(), pa.int8(), pa.int32(), pa.int64(), pa.uint8(), pa.uint64()]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=120), min_size=0, max_size=50),
    kind=st.sampled_from(TYPES),
    cut=st.tuples(st.integers(0, 10), st.integers(0, 10)),
    chunked=st.booleans(),
)
def test_views_equal_to_numpy(
    values: list[int], kind: pa.DataType, cut: tuple[int, int], chunked: bool
) -> None:
    array = pa.array(values, type=pa.int64()).cast(kind)
    lo, hi = cut[0], max(cut[0], len(values) - cut[1])
    sliced = array.slice(lo, hi - lo)
    column = pa.chunked_array([sliced, sliced]) if chunked else sliced
    expected = np.asarray(column.to_numpy())
    got = _numbers(column)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_nulls_and_other_types_still_convert() -> None:
    with_null = pa.array([1.0, None, 3.0])
    np.testing.assert_array_equal(_numbers(with_null), [1.0, np.nan, 3.0])
    np.testing.assert_array_equal(_numbers(pa.array([True, False])), [True, False])


@pytest.mark.parametrize("fmt", ["parquet"])
def test_parquet_never_imports_pandas(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(3)
    values = rng.dirichlet(np.ones(4), size=70_000)  # big enough for the kernels' blocks
    path = tmp_path / f"p.{fmt}"
    if fmt == "csv":
        np.savetxt(path, values, delimiter=",", fmt="%.17g", header="a,b,c,d", comments="")
    else:
        pq.write_table(pa.table({name: values[:, i] for i, name in enumerate("abcd")}), path)
    code = (
        "import sys\n"
        "from xent_cli.cli.app import main\n"
        f"sys.argv = ['xent', 'kl', {str(path)!r}, {str(path)!r}, '--value']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0.0", "False"], done.stdout + done.stderr
