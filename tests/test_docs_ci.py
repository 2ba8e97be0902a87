"""docs/ci.md: the GitHub Actions workflow and the GitLab CI job parse, and every xent command in
them runs as the CI system would run it (GITHUB_ACTIONS, GITHUB_STEP_SUMMARY, GitLab's variables
set), on a stored baseline: a harmless change passes, a regression fails with annotations, a job
summary and JUnit reports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
XENT_DIR = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(
    shutil.which("xent", path=str(XENT_DIR)) is None, reason="xent is not installed"
)


def _blocks() -> list[dict]:  # type: ignore[type-arg]
    text = (ROOT / "docs" / "ci.md").read_text()
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]


def _xent_lines(script: str) -> str:
    """The shell script without the lines that install xent or run the user's own model."""
    kept = [line for line in script.splitlines() if not line.startswith(("pip install", "python "))]
    return "\n".join(kept)


def _run(script: str, folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_"))}
    environment["PATH"] = f"{XENT_DIR}{os.pathsep}{os.environ['PATH']}"
    environment.update(env)
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=folder, env=environment, capture_output=True, text=True, timeout=300
    )


def _repository(folder: Path) -> dict[str, np.ndarray]:
    """The evaluation set and three models' predictions on it: reference, a harmless change, a regression."""
    rng = np.random.default_rng(21)
    n, k = 800, 4
    logits = rng.normal(0, 1.5, (n, k))

    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    reference = softmax(logits)
    labels = np.array([rng.choice(k, p=row) for row in reference])
    (folder / "data").mkdir()
    (folder / "predictions").mkdir()
    (folder / "baselines").mkdir()
    pd.DataFrame({"label": labels}).to_csv(folder / "data" / "labels.csv", index=False)
    return {
        "reference": reference,
        "harmless": softmax(logits + rng.normal(0, 0.05, (n, k))),
        "regression": softmax(0.5 * logits + rng.normal(0, 0.5, (n, k))),
    }


def _predict(folder: Path, p: np.ndarray) -> None:
    frame = pd.DataFrame(p, columns=["a", "b", "c", "d"])
    frame.to_parquet(folder / "predictions" / "candidate.parquet")


def test_github_actions_workflow(tmp_path: Path) -> None:
    workflow, _ = _blocks()
    assert set(workflow) == {"name", True, "jobs"}  # YAML reads the key `on` as True
    steps = workflow["jobs"]["gate"]["steps"]
    assert steps[0]["uses"] == "actions/checkout@v4"
    by_name = {step.get("name"): step for step in steps}
    gates = [
        by_name["Gate on KL drift from the reference model"],
        by_name["Gate on log loss against the stored baseline"],
    ]
    store = by_name["Store the new baseline"]
    assert store["if"] == "github.ref == 'refs/heads/main'"
    models = _repository(tmp_path)

    # On main: the reference model becomes the stored baseline.
    _predict(tmp_path, models["reference"])
    stored = _run(_xent_lines(store["run"]), tmp_path, GITHUB_ACTIONS="true", CI="true")
    assert stored.returncode == 0, stored.stderr
    assert (tmp_path / "baselines" / "loss.json").exists()

    summary = tmp_path / "summary.md"
    ci = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    # A pull request with a harmless change: both gates hold.
    _predict(tmp_path, models["harmless"])
    for step in gates:
        run = _run(_xent_lines(step["run"]), tmp_path, **ci)
        assert run.returncode == 0, run.stderr
        assert "::error" not in run.stderr
    text = summary.read_text()
    assert text.count("### xent ") == 2
    assert text.count("✅ held") == 2 and "❌" not in text
    # A pull request with a regression: both gates fail, each with an annotation and a failed test case.
    summary.unlink()
    _predict(tmp_path, models["regression"])
    for step, report in zip(gates, ("kl", "loss"), strict=True):
        run = _run(_xent_lines(step["run"]), tmp_path, **ci)
        assert run.returncode == 1, run.stderr
        (annotation,) = [line for line in run.stderr.splitlines() if line.startswith("::error title=")]
        assert "gate failed%3A --fail-" in annotation
        suite = ET.parse(tmp_path / "reports" / f"{report}.xml").getroot().find("testsuite")
        assert suite is not None and suite.get("failures") == "1"
    assert summary.read_text().count("❌ failed") == 2


def test_gitlab_ci_job(tmp_path: Path) -> None:
    _, gitlab = _blocks()
    job = gitlab["model-gate"]
    assert job["artifacts"]["reports"]["junit"] == "reports/*.xml"
    assert job["artifacts"]["when"] == "always"
    script = _xent_lines("\n".join(job["script"]))
    models = _repository(tmp_path)
    _predict(tmp_path, models["reference"])
    stored = _run(
        "xent loss predictions/candidate.parquet --target data/labels.csv --json -o baselines/loss.json\n"
        "cp predictions/candidate.parquet baselines/reference.parquet",
        tmp_path,
    )
    assert stored.returncode == 0, stored.stderr
    gitlab_env = {"GITLAB_CI": "true", "CI": "true"}
    _predict(tmp_path, models["harmless"])
    held = _run(script, tmp_path, **gitlab_env)
    assert held.returncode == 0, held.stderr
    _predict(tmp_path, models["regression"])
    broken = _run(script, tmp_path, **gitlab_env)
    assert broken.returncode == 1
    assert broken.stderr.count("xent: gate failed: ") == 2
    for report in ("kl", "loss"):
        case = ET.parse(tmp_path / "reports" / f"{report}.xml").getroot().find("testsuite/testcase")
        assert case is not None and case.find("failure") is not None
