"""Entropies of joint tables, conditional entropy and mutual information."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

from tests import reference
from xent_cli.core.information import (
    conditional_entropy,
    information,
    joint_distribution,
    joint_entropy,
    miller_madow,
    mutual_information,
)
from xent_cli.errors import DistributionError


def test_hand_computed_table() -> None:
    # hot/cold x sun/rain: 0.4 0.1 / 0.1 0.4
    info = information(joint_distribution([[0.4, 0.1], [0.1, 0.4]]))
    h_xy = -(2 * 0.4 * math.log(0.4) + 2 * 0.1 * math.log(0.1))
    assert info.h_x == pytest.approx(math.log(2), rel=1e-15)
    assert info.h_y == pytest.approx(math.log(2), rel=1e-15)
    assert info.h_xy == pytest.approx(h_xy, rel=1e-15)
    assert info.mi == pytest.approx(2 * math.log(2) - h_xy, rel=1e-14)
    assert info.h_x_given_y == pytest.approx(h_xy - math.log(2), rel=1e-14)


def test_perfect_dependence_and_independence() -> None:
    assert mutual_information([[0.5, 0], [0, 0.5]], base=2) == pytest.approx(1.0, rel=1e-15)
    assert conditional_entropy([[0.5, 0], [0, 0.5]]) == 0.0
    assert mutual_information(np.outer([0.2, 0.8], [0.3, 0.3, 0.4])) == pytest.approx(0.0, abs=1e-16)
    assert joint_entropy([[0.25, 0.25], [0.25, 0.25]], base=2) == 2.0


def test_information_of_x_with_itself_is_its_entropy() -> None:
    p = np.array([0.1, 0.2, 0.7])
    info = information(np.diag(p))
    assert info.mi == pytest.approx(info.h_x, rel=1e-14)
    assert info.h_x_given_y == 0.0


def test_nearly_independent_table_keeps_its_digits() -> None:
    px, py = np.array([0.3, 0.7]), np.array([0.4, 0.6])
    joint = np.outer(px, py)
    joint[0, 0] += 1e-9
    joint[1, 1] += 1e-9
    joint[0, 1] -= 1e-9
    joint[1, 0] -= 1e-9
    exact_joint = [[reference.Mpf(float(v)) for v in row] for row in joint]
    flat = [v for row in exact_joint for v in row]
    total = reference.mpmath.fsum(flat)
    p = [v / total for v in flat]
    pxm = [p[0] + p[1], p[2] + p[3]]
    pym = [p[0] + p[2], p[1] + p[3]]
    q = [pxm[0] * pym[0], pxm[0] * pym[1], pxm[1] * pym[0], pxm[1] * pym[1]]
    exact = reference.kl(p, q)
    # p(x) p(y) is itself rounded, which bounds the relative accuracy here; a
    # difference of entropies would give no correct digit at all.
    assert reference.relative_error(information(joint_distribution(joint)).mi, exact) < 1e-8


@given(
    st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
        lambda shape: arrays(np.float64, shape, elements=st.floats(0, 100))
    )
)
@settings(max_examples=200, deadline=None)
def test_identities(counts: np.ndarray) -> None:
    if counts.sum() <= 0:
        return
    info = information(joint_distribution(counts, "weights"))
    tol = 1e-12 * max(1.0, info.h_xy)
    assert info.mi >= 0
    assert info.mi == pytest.approx(info.h_x + info.h_y - info.h_xy, abs=tol)
    assert info.mi == pytest.approx(info.h_x - info.h_x_given_y, abs=tol)
    assert info.mi == pytest.approx(info.h_y - info.h_y_given_x, abs=tol)
    assert info.h_x_given_y >= 0 and info.h_y_given_x >= 0
    assert info.mi <= min(info.h_x, info.h_y) + tol
    assert 0 <= info.nmi <= 1


def test_against_sklearn_on_samples() -> None:
    rng = np.random.default_rng(12)
    x = rng.integers(0, 4, 2000)
    y = (x + rng.integers(0, 3, 2000)) % 5
    counts = np.zeros((4, 5))
    np.add.at(counts, (x, y), 1)
    info = information(joint_distribution(counts, "weights"))
    assert info.mi == pytest.approx(mutual_info_score(x, y), rel=1e-12)
    assert info.nmi == pytest.approx(normalized_mutual_info_score(x, y), rel=1e-12)


def test_miller_madow_adds_the_bias_term() -> None:
    counts = np.array([[3.0, 1.0], [1.0, 3.0]])
    plug_in = information(joint_distribution(counts, "weights"))
    corrected = miller_madow(counts)
    assert corrected.h_x == pytest.approx(plug_in.h_x + 1 / 16, rel=1e-15)
    assert corrected.h_xy == pytest.approx(plug_in.h_xy + 3 / 16, rel=1e-15)
    assert corrected.mi == pytest.approx(corrected.h_x + corrected.h_y - corrected.h_xy, rel=1e-14)


@pytest.mark.parametrize(
    ("table", "kind", "message"),
    [
        ([[0.5, -0.1], [0.3, 0.3]], "weights", "is negative"),
        ([[0.5, 0.1], [0.3, 0.3]], "probs", "the table sums to 1.2, not 1"),
        ([0.5, 0.5], "probs", "2-D"),
        ([[0.5, 0.5]], "logits", "probabilities or weights"),
    ],
)
def test_bad_tables(table: list[object], kind: str, message: str) -> None:
    with pytest.raises(DistributionError, match=message):
        joint_distribution(table, kind)  # type: ignore[arg-type]


def test_nmi_of_two_constants_is_one_as_in_sklearn() -> None:
    # 0/0: scikit-learn's normalized_mutual_info_score returns 1 for two constant labelings.
    assert normalized_mutual_info_score([3, 3, 3], [7, 7, 7]) == 1.0
    assert information(joint_distribution([[4.0]], "weights")).nmi == 1.0
    assert miller_madow(np.array([[4.0]])).nmi == 1.0


def test_nmi_with_one_constant_is_zero_as_in_sklearn() -> None:
    assert normalized_mutual_info_score([3, 3, 3, 3], [1, 2, 1, 2]) == 0.0
    assert information(joint_distribution([[2.0, 2.0]], "weights")).nmi == 0.0
