"""The task functions (xent_cli.pipeline.tasks), called as an engine calls them, against scipy and sklearn."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import rel_entr
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import log_loss

from tests.plans import NATS, spec
from xent_cli.pipeline.tasks import (
    PAIR_MEASURES,
    LossSettings,
    PairSettings,
    entropy_task,
    loss_task,
    pair_measure,
    pair_task,
)
from xent_cli.results import Unit

RNG = np.random.default_rng(2026)
P = RNG.dirichlet(np.ones(5), size=40)
Q = RNG.dirichlet(np.ones(5), size=40)


def _csv(path: Path, rows: np.ndarray, **extra: object) -> Path:
    frame = pd.DataFrame(rows, columns=[f"c{i}" for i in range(rows.shape[1])])
    for name, values in extra.items():
        frame[name] = values
    frame.to_csv(path, index=False)
    return path


def test_entropy_task_returns_every_rows_entropy_in_the_unit(tmp_path: Path) -> None:
    path = _csv(tmp_path / "p.csv", P)
    part = entropy_task(spec(path), unit=Unit.parse("2"), tolerance=1e-6)
    assert part.rows_read == part.count == 40
    [measure] = part.measures
    assert measure.key == "entropy"
    np.testing.assert_allclose(measure.values, scipy_entropy(P, base=2, axis=1), rtol=1e-13)


def test_pair_task_kl_of_two_files_matches_scipy(tmp_path: Path) -> None:
    p, q = _csv(tmp_path / "p.csv", P), _csv(tmp_path / "q.csv", Q)
    part = pair_task(spec(p), spec(q), PairSettings("kl", NATS, 1e-6))
    np.testing.assert_allclose(part.measures[0].values, rel_entr(P, Q).sum(axis=1), rtol=1e-12)


def test_pair_task_compare_panel_holds_the_measures_in_order(tmp_path: Path) -> None:
    p, q = _csv(tmp_path / "p.csv", P), _csv(tmp_path / "q.csv", Q)
    part = pair_task(spec(p), spec(q), PairSettings("compare", NATS, 1e-6, measures=("js", "tv")))
    assert [m.key for m in part.measures] == ["js", "tv"]
    mixture = (P + Q) / 2
    js = (rel_entr(P, mixture).sum(axis=1) + rel_entr(Q, mixture).sum(axis=1)) / 2
    np.testing.assert_allclose(part.measures[0].values, js, rtol=1e-12)
    np.testing.assert_allclose(part.measures[1].values, np.abs(P - Q).sum(axis=1) / 2, rtol=1e-12)


def test_loss_task_with_a_label_column_matches_sklearn(tmp_path: Path) -> None:
    labels = RNG.integers(0, 5, size=40)
    path = _csv(tmp_path / "pred.csv", P, label=labels)
    part = loss_task(spec(path, role="predictions"), LossSettings("label", NATS, 1e-6))
    values = part.measures[0].values
    assert math.isclose(float(np.mean(values)), log_loss(labels, P, labels=range(5)), rel_tol=1e-12)


def test_pair_measure_knows_the_fixed_measures_and_the_families() -> None:
    assert pair_measure("kl") is PAIR_MEASURES["kl"]
    assert pair_measure("renyi:0.5").key == "renyi:0.5"
    assert pair_measure("tsallis:2").scaling == "none"
    with pytest.raises(KeyError):
        pair_measure("nope:1")
