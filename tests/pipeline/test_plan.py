"""Plans: what a two-source plan records (smoothing) and refuses before any task runs (stdin twice)."""

from __future__ import annotations

import math

import pytest

from tests.plans import NATS, kl, run_pair, spec
from xent_cli.errors import UsageError
from xent_cli.io.readers import ReadOptions
from xent_cli.io.sources import resolve
from xent_cli.pipeline.align import InputSpec


def test_smoothing_is_recorded() -> None:
    result = run_pair(
        "kl",
        spec("0.5,0.5"),
        spec("1,0"),
        unit=NATS,
        tolerance=1e-6,
        smoothing=0.1,
        join_ids=False,
    )
    assert math.isfinite(result.headline.values[0])
    assert result.smoothing is not None and result.smoothing.alpha == 0.1


def test_both_stdin_is_an_error() -> None:
    stdin = InputSpec(resolve("-", stdin_is_terminal=False), ReadOptions())
    with pytest.raises(UsageError, match="only one source can be stdin"):
        kl(stdin, stdin)
