"""Rules 1 and 2 of the layout rule (the header, the id) and the column tests the rules ask.

The decisions are checked through :func:`xent_cli.io.layout.decide`, as readers call it;
the column tests directly, on hand-made samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.io.test_layout import decide, text_sample
from xent_cli.errors import InputError
from xent_cli.io import layout as rule
from xent_cli.io import layout_evidence
from xent_cli.io.table import ReadOptions

# --- 1. header --------------------------------------------------------------------------------


def test_text_header_above_numbers() -> None:
    layout = decide("cat,dog\n0.2,0.8\n0.5,0.5")
    assert layout.header and layout.outcome_names == ["cat", "dog"] and layout.notes == []


def test_integer_header_above_decimals_is_a_header_with_a_note() -> None:
    layout = decide("0,1,2\n0.2,0.3,0.5\n0.1,0.1,0.8")
    assert layout.header and layout.outcome_names == ["0", "1", "2"]
    assert layout.notes == [
        "t.csv: first line (0,1,2) taken as the header (integer class names above decimal data); "
        "--no-header to read it as data"
    ]


def test_binary_header_0_1_is_a_header() -> None:
    assert decide("0,1\n0.3,0.7\n0.9,0.1").header


def test_increasing_integers_of_any_start_above_decimals() -> None:
    assert decide("3,7,12\n0.2,0.3,0.5").outcome_names == ["3", "7", "12"]


def test_repeated_integers_above_decimals_are_data() -> None:
    # a one-hot row: from three outcomes on it repeats a 0, which class names cannot
    layout = decide("1,0,0\n0.2,0.3,0.5")
    assert not layout.header and layout.names is None


@pytest.mark.parametrize("first", ["1,0", "2,0,1", "10,3,7"])
def test_distinct_integers_in_any_order_above_decimals_are_a_header(first: str) -> None:
    # pandas writes a frame's integer column names as they stand: pd.DataFrame(p, columns=[1, 0])
    layout = decide(f"{first}\n" + "\n".join([",".join(["0.25"] * first.count(",")) + ",0.5"] * 3))
    assert layout.header and layout.outcome_names == first.split(",")
    assert layout.notes == [
        f"t.csv: first line ({first}) taken as the header (integer class names above decimal data); "
        "--no-header to read it as data"
    ]


def test_one_hot_under_0_1_is_ambiguous() -> None:
    with pytest.raises(InputError, match=r"t.csv: the first line \(0,1\) may be a header") as info:
        decide("0,1\n1,0\n0,1")
    assert info.value.hint == "say which: --header, or --no-header"


@pytest.mark.parametrize("header", [True, False])
def test_header_options_resolve_the_ambiguity(header: bool) -> None:
    layout = decide("0,1\n1,0\n0,1", header=header)
    assert layout.header is header


def test_no_header_alias() -> None:
    assert not decide("a,b\n0.5,0.5", no_header=True).header


def test_integer_labels_under_0_are_data_for_a_labels_file() -> None:
    layout = decide("0\n1\n1\n0", role="labels")
    assert not layout.header and layout.label == 0


def test_numbers_only_with_no_header() -> None:
    layout = decide("0.2,0.8\n0.5,0.5")
    assert not layout.header and layout.outcomes == [0, 1]


def test_a_stray_word_does_not_make_an_id() -> None:
    # "oops" in the first data row: column a is still numbers (half its cells), an outcome.
    layout = decide("a,b\noops,0.5\n0.3,0.5")
    assert layout.header and layout.id is None and layout.outcomes == [0, 1]


def test_text_header_above_text_columns() -> None:
    assert decide("x,y\nsun,rain\nrain,sun", role="samples").header
    assert not decide("cat\ndog\ncat", role="labels").header


def test_duplicate_header_names_are_an_error() -> None:
    with pytest.raises(InputError, match="outcome 'a' appears twice"):
        decide("a,a\n0.5,0.5")


def test_single_line_of_names_has_no_rows() -> None:
    with pytest.raises(InputError, match="has a header but no data rows"):
        decide("a,b")


def test_comment_header_from_np_savetxt() -> None:
    sample = text_sample("0.2,0.8\n0.5,0.5")
    sample.comment = ["cat", "dog"]
    layout = rule.decide(sample, ReadOptions())
    assert layout.outcome_names == ["cat", "dog"] and layout.record("csv")["header"] == "comment"


# --- 2. id ------------------------------------------------------------------------------------------


def test_pandas_index_is_the_id_with_a_note() -> None:
    layout = decide(",cat,dog\n0,0.2,0.8\n1,0.5,0.5")
    assert layout.id == 0 and layout.outcomes == [1, 2]
    assert layout.notes == [
        "t.csv: first column (no header name) taken as the row id (pandas index); --id to choose another"
    ]


def test_unnamed_0_header_is_the_index() -> None:
    assert decide("Unnamed: 0,cat,dog\n0,0.2,0.8\n1,0.5,0.5").id == 0


def test_text_id_column_needs_no_note() -> None:
    layout = decide("id,cat,dog\nr1,0.2,0.8\nr2,0.5,0.5")
    assert layout.id == 0 and layout.notes == []


def test_integer_id_column_by_name() -> None:
    layout = decide("id,cat,dog\n7,0.2,0.8\n3,0.5,0.5")
    assert layout.id == 0 and "by its name" in layout.notes[0]


def test_crosstab_shape() -> None:
    layout = decide("y_true,0,1,2\n0,5,1,0\n1,0,4,2\n2,1,0,6", kind="weights", role="joint")
    assert layout.id == 0 and layout.outcomes == [1, 2, 3]
    assert "as in a crosstab" in layout.notes[0]


def test_repeated_first_column_is_not_a_crosstab() -> None:
    layout = decide("y_true,0,1\n0,0.2,0.8\n0,0.5,0.5\n1,0.4,0.6")
    assert layout.id is None and layout.labels == [0]


def test_row_number_column_is_the_id() -> None:
    layout = decide("img,cat,dog\n0,0.2,0.8\n1,0.5,0.5\n2,0.1,0.9")
    assert layout.id == 0 and "it counts rows: 0, 1" in layout.notes[0]


def test_explicit_id_and_its_errors() -> None:
    assert decide("a,b,c\nx,0.5,0.5", id_column="a").id == 0
    assert decide("x,0.5,0.5\ny,0.3,0.7", id_column="1").id == 0
    with pytest.raises(InputError, match="--id 'nope' names no column"):
        decide("a,b\n0.5,0.5", id_column="nope")


def test_metadata_index_wins() -> None:
    kinds = np.array([[rule.TEXT, rule.DEC, rule.DEC]], dtype=np.int8)
    values = np.array([[np.nan, 0.5, 0.5]])
    sample = rule.Sample("a.parquet", "parquet", kinds, values, names=["a", "b", "row"], index=(2,))
    layout = rule.decide(sample, ReadOptions())
    assert layout.id == 2 and layout.outcomes == [1]
    assert layout.notes == ["a.parquet: ignoring non-numeric column(s) a"]


# --- the column tests -------------------------------------------------------------------------


def test_index_like_is_a_count_up_by_one() -> None:
    assert layout_evidence._index_like(np.array([4.0, 5.0, 6.0]))
    assert not layout_evidence._index_like(np.array([0.0, 2.0, 3.0]))
    assert not layout_evidence._index_like(np.array([0.0, np.nan]))
    assert not layout_evidence._index_like(np.array([7.0]))  # one row proves nothing


@pytest.mark.parametrize(
    ("rows", "kind", "role", "complete", "verdict"),
    [
        ([[0.25, 0.75], [0.5, 0.5]], "probs", "distributions", False, True),
        ([[0.25, 0.70], [0.5, 0.5]], "probs", "distributions", False, False),
        ([[0.25, 0.745], [0.5, 0.5]], "probs", "distributions", False, True),  # within 1e-2
        ([[np.log(0.25), np.log(0.75)]], "logprobs", "distributions", False, True),
        ([[np.log(0.25), np.log(0.5)]], "logprobs", "distributions", False, False),
        ([[1.0, 3.0]], "weights", "distributions", False, None),  # weights sum to anything
        ([[0.1, 0.2], [0.3, 0.4]], "probs", "joint", True, True),  # the whole table sums to 1
        ([[0.1, 0.2], [0.3, 0.4]], "probs", "joint", False, None),  # part of a table: cannot tell
        ([[1e308, 1e308]], "probs", "distributions", False, False),  # overflows to inf: not 1
    ],
)
def test_sums_to_one(
    rows: list[list[float]], kind: str, role: str, complete: bool, verdict: bool | None
) -> None:
    values = np.array(rows)
    assert layout_evidence._sums_to_one(values, [0, 1], kind, role, complete) is verdict


def test_sums_to_one_skips_rows_with_missing_values_and_needs_columns() -> None:
    values = np.array([[0.25, 0.75, 9.0], [np.nan, 0.5, 9.0]])
    assert layout_evidence._sums_to_one(values, [0, 1], "probs", "distributions", False) is True
    assert layout_evidence._sums_to_one(values, [], "probs", "distributions", False) is None
    assert layout_evidence._sums_to_one(values[1:], [0, 1], "probs", "distributions", False) is None


def test_header_on_a_sample_directly() -> None:
    header, note = layout_evidence._header(text_sample("a,b\n0.5,0.5"), ReadOptions())
    assert (header, note) == (True, None)
    assert layout_evidence._header(text_sample("a,b\n0.5,0.5"), ReadOptions(header=False)) == (False, None)
    assert layout_evidence._header(text_sample("0.5,0.5\n0.5,0.5"), ReadOptions()) == (False, None)
