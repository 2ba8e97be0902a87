"""xent info through the CLI: joint tables, counts, samples against sklearn, NMI, gates, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

from tests.conftest import CliEnv


def test_info_from_a_joint_table(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "joint.csv"
    path.write_text("x,sun,rain\nhot,0.4,0.1\ncold,0.1,0.4\n")
    result = env.run(["info", str(path), "--bits", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    h_xy = -(0.8 * math.log2(0.4) + 0.2 * math.log2(0.1))
    assert doc["info"]["h_xy"] == pytest.approx(h_xy, rel=1e-15)
    assert doc["info"]["mi"] == pytest.approx(2 - h_xy, rel=1e-14)
    assert doc["summary"]["mi"]["mean"] == doc["info"]["mi"]
    assert doc["joint"] == {
        "x": ["hot", "cold"],
        "y": ["sun", "rain"],
        "p": [[0.4, 0.1], [0.1, 0.4]],
        "p_x": [0.5, 0.5],
        "p_y": [0.5, 0.5],
    }
    table = env.run(["info", str(path), "-f", "table"]).stdout
    assert "Joint p(x, y) with marginals" in table
    assert "I(X;Y)" in table


def test_info_from_counts(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "counts.csv"
    path.write_text("x,a,b\nu,30,10\nv,10,30\n")
    with_weights = env.run(["info", str(path), "--as", "weights", "--value"])
    probs = tmp_path / "p.csv"
    probs.write_text("x,a,b\nu,0.375,0.125\nv,0.125,0.375\n")
    assert with_weights.stdout == env.run(["info", str(probs), "--value"]).stdout
    not_normalized = env.run(["info", str(path)])
    assert not_normalized.exit_code == 2
    assert (
        not_normalized.stderr
        == f"xent: error: {path}: the table sums to 80, not 1 (use --as weights for counts)\n"
    )


def test_info_from_samples_matches_sklearn(env: CliEnv, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.choice(["a", "b", "c"], 500)
    y = np.where(rng.random(500) < 0.7, x, rng.choice(["a", "b", "c"], 500))
    path = tmp_path / "samples.csv"
    path.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y, strict=True)))
    doc = json.loads(env.run(["info", str(path), "--x", "x", "--y", "y", "--json"]).stdout)
    assert doc["info"]["mi"] == pytest.approx(mutual_info_score(x, y), rel=1e-12)
    assert doc["info"]["samples"] == 500
    jsonl = tmp_path / "samples.jsonl"
    jsonl.write_text("".join(json.dumps({"x": a, "y": b}) + "\n" for a, b in zip(x, y, strict=True)))
    again = json.loads(env.run(["info", str(jsonl), "--x", "x", "--y", "y", "--json"]).stdout)
    assert again["info"]["mi"] == doc["info"]["mi"]


def test_worked_example(env: CliEnv, examples: Path) -> None:
    # 8 forecasts: 3 sun/sun, 1 sun/rain, 3 rain/rain, 1 rain/sun
    doc = json.loads(
        env.run(
            ["info", str(examples / "forecasts.csv"), "--x", "forecast", "--y", "actual", "--bits", "--json"]
        ).stdout
    )
    h_xy = -(2 * 3 / 8 * math.log2(3 / 8) + 2 * 1 / 8 * math.log2(1 / 8))
    assert doc["info"]["h_x"] == pytest.approx(1.0, rel=1e-15)
    assert doc["info"]["mi"] == pytest.approx(2 - h_xy, rel=1e-14)


# --- NMI of constants -------------------------------------------------------------------------


def test_nmi_of_two_constant_labelings_is_one_as_in_sklearn(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "constant.csv"
    path.write_text("x,y\n" + "a,b\n" * 5)
    doc = env.json(["info", str(path), "--x", "x", "--y", "y"])
    assert doc["info"]["nmi"] == 1.0 == normalized_mutual_info_score(["a"] * 5, ["b"] * 5)
    assert doc["info"]["mi"] == 0


def test_nmi_with_one_constant_labeling_is_zero_as_in_sklearn(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("x,y\na,b\na,c\na,b\na,c\n")
    doc = env.json(["info", str(path), "--x", "x", "--y", "y", "--correction", "miller-madow"])
    plug_in = env.json(["info", str(path), "--x", "x", "--y", "y"])
    assert plug_in["info"]["nmi"] == 0.0 == normalized_mutual_info_score(["a"] * 4, ["b", "c", "b", "c"])
    assert doc["info"]["nmi"] == 0.0


# --- usage errors and gates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--x", "forecast"], "xent: error: --x needs --y: samples mode names both label columns\n"),
        (["--y", "actual"], "xent: error: --y needs --x: samples mode names both label columns\n"),
        (
            ["--x", "forecast", "--y", "nope"],
            "xent: error: {path}: --y 'nope' names no column "
            "(columns are: day, forecast, actual; or give a 1-based column number)\n",
        ),
        (
            ["--correction", "miller-madow"],
            "xent: error: --correction applies to estimates from samples (--x COL --y COL)\n",
        ),
    ],
)
def test_info_usage_errors(env: CliEnv, examples: Path, args: list[str], message: str) -> None:
    path = examples / "forecasts.csv"
    result = env.run(["info", str(path), *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == message.format(path=path)


def test_negative_cell_is_located(env: CliEnv) -> None:
    result = env.run(["info", "--as", "weights"], input="x,a,b\nu,0.5,-0.1\nv,0.3,0.3\n")
    assert result.exit_code == 2
    assert result.stderr == (
        "xent: error: <stdin>: row 1 (line 2), column 3 ('b'): -0.1 is not a valid count "
        "(cells of a joint table are probabilities or counts, >= 0)\n"
    )


def test_gate_on_nmi(env: CliEnv, examples: Path) -> None:
    args = ["info", str(examples / "forecasts.csv"), "--x", "forecast", "--y", "actual", "--value"]
    assert env.run([*args, "--fail-below", "nmi=0.1"]).exit_code == 0
    assert env.run([*args, "--fail-below", "nmi=0.5"]).exit_code == 1


@pytest.mark.parametrize("average", ["arithmetic", "geometric", "min", "max"])
def test_ami_nmi_vi_from_real_labels_match_sklearn(env: CliEnv, tmp_path: Path, average: str) -> None:
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score
    from sklearn.naive_bayes import GaussianNB

    x, y = load_digits(return_X_y=True)
    predicted = GaussianNB().fit(x[:900], y[:900]).predict(x[900:])
    path = tmp_path / "labels.csv"
    pd.DataFrame({"truth": y[900:], "predicted": predicted}).to_csv(path)
    doc = env.json(
        ["info", str(path), "--x", "truth", "--y", "predicted", "--average", average, "--rows", "0"]
    )
    info = doc["info"]
    assert info["nmi"] == pytest.approx(
        normalized_mutual_info_score(y[900:], predicted, average_method=average), rel=1e-12
    )
    assert info["ami"] == pytest.approx(
        adjusted_mutual_info_score(y[900:], predicted, average_method=average), rel=1e-10
    )
    assert info["vi"] == pytest.approx(info["h_x"] + info["h_y"] - 2 * info["mi"], rel=1e-13)
    assert info["nmi_normalization"].startswith(f"{average}: I / ")
    assert info["average_method"] == average  # scikit-learn's parameter name
    table = env.run(
        ["info", str(path), "--x", "truth", "--y", "predicted", "--average", average, "-f", "table"]
    )
    named = "" if average == "arithmetic" else f" ({average})"  # scikit-learn's default is not named
    assert f" NMI{named} " in table.stdout
    assert f" AMI{named} " in table.stdout
    assert doc["summary"]["ami"]["mean"] == info["ami"]
    gate = env.run(["info", str(path), "--x", "truth", "--y", "predicted", "--fail-below", "ami=0.99"])
    assert gate.exit_code == 1


def test_ami_of_a_count_table_and_of_probabilities(env: CliEnv, tmp_path: Path) -> None:
    from sklearn.metrics import adjusted_mutual_info_score

    counts = tmp_path / "counts.csv"
    counts.write_text("x,a,b\nu,3,1\nv,0,4\n")
    doc = env.json(["info", str(counts), "--as", "weights", "--rows", "0"])
    labels_x = [0] * 4 + [1] * 4
    labels_y = [0, 0, 0, 1, 1, 1, 1, 1]
    assert doc["info"]["ami"] == pytest.approx(adjusted_mutual_info_score(labels_x, labels_y), rel=1e-12)
    probs = tmp_path / "probs.csv"
    probs.write_text("x,a,b\nu,0.375,0.125\nv,0,0.5\n")
    assert env.json(["info", str(probs), "--rows", "0"])["info"]["ami"] == "nan"


@pytest.mark.parametrize("extra", [["--x", "x", "--y", "y"], []])
def test_info_refuses_weights_saying_why(env: CliEnv, tmp_path: Path, extra: list[str]) -> None:
    """info computes one set of measures from a whole table: there is no per-row summary to weight."""
    path = tmp_path / "s.csv"
    path.write_text("x,y\na,b\na,a\nb,b\n")
    result = env.run(["info", str(path), *extra, "--weights", "1,1,1"])
    assert result.exit_code == 2
    assert result.stderr == (
        "xent: error: --weights: info has no per-row summary to weight (it computes one set of measures "
        "from the whole joint or contingency table) (for weighted samples, give the weighted counts as a "
        "joint table with --as weights)\n"
    )
    assert "--weights" not in env.run(["info", "--help"]).stdout


@pytest.mark.parametrize("average", ["arithmetic", "geometric", "min", "max"])
def test_y_a_function_of_x_keeps_mi_within_h_y_and_ami_0_over_0_is_nan(
    env: CliEnv, tmp_path: Path, average: str
) -> None:
    """x = 0..14 (all distinct), y = x mod 3: I = H(Y) = ln 3 exactly, and E[I] = H(Y) too."""
    import pandas as pd
    from sklearn.metrics import adjusted_mutual_info_score, mutual_info_score

    x = np.arange(15)
    y = x % 3
    pd.DataFrame({"x": x, "y": y}).to_csv(tmp_path / "mod3.csv", index=False)
    run = env.run(
        ["info", str(tmp_path / "mod3.csv"), "--x", "x", "--y", "y", "--average", average, "--json"]
    )
    assert run.exit_code == 0, run.output
    info = json.loads(run.stdout)["info"]
    assert info["mi"] == info["h_y"] == pytest.approx(math.log(3), rel=1e-15)  # never mi > h_y
    assert info["mi"] == pytest.approx(mutual_info_score(x, y), rel=1e-15)
    assert (info["h_y_given_x"], info["h_x_given_y"]) == (0.0, pytest.approx(math.log(5), rel=1e-15))
    assert info["vi"] == pytest.approx(math.log(5), rel=1e-15)
    if average == "min":
        # mean − E[I] = H(Y) − H(Y): 0/0, where scikit-learn divides two rounding errors (0.909...).
        assert info["ami"] == "nan"
        assert run.stderr == (
            "xent: note: ami is nan: it is 0/0 here (the expected mutual information equals "
            "min(H(X), H(Y)): every labeling with these class sizes has the same MI)\n"
        )
    else:
        # I − E[I] = 0 over a positive denominator: scikit-learn's value is 0 plus rounding.
        assert info["ami"] == pytest.approx(
            adjusted_mutual_info_score(x, y, average_method=average), abs=1e-13
        )
        assert abs(info["ami"]) < 1e-13
        assert run.stderr == ""


def test_nmi_gate_at_1_holds_for_identical_labelings(env: CliEnv, tmp_path: Path) -> None:
    y = np.random.default_rng(5).integers(1, 4, 40)
    path = tmp_path / "xy.csv"
    path.write_text("x,y\n" + "".join(f"{v},{v}\n" for v in y))
    result = env.run(["info", str(path), "--x", "x", "--y", "y", "--fail-below", "nmi=1", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)["info"]
    assert info["nmi"] == 1.0 == normalized_mutual_info_score(y, y)
    assert info["ami"] == 1.0
    assert info["mi"] == info["h_x"] == info["h_y"] and info["vi"] == 0


# --- the row labels of a crosstab of counts ----------------------------------------------------


def _crosstab_of_counts(tmp_path: Path) -> tuple[Path, float]:
    """pd.crosstab(truth, pred).to_csv(): header ``truth,p,q,r,s``, row labels 0..3, counts."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 500)
    b = np.array(list("pqrs"))[(a + rng.integers(0, 2, 500)) % 4]
    path = tmp_path / "ct.csv"
    pd.crosstab(pd.Series(a, name="truth"), pd.Series(b, name="pred")).to_csv(path)
    return path, float(mutual_info_score(a, b))


def test_crosstab_row_labels_are_the_id_with_a_note(env: CliEnv, tmp_path: Path) -> None:
    path, expected = _crosstab_of_counts(tmp_path)
    assert path.read_text().splitlines()[:2] == ["truth,p,q,r,s", "0,54,61,0,0"]
    result = env.run(["info", str(path), "--as", "weights", "--value"])
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(expected, rel=1e-12)
    assert result.stderr == (
        f"xent: note: {path}: column 'truth' taken as the row labels "
        "(a label name over distinct values, as in a crosstab); --id to choose another\n"
    )
    # The same table under a name that is no label name: its values count up from 0.
    renamed = tmp_path / "grp.csv"
    renamed.write_text(path.read_text().replace("truth,", "grp,", 1))
    result = env.run(["info", str(renamed), "--as", "weights", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["info"]["mi"] == pytest.approx(expected, rel=1e-12)
    assert doc["joint"]["x"] == ["0", "1", "2", "3"] and doc["joint"]["y"] == ["p", "q", "r", "s"]
    assert "(distinct values 0, 1, … as pandas writes a crosstab's index)" in result.stderr


def test_crosstab_row_labels_that_could_be_counts_ask_for_id(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "ct.csv"
    path.write_text("grp,p,q\n3,54,61\n5,0,51\n8,12,0\n")
    result = env.run(["info", str(path), "--as", "weights", "--value"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"xent: error: {path}: column 'grp' may be the row labels (distinct values in ascending "
        "order, as pandas writes a crosstab's index) or a column of counts "
        "(say which: --id grp for row labels, or --id '' to read it as counts)\n"
    )
    as_id = env.run(["info", str(path), "--as", "weights", "--id", "grp", "--value"])
    x = [3] * 115 + [5] * 51 + [8] * 12
    y = ["p"] * 54 + ["q"] * 61 + ["q"] * 51 + ["p"] * 12
    assert float(as_id.stdout) == pytest.approx(mutual_info_score(x, y), rel=1e-12)
    as_counts = env.run(["info", str(path), "--as", "weights", "--id", "", "--value"])
    assert as_counts.exit_code == 0, as_counts.output
    counts = np.array([[3, 54, 61], [5, 0, 51], [8, 12, 0]], dtype=float)
    mi = mutual_info_score(None, None, contingency=counts)
    assert float(as_counts.stdout) == pytest.approx(mi, rel=1e-12)
    # Distinct counts in no order are counts, as before: no note, no error.
    unordered = tmp_path / "unordered.csv"
    unordered.write_text("a,b,c\n30,10,5\n10,30,5\n")
    plain = env.run(["info", str(unordered), "--as", "weights", "--json"])
    assert plain.exit_code == 0 and plain.stderr == ""
    assert json.loads(plain.stdout)["joint"]["y"] == ["a", "b", "c"]


# --- two integer label columns read as a joint table ----------------------------------------------


def test_two_integer_label_columns_get_a_hint_naming_x_and_y(env: CliEnv, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 500)
    pred = (truth + rng.integers(0, 2, 500)) % 4
    path = tmp_path / "s.csv"
    path.write_text("truth,pred\n" + "".join(f"{a},{b}\n" for a, b in zip(truth, pred, strict=True)))
    result = env.run(["info", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    total = int(truth.sum() + pred.sum())
    assert result.stderr == (
        f"xent: error: {path}: the table sums to {total}, not 1 (for samples, name the two label "
        "columns: --x truth --y pred; for a table of counts, --as weights)\n"
    )
    followed = env.run(["info", str(path), "--x", "truth", "--y", "pred", "--value"])
    assert float(followed.stdout) == pytest.approx(mutual_info_score(truth, pred), rel=1e-12)
    # Without a header the columns are named by number.
    bare = env.run(["info", "--no-header"], input="0,1\n1,1\n0,1\n1,0\n")
    assert bare.stderr == (
        "xent: error: <stdin>: the table sums to 5, not 1 (for samples, name the two label "
        "columns: --x 1 --y 2; for a table of counts, --as weights)\n"
    )
