"""--weights in the summary of every command: weighted mean, std_error and inverted-CDF percentiles."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

from tests.conftest import CliEnv

PERCENTILES = {
    "p0.1": 0.1,
    "p1": 1,
    "p5": 5,
    "p10": 10,
    "p50": 50,
    "p90": 90,
    "p95": 95,
    "p99": 99,
    "p99.9": 99.9,
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two scikit-learn models' digits predictions written by pandas (defaults), and row weights."""
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=2)
    p = GaussianNB(var_smoothing=1e-2).fit(x_train, y_train).predict_proba(x_test)
    q = LogisticRegression(max_iter=300).fit(x_train, y_train).predict_proba(x_test)
    w = np.random.default_rng(4).integers(0, 4, len(y_test)) * np.random.default_rng(5).uniform(
        0.5, 2, len(y_test)
    )
    root = tmp_path_factory.mktemp("weighted-summary")
    columns = [f"c{k}" for k in range(10)]
    frame = pd.DataFrame(p, columns=columns)
    frame["w"] = w
    frame.to_csv(root / "p.csv")
    frame.drop(columns="w").to_csv(root / "p_plain.csv")
    pd.DataFrame(q, columns=columns).to_csv(root / "q.csv")
    pd.DataFrame({"weight": w}).to_csv(root / "w.csv", index=False)
    labelled = pd.DataFrame(p, columns=columns).assign(label=y_test, w=w)
    labelled.to_csv(root / "pred.csv")
    return {"root": root, "p": p, "q": q, "w": w, "y": y_test}


def _reference(values: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """The weighted summary by NumPy (np.average, percentile method='inverted_cdf') and by hand."""
    keep = w > 0
    x, v = values[keep], w[keep]
    mean = float(np.average(x, weights=v))
    n = len(x)
    spread = math.fsum((vi * (xi - mean)) ** 2 for xi, vi in zip(x.tolist(), v.tolist(), strict=True))
    found = {
        "mean": mean,
        "std_error": math.sqrt(n / (n - 1) * spread) / math.fsum(v.tolist()),
        "min": float(x.min()),
        "max": float(x.max()),
        "sum": math.fsum((x * v).tolist()),
    }
    for name, q in PERCENTILES.items():
        found[name] = float(np.percentile(values, q, weights=w, method="inverted_cdf"))
    return found


def _check(summary: dict[str, float], expected: dict[str, float]) -> None:
    """Every field the summary shows (std_error and the extra percentiles only with --fail-* on them)."""
    for key in summary.keys() & expected.keys():
        assert summary[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-15), key


def test_weighted_entropy_summary_equals_numpy(env: CliEnv, models: dict[str, object]) -> None:
    root, p, w = models["root"], np.asarray(models["p"]), np.asarray(models["w"])
    expected = _reference(scipy_entropy(p, axis=1), w)
    for weights, extra in (("w", []), (f"{root}/w.csv", ["--columns", ",".join(f"c{k}" for k in range(10))])):
        doc = env.json(
            [
                "entropy",
                f"{root}/p.csv",
                "--weights",
                weights,
                "--rows",
                "0",
                "--fail-above",
                "entropy.p99=9",
                *extra,
            ]
        )
        _check(doc["summary"], expected)
        assert doc["summary"]["count"] == len(w)
        assert doc["weights"] == {
            "total": pytest.approx(w.sum(), rel=1e-15),
            "zero_rows": int((w == 0).sum()),
            "percentiles": "inverted_cdf",
        }
        assert doc["layout"]["p"]["outcomes"] == [
            f"c{k}" for k in range(10)
        ]  # the weights column is no outcome


@pytest.mark.parametrize(
    ("command", "key", "reference"),
    [
        ("kl", "kl", lambda p, q: scipy_entropy(p, q, axis=1)),
        (
            "cross-entropy",
            "cross_entropy",
            lambda p, q: scipy_entropy(p, axis=1) + scipy_entropy(p, q, axis=1),
        ),
        ("js", "js", lambda p, q: jensenshannon(p, q, axis=1) ** 2),
    ],
)
def test_weighted_pair_summaries_equal_numpy(
    env: CliEnv, models: dict[str, object], command: str, key: str, reference: object
) -> None:
    root, p, q, w = models["root"], np.asarray(models["p"]), np.asarray(models["q"]), np.asarray(models["w"])
    values = reference(p, q)  # type: ignore[operator]
    doc = env.json(
        [
            command,
            f"{root}/p.csv",
            f"{root}/q.csv",
            "--weights",
            "w",
            "--rows",
            "0",
            "--fail-above",
            f"{key}.p99=99",
        ]
    )
    summary = doc["summary"] if key in ("kl", "cross_entropy") else doc["summary"][key]
    expected = _reference(values, w)
    for name in summary.keys() & expected.keys():
        assert summary[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-15), name


def test_weighted_compare_and_its_gates(env: CliEnv, models: dict[str, object]) -> None:
    root, p, q, w = models["root"], np.asarray(models["p"]), np.asarray(models["q"]), np.asarray(models["w"])
    kl = scipy_entropy(p, q, axis=1)
    expected = _reference(kl, w)
    base = ["compare", f"{root}/p.csv", f"{root}/q.csv", "--weights", "w"]
    doc = env.json([*base, "--rows", "0", "--measures", "kl,tv,renyi:0.5"])
    assert doc["summary"]["kl"]["mean"] == pytest.approx(expected["mean"], rel=1e-12)
    assert doc["summary"]["kl"]["p90"] == pytest.approx(expected["p90"], rel=1e-12)
    tv = 0.5 * np.abs(p - q).sum(axis=1)
    assert doc["summary"]["tv"]["p50"] == pytest.approx(
        np.percentile(tv, 50, weights=w, method="inverted_cdf"), rel=1e-12
    )
    value = float(env.run([*base, "--measures", "kl", "--value"]).stdout)
    assert value == pytest.approx(expected["mean"], rel=1e-12)
    # gates use the weighted statistic: a bound between the weighted and unweighted p90 decides
    weighted_p90, plain_p90 = expected["p90"], float(np.percentile(kl, 90))
    assert weighted_p90 != plain_p90
    bound = (weighted_p90 + plain_p90) / 2
    held = env.run([*base, "--fail-above", f"kl.p90={bound}"]).exit_code
    assert held == (0 if weighted_p90 <= bound else 1)
    assert env.run([*base, "--fail-above", f"kl={expected['mean'] * 0.999}"]).exit_code == 1
    assert env.run([*base, "--fail-above", f"kl={expected['mean'] * 1.001}"]).exit_code == 0


def test_weighted_loss_summary_is_sklearns_weighted_log_loss(env: CliEnv, models: dict[str, object]) -> None:
    root, p, y, w = models["root"], np.asarray(models["p"]), np.asarray(models["y"]), np.asarray(models["w"])
    doc = env.json(
        ["loss", f"{root}/pred.csv", "--target", "label", "--weights", "w", "--rows", "0", "--clip", "auto"]
    )
    expected = log_loss(y, p, sample_weight=w)
    assert doc["loss"]["log_loss"] == pytest.approx(expected, rel=1e-12)
    assert doc["summary"]["log_loss"]["mean"] == pytest.approx(expected, rel=1e-12)
    nll = -np.log(np.clip(p, np.finfo(float).eps, 1 - np.finfo(float).eps)[np.arange(len(y)), y])
    assert doc["summary"]["log_loss"]["p50"] == pytest.approx(
        np.percentile(nll, 50, weights=w, method="inverted_cdf"), rel=1e-12
    )


def test_equal_weights_give_the_unweighted_mean_and_std_error(env: CliEnv, models: dict[str, object]) -> None:
    root, p = models["root"], np.asarray(models["p"])
    ones = ",".join(["1"] * len(p))
    plain = env.json(
        ["kl", f"{root}/p_plain.csv", f"{root}/q.csv", "--rows", "0", "--fail-above", "kl.std_error=9"]
    )
    weighted = env.json(
        [
            "kl",
            f"{root}/p_plain.csv",
            f"{root}/q.csv",
            "--rows",
            "0",
            "--weights",
            ones,
            "--fail-above",
            "kl.std_error=9",
        ]
    )
    assert weighted["summary"]["mean"] == plain["summary"]["mean"]
    assert weighted["summary"]["max"] == plain["summary"]["max"]
    checks = [c["value"] for doc in (plain, weighted) for c in doc["gate"]["checks"]]
    assert checks[1] == pytest.approx(checks[0], rel=1e-12)


def test_the_table_says_weighted(env: CliEnv, models: dict[str, object]) -> None:
    root = models["root"]
    result = env.run(["entropy", f"{root}/p.csv", "--weights", "w", "-f", "table", "--rows", "0"])
    assert result.exit_code == 0
    assert f"Weighted summary over {len(np.asarray(models['w']))} rows" in result.stdout
    assert "weighted by " in result.stderr


COMMANDS = {
    "entropy": ["entropy", "{path}"],
    "kl": ["kl", "{path}", "0.5,0.5"],
    "cross-entropy": ["cross-entropy", "{path}", "0.5,0.5"],
    "js": ["js", "{path}", "0.5,0.5"],
    "compare": ["compare", "{path}", "0.5,0.5"],
}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("1,-2,0.5", "xent: error: --weights: row 2: weight '-2' is not a finite number >= 0"),
        ("1,nan,0.5", "xent: error: --weights: row 2: weight 'nan' is not a finite number >= 0"),
        ("0,0,0", "xent: error: --weights: every weight is 0"),
        ("1,2", "xent: error: --weights has 2 weights but {path} has 3 rows"),
        ("1,2,3,4", "xent: error: --weights has 4 weights but {path} has 3 rows"),
    ],
)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_weights_are_one_line(
    env: CliEnv, tmp_path: Path, command: str, weights: str, message: str
) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b\n0.9,0.1\n0.2,0.8\n0.6,0.4\n")
    args = [a.format(path=path) for a in COMMANDS[command]]
    result = env.run([*args, "--weights", weights])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(message.format(path=path))
    assert result.stderr.count("\n") == 1


def test_a_bad_weight_in_a_column_names_the_file_and_row(env: CliEnv, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b,w\n0.9,0.1,1\n0.2,0.8,-1\n")
    result = env.run(["entropy", str(path), "--weights", "w"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"xent: error: {path} column 'w': row 2: weight '-1' is not a finite number >= 0"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["entropy", "{path}", "--column", "a", "--weights", "1,1,1"],
            "xent: error: --weights weights rows of distributions",
        ),
        (
            ["kl", "{path}", "{path}", "--id", "a", "--weights", "1,1,1"],
            "xent: error: --weights pairs with P's rows by position",
        ),
        (
            ["kl", "{path}", "0.5,0.5", "--weights", "1,1,1", "--ci", "0.9"],
            "xent: error: --ci resamples the rows unweighted",
        ),
    ],
)
def test_weights_that_do_not_apply_are_usage_errors(
    env: CliEnv, tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "p.csv"
    path.write_text("a,b\n0.9,0.1\n0.2,0.8\n0.6,0.4\n")
    result = env.run([a.format(path=path) for a in args])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_sharded_weights_must_be_a_column_and_all_zero_is_judged_over_every_shard(
    env: CliEnv, tmp_path: Path
) -> None:
    for i, weights in enumerate(["0,0", "0,2"]):
        (tmp_path / f"s-{i}.csv").write_text(
            "a,b,w\n" + "".join(f"0.5,0.5,{v}\n" for v in weights.split(","))
        )
    (tmp_path / "w.csv").write_text("w\n1\n1\n1\n1\n")
    shards = str(tmp_path / "s-*.csv")
    result = env.run(["entropy", shards, "--weights", str(tmp_path / "w.csv")])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "xent: error: with sharded predictions, --weights must name a column of the shards"
    )
    doc = env.json(["entropy", shards, "--weights", "w"])
    assert doc["summary"]["mean"] == math.log(2)
    assert doc["weights"]["zero_rows"] == 3
    (tmp_path / "s-1.csv").write_text("a,b,w\n0.5,0.5,0\n")
    result = env.run(["entropy", shards, "--weights", "w"])
    assert result.exit_code == 2
    assert result.stderr.startswith("xent: error: --weights: every weight is 0")


@pytest.mark.parametrize("command", [["entropy"], ["kl", "q.csv"]])
def test_value_is_the_summarys_weighted_mean_to_the_last_digit(
    env: CliEnv, models: dict[str, object], command: list[str]
) -> None:
    # --value finds the weighted mean alone (no percentiles sorted): the same digits as the summary.
    root = models["root"]
    assert isinstance(root, Path)
    args = [command[0], str(root / "p.csv"), *(str(root / f) for f in command[1:]), "--weights", "w"]
    value = env.run([*args, "--value"])
    assert value.exit_code == 0, value.output
    doc = env.json([*args, "--rows", "0"])
    assert float(value.stdout) == doc["summary"]["mean"]
    p, w = np.asarray(models["p"]), np.asarray(models["w"])
    rows = (
        scipy_entropy(p, axis=1)
        if command == ["entropy"]
        else scipy_entropy(p, np.asarray(models["q"]), axis=1)
    )
    assert float(value.stdout) == pytest.approx(np.average(rows, weights=w), rel=1e-13)
