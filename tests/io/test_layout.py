"""The layout rule itself: pure decisions on described samples, many shapes, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xent_cli.errors import InputError, UsageError
from xent_cli.io import layout as rule
from xent_cli.io.table import ReadOptions


def text_sample(text: str, label: str = "t.csv") -> rule.Sample:
    """A sample as the CSV reader describes it: the first line, then the data rows."""
    lines = [line.split(",") for line in text.strip().splitlines()]
    first, body = lines[0], lines[1:]
    kinds, values = rule.classify(body, len(first))
    return rule.Sample(label, "csv", kinds, values, first_line=first, cells=body, complete=True)


def decide(text: str, **options: object) -> rule.Layout:
    return rule.decide(text_sample(text), ReadOptions(**options))  # type: ignore[arg-type]


# --- cells ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "kind"),
    [
        ("0", rule.INT),
        ("-12", rule.INT),
        ("+3", rule.INT),
        ("0.5", rule.DEC),
        ("1e-3", rule.DEC),
        (".5", rule.DEC),
        ("5.", rule.DEC),
        ("inf", rule.DEC),
        ("NaN", rule.DEC),
        ("NA", rule.EMPTY),
        ("", rule.EMPTY),
        ("  ", rule.EMPTY),
        ("abc", rule.TEXT),
        ("1_000", rule.TEXT),
        ("١", rule.TEXT),
        ("0x10", rule.TEXT),
        ("img-001", rule.TEXT),
    ],
)
def test_cell_kinds(cell: str, kind: int) -> None:
    assert rule.cell_kind(cell) == kind


def test_decimal_comma_cells() -> None:
    assert rule.cell_kind("0,25", ",") == rule.DEC
    assert rule.cell_kind("0.25", ",") == rule.TEXT
    assert rule.cell_kind("3", ",") == rule.INT


def test_classify_fast_and_slow_rows_agree() -> None:
    rows = [["0.5", "1", "2e-3", "-4"], ["0.5", "abc", "", "1_0"]]
    kinds, values = rule.classify(rows, 4)
    assert kinds.tolist() == [
        [rule.DEC, rule.INT, rule.DEC, rule.INT],
        [rule.DEC, rule.TEXT, rule.EMPTY, rule.TEXT],
    ]
    assert values[0].tolist() == [0.5, 1.0, 0.002, -4.0]
    assert np.isnan(values[1, 1:]).all()


# --- 3. labels ----------------------------------------------------------------------------------------


def test_label_named_integers_beside_decimals() -> None:
    layout = decide("a,b,label\n0.2,0.8,1\n0.5,0.5,0")
    assert layout.outcomes == [0, 1] and layout.labels == [2]
    assert "column 'label' holds labels" in layout.notes[0]


def test_unnamed_integers_beside_probabilities_by_the_row_sum() -> None:
    layout = decide("a,b,k\n0.2,0.8,1\n0.5,0.5,2\n0.1,0.9,1")
    assert layout.outcomes == [0, 1] and layout.labels == [2]


def test_integer_column_that_sums_with_the_rest_is_an_outcome() -> None:
    # R writes probability 0 and 1 without ".0": all numeric columns sum to 1.
    layout = decide("a,b,c\n0.2,0.8,0\n0,1,0\n0.5,0.5,0")
    assert layout.outcomes == [0, 1, 2] and layout.labels == [] and layout.notes == []
    # Should a later row not sum to 1, the hint names the integer column, never --normalize.
    assert layout.sum_hint == "column 'c' holds integers and looks like labels: use --columns a,b"


def test_all_integer_counts_keep_every_column() -> None:
    layout = decide("a,b,label\n3,4,1\n2,5,0", kind="weights")
    assert layout.outcomes == [0, 1, 2]


def test_weak_candidates_for_logits_need_class_indices() -> None:
    as_labels = decide("a,b,c,k\n1.5,-0.2,0.3,2\n0.1,2.5,-1.0,1", kind="logits")
    assert as_labels.labels == [3]
    as_outcome = decide("a,b,c,k\n1.5,-0.2,0.3,7\n0.1,2.5,-1.0,-3", kind="logits")
    assert as_outcome.outcomes == [0, 1, 2, 3]


def test_sum_hint_names_the_suspect_not_normalize() -> None:
    layout = decide("a,b,k\n0.2,0.6,1\n0.5,0.3,1")  # no subset sums to 1
    assert layout.sum_hint == "column 'k' holds integers and looks like labels: use --columns a,b"
    index = decide("a,b,k\n0.2,0.6,1\n0.5,0.3,2")
    assert (
        index.sum_hint == "column 'k' holds integers and looks like a row index: use --columns a,b or --id k"
    )
    predictions = decide("a,b,k\n0.2,0.6,1\n0.5,0.3,1", role="predictions")
    assert (
        predictions.sum_hint
        == "column 'k' holds integers and looks like labels: use --columns a,b or --target k"
    )


def test_plain_probabilities_have_no_sum_hint() -> None:
    assert decide("a,b\n0.2,0.6\n0.5,0.3").sum_hint is None


def test_text_columns_predictions_and_ignored() -> None:
    layout = decide("id,note,a,b\nr1,ok,0.5,0.5", role="predictions")
    assert layout.labels == [1] and "--target candidates" in layout.notes[0]
    plain = decide("id,note,a,b\nr1,ok,0.5,0.5")
    assert plain.ignored == [1] and plain.notes == ["t.csv: ignoring non-numeric column(s) note"]


def test_target_column_is_the_label() -> None:
    layout = decide("a,b,t\n0.2,0.8,1\n0.5,0.5,-100", label_column="t", role="predictions")
    assert layout.label == 2 and layout.outcomes == [0, 1] and layout.notes == []


def test_joint_table_with_text_columns_is_samples() -> None:
    with pytest.raises(InputError, match="for samples, name two label columns: --x forecast --y actual"):
        decide("day,forecast,actual\n1,sun,sun\n2,rain,sun", role="joint")


def test_joint_table_row_labels_by_the_table_sum() -> None:
    layout = decide("day,sun,rain\n1,0.25,0.25\n2,0.25,0.25", role="joint")
    assert layout.id == 0 and layout.outcomes == [1, 2]


def test_trailing_delimiter_column_is_ignored() -> None:
    layout = decide("a,b,\n0.5,0.5,\n0.3,0.7,")
    assert layout.outcomes == [0, 1] and layout.ignored == [2]


# --- options ------------------------------------------------------------------------------------------


def test_columns_option_and_duplicates() -> None:
    layout = decide("name,x,cat,dog\nr1,9,0.2,0.8", columns=("dog", "cat"), id_column="name")
    assert layout.outcomes == [3, 2] and layout.id == 0
    with pytest.raises(UsageError, match="--columns: 'cat' is given twice"):
        decide("cat,dog\n0.2,0.8", columns=("cat", "cat"))


def test_no_numeric_columns() -> None:
    with pytest.raises(InputError, match="has no numeric columns"):
        decide("a,b\nx,y\nz,w")


def test_record_is_json_ready() -> None:
    import json

    layout = decide(",cat,dog,y\n0,0.2,0.8,1\n1,0.5,0.5,0")
    record = layout.record("csv")
    assert record == {
        "format": "csv",
        "header": True,
        "id": "column 1",
        "outcomes": ["cat", "dog"],
        "labels": ["y"],
        "ignored": [],
    }
    json.dumps(record)


# --- properties -------------------------------------------------------------------------------------------


@st.composite
def probability_tables(draw: st.DrawFn) -> np.ndarray:
    rows = draw(st.integers(2, 30))
    k = draw(st.integers(2, 6))
    weights = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=rows * k, max_size=rows * k)))
    matrix = weights.reshape(rows, k)
    return matrix / matrix.sum(axis=1, keepdims=True)


def _csv(header: list[str], body: list[list[str]]) -> str:
    return "\n".join(",".join(row) for row in [header, *body])


@settings(max_examples=60, deadline=None)
@given(p=probability_tables(), with_index=st.booleans(), integer_names=st.booleans(), label=st.booleans())
def test_pandas_shapes_always_find_the_probabilities(
    p: np.ndarray, with_index: bool, integer_names: bool, label: bool
) -> None:
    """Whatever pandas writes around them, the outcome columns are exactly the probabilities."""
    k = p.shape[1]
    names = [str(i) for i in range(k)] if integer_names else [f"c{i}" for i in range(k)]
    body = [[repr(float(v)) for v in row] for row in p]
    header = list(names)
    if label:
        y = [str((i * 7) % k) for i in range(p.shape[0])]
        header.append("label")
        body = [[*row, y[i]] for i, row in enumerate(body)]
    if with_index:
        header.insert(0, "")
        body = [[str(i), *row] for i, row in enumerate(body)]
    layout = decide(_csv(header, body))
    offset = 1 if with_index else 0
    assert layout.header
    assert layout.outcomes == list(range(offset, offset + k))
    assert layout.id == (0 if with_index else None)
    assert layout.labels == ([offset + k] if label else [])


@settings(max_examples=60, deadline=None)
@given(p=probability_tables())
def test_headerless_probabilities_stay_data(p: np.ndarray) -> None:
    layout = decide(_csv([repr(float(v)) for v in p[0]], [[repr(float(v)) for v in row] for row in p[1:]]))
    assert not layout.header and layout.outcomes == list(range(p.shape[1])) and layout.notes == []
