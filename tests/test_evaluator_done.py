"""Issue 26's "done when": a new user's scikit-learn workflow (digits, breast cancer), predictions written
with pandas defaults, through the installed ``xent`` command and through ``import xent_cli``, equals
scikit-learn's and SciPy's own values."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy as scipy_entropy
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    adjusted_mutual_info_score,
    brier_score_loss,
    log_loss,
    normalized_mutual_info_score,
)
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

import xent_cli

XENT = shutil.which("xent", path=str(Path(sys.executable).parent)) or shutil.which("xent")
pytestmark = pytest.mark.skipif(XENT is None, reason="the xent command is not installed")


def xent(*args: str) -> dict[str, Any]:
    assert XENT is not None
    done = subprocess.run(
        [XENT, *args, "--json", "--rows", "0"], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("done")
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
    nb = GaussianNB().fit(x_train, y_train).predict_proba(x_test)
    lr = LogisticRegression(max_iter=500).fit(x_train, y_train).predict_proba(x_test)
    w = np.random.default_rng(3).uniform(0, 2, len(y_test))
    columns = [str(k) for k in range(10)]
    pd.DataFrame(nb, columns=columns).assign(label=y_test, w=w).to_csv(root / "nb.csv")
    pd.DataFrame(lr, columns=columns).to_csv(root / "lr.csv")
    pd.DataFrame(nb, columns=columns).to_csv(root / "nb_plain.csv")
    pd.DataFrame({"truth": y_test, "predicted": lr.argmax(axis=1)}).to_csv(root / "labels.csv")
    bx, by = load_breast_cancer(return_X_y=True)
    bx_train, bx_test, by_train, by_test = train_test_split(bx, by, test_size=0.3, random_state=0)
    p1 = GaussianNB().fit(bx_train, by_train).predict_proba(bx_test)[:, 1]
    pd.DataFrame({"p": p1, "y": by_test}).to_csv(root / "cancer.csv")
    return {"root": root, "nb": nb, "lr": lr, "y": y_test, "w": w, "p1": p1, "by": by_test}


def test_digits_loss_weights_and_calibration(workflow: dict[str, Any]) -> None:
    root, nb, y, w = workflow["root"], workflow["nb"], workflow["y"], workflow["w"]
    doc = xent("loss", str(root / "nb.csv"), "--target", "label", "--weights", "w", "--clip", "auto")
    assert doc["loss"]["log_loss"] == pytest.approx(log_loss(y, nb, sample_weight=w), rel=1e-12)
    assert xent_cli.log_loss(y, nb, sample_weight=w, clip="auto") == pytest.approx(
        log_loss(y, nb, sample_weight=w), rel=1e-12
    )
    doc = xent("calibration", str(root / "nb.csv"), "--target", "label", "--weights", "w")
    assert doc["summary"]["brier"] == pytest.approx(brier_score_loss(y, nb, sample_weight=w), rel=1e-12)


def test_breast_cancer_binary_loss_and_brier(workflow: dict[str, Any]) -> None:
    root, p1, by = workflow["root"], workflow["p1"], workflow["by"]
    doc = xent("loss", str(root / "cancer.csv"), "--target", "y", "--clip", "auto")
    assert doc["loss"]["log_loss"] == pytest.approx(log_loss(by, p1), rel=1e-12)
    assert xent_cli.log_loss(by, p1, clip="auto") == pytest.approx(log_loss(by, p1), rel=1e-12)
    doc = xent("calibration", str(root / "cancer.csv"), "--target", "y")
    assert doc["summary"]["brier"] == pytest.approx(brier_score_loss(by, p1), rel=1e-12)


def test_digits_information_and_scipy_entropy(workflow: dict[str, Any]) -> None:
    root, y, lr, nb = workflow["root"], workflow["y"], workflow["lr"], workflow["nb"]
    predicted = lr.argmax(axis=1)
    doc = xent("info", str(root / "labels.csv"), "--x", "truth", "--y", "predicted", "--average", "max")
    assert doc["info"]["ami"] == pytest.approx(
        adjusted_mutual_info_score(y, predicted, average_method="max"), rel=1e-10
    )
    assert doc["info"]["nmi"] == pytest.approx(
        normalized_mutual_info_score(y, predicted, average_method="max"), rel=1e-12
    )
    assert doc["info"]["average_method"] == "max"
    doc = xent("kl", str(root / "nb_plain.csv"), str(root / "lr.csv"))
    kl = scipy_entropy(nb, lr, axis=1)
    assert doc["summary"]["mean"] == pytest.approx(np.mean(kl), rel=1e-10)
    np.testing.assert_allclose(xent_cli.entropy(nb, lr), kl, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(xent_cli.entropy(nb, axis=0), scipy_entropy(nb), rtol=1e-12)
