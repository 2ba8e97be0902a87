"""Every table, in a real pseudo-terminal 60, 80 and 120 columns wide: no number is ever cut.

Each command runs twice: in a pty (a table sized to the terminal, as a person
sees it) and with ``--json``. Every number-like token of the table must be one
of the JSON's values written to the digits shown (6, 5, 4 or 3 significant
digits, as ``render.table_number`` writes them), or a count, a row number, a
histogram edge, or a number of an inline source. A cut number (``0.00…``), a
number split over two lines (``0.0024`` + ``1021``) or an ellipsis fails.
"""

from __future__ import annotations

import functools
import json
import math
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.terminal import XENT, run_in_terminal
from xent_cli.render import table_number

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (60, 80, 120)
NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?%?")
# Labels that must appear whole (a header cut short would hide which measure a column is).
COMPARE_LABELS = ["D(P‖Q)", "D(Q‖P)", "H(P, Q)", "JS(P, Q)", "TV", "Hellinger", "max|P−Q|", "top-1 agree"]
STATISTICS = ["mean", "min", "p50", "p90", "p99", "max", "sum"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("widths")
    rng = np.random.default_rng(7)
    # Long ids: they wrap, the numbers beside them do not.
    long_ids = root / "long_ids.csv"
    probs = rng.dirichlet(np.ones(3), size=6)
    lines = ["id,cat,dog,bird"] + [
        f"sample-with-a-rather-long-identifier-{i:04d}," + ",".join(repr(float(v)) for v in row)
        for i, row in enumerate(probs)
    ]
    long_ids.write_text("\n".join(lines) + "\n")
    # Per-row values spanning decades: a log-scale histogram.
    spread = root / "spread.csv"
    q = np.array([0.25, 0.25, 0.25, 0.25])
    rows = [q * (1 + eps * np.array([1, -1, 1, -1])) for eps in np.geomspace(1e-5, 0.9, 20)]
    spread.write_text("a,b,c,d\n" + "".join(",".join(repr(float(v)) for v in r) + "\n" for r in rows))
    reference = root / "reference.csv"
    reference.write_text("a,b,c,d\n0.25,0.25,0.25,0.25\n")
    # A 12 x 12 joint table of counts, far wider than 120 columns at 6 digits.
    joint = root / "joint.csv"
    counts = rng.integers(1, 10_000, size=(12, 12))
    names = [f"y{j:02d}" for j in range(12)]
    joint.write_text(
        "x," + ",".join(names) + "\n"
        + "".join(f"x{i:02d}," + ",".join(map(str, row)) + "\n" for i, row in enumerate(counts))
    )  # fmt: skip
    return {"long_ids": long_ids, "spread": spread, "reference": reference, "joint": joint}


def _cases(files: dict[str, Path]) -> dict[str, list[str]]:
    a, b = "examples/model_a.csv", "examples/model_b.csv"
    return {
        "entropy rows": ["entropy", a, "--rows", "5"],
        "entropy one": ["entropy", "0.5,0.25,0.125,0.125", "--bits"],
        "entropy explain": ["entropy", "0.5,0.25,0.125,0.0625,0.0625", "--bits", "--explain"],
        "kl rows": ["kl", a, b],
        "kl summary only": ["kl", a, b, "--rows", "0"],
        "kl explain": ["kl", a, b, "--explain", "--rows", "2"],
        "kl explain inf": ["kl", a, "cat=0.5,dog=0.5,bird=0", "--explain", "--rows", "0"],
        "kl smoothed": ["kl", "0.5,0.5", "1,0", "--smooth", "0.01"],
        "ce explain": ["cross-entropy", "0.7,0.2,0.1", "0.5,0.3,0.2", "--explain"],
        "js": ["js", a, b, "--rows", "3", "--bits"],
        "compare": ["compare", a, b, "--rows", "3"],
        "compare explain": ["compare", a, b, "--rows", "12", "--explain"],
        "loss": ["loss", a, "--target", "examples/labels.csv", "--rows", "4"],
        "info samples": ["info", "examples/forecasts.csv", "--x", "forecast", "--y", "actual", "--bits"],
        "info joint 12x12": ["info", str(files["joint"]), "--as", "weights"],
        "long ids": ["compare", str(files["long_ids"]), str(files["long_ids"]), "--smooth", "0.1"],
        "log histogram": ["kl", str(files["spread"]), str(files["reference"]), "--rows", "0"],
    }


CASES = list(_cases({k: Path(k) for k in ("long_ids", "spread", "reference", "joint")}))


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, str):
        for token in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", value):
            yield float(token)


def _histogram_edges(values: list[float]) -> list[float]:
    finite = np.array([v for v in values if isinstance(v, float) and math.isfinite(v)])
    if finite.size < 2:
        return []
    edges = list(np.histogram_bin_edges(finite, bins=8))
    positive = finite[finite > 0]
    if positive.size >= 2:
        edges += list(np.geomspace(positive.min(), positive.max(), 9))
    return [float(e) for e in edges]


def _allowed(doc: dict[str, Any]) -> tuple[set[str], list[float]]:
    """Every string a whole number of ``doc`` may be shown as, and the values themselves."""
    values = list(_numbers(doc))
    rows = doc.get("rows", [])
    for key in {k for row in rows for k in row if k not in ("row", "id")}:
        values += _histogram_edges([float(row[key]) for row in rows if isinstance(row[key], (int, float))])
    values += list(range(len(rows) + 2))
    shown = {table_number(v, d) for v in values for d in (6, 5, 4, 3)}
    shown |= {f"{100 * v:.1f}%" for v in values} | {"100%"}
    return shown, values


@functools.cache
def _json_text(args: tuple[str, ...]) -> str:
    # Every row, whatever --rows the table shows: the histogram's edges come from all of them.
    kept = [a for i, a in enumerate(args) if a != "--rows" and (i == 0 or args[i - 1] != "--rows")]
    done = subprocess.run(
        [str(XENT), *kept, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _json(args: list[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_json_text(tuple(args)))
    return doc


@pytest.mark.skipif(not XENT.exists(), reason="xent is not installed")
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", CASES)
def test_every_number_is_whole(case: str, width: int, files: dict[str, Path]) -> None:
    args = _cases(files)[case]
    status, screen = run_in_terminal([str(XENT), *args], width, cwd=ROOT, env={"NO_COLOR": "1"})
    assert status == 0, screen
    lines = screen.splitlines()
    assert lines and lines[0].startswith(("Entropy", "KL", "Cross", "Jensen", "Comparison", "Log", "Info"))
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, "\n".join(too_wide)
    assert "…" not in screen and "..." not in screen, screen
    shown, _ = _allowed(_json(args))
    for line in lines:
        for token in line.split():
            token = token.strip("(),;:")
            if NUMBER.fullmatch(token):
                assert token in shown, f"{token!r} is not a whole number of the result, in:\n{screen}"


@pytest.mark.skipif(not XENT.exists(), reason="xent is not installed")
@pytest.mark.parametrize("width", WIDTHS)
def test_compare_names_every_measure_and_statistic(width: int) -> None:
    args = ["compare", "examples/model_a.csv", "examples/model_b.csv", "--rows", "3"]
    _, screen = run_in_terminal([str(XENT), *args], width, cwd=ROOT, env={"NO_COLOR": "1"})
    for label in COMPARE_LABELS:
        # Once in the per-row tables and once in the summary.
        assert screen.count(label) >= 2, (label, screen)
    words = set(screen.split())
    assert set(STATISTICS) <= words, screen


@pytest.mark.skipif(not XENT.exists(), reason="xent is not installed")
def test_a_cut_number_would_be_caught() -> None:
    """The check above fails on a table that cuts a number at 80 columns."""
    shown, _ = _allowed(_json(["kl", "examples/model_a.csv", "examples/model_b.csv"]))
    assert "0.00241021" in shown
    assert "0.0024" not in shown  # two digits of a number shown with six elsewhere
    assert "0.0" not in shown


@pytest.mark.skipif(not XENT.exists(), reason="xent is not installed")
@pytest.mark.parametrize("width", WIDTHS)
def test_log_histogram_has_a_bar_for_every_non_empty_bin(width: int, files: dict[str, Path]) -> None:
    args = _cases(files)["log histogram"]
    _, screen = run_in_terminal([str(XENT), *args], width, cwd=ROOT, env={"NO_COLOR": "1"})
    assert "over rows (log scale)" in screen
    bins = [line for line in screen.splitlines() if " – " in line]
    assert len(bins) == 8
    for line in bins:
        count = int(line.split()[-1])
        assert ("█" in line) == (count > 0), line
