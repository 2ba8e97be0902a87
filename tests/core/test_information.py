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
    Information,
    conditional_entropy,
    information,
    information_from_counts,
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


# --- the sparse contingency table: counts of observed pairs -------------------------------------


def _sparse(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = np.nonzero(counts)
    return x, y, counts[x, y]


def _assert_same(a: Information, b: Information, rel: float) -> None:
    # The Miller-Madow MI is H(X) + H(Y) − H(X,Y): an ulp of H(X,Y) (3.55) is 2e-12 of an MI of
    # 0.0012 (Hypothesis found such a table), so differences are also allowed a few ulps of the sum.
    scale = 8 * np.finfo(np.float64).eps * (b.h_x + b.h_y + b.h_xy)
    for name in ("h_x", "h_y", "h_xy", "h_x_given_y", "h_y_given_x", "mi", "nmi"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=rel, abs=max(1e-15, scale)), name


@given(
    st.tuples(st.integers(1, 7), st.integers(1, 7)).flatmap(
        lambda shape: arrays(np.int64, shape, elements=st.integers(0, 1000))
    )
)
@settings(max_examples=200, deadline=None)
def test_counts_agree_with_the_dense_table(counts: np.ndarray) -> None:
    if counts.sum() == 0:
        return
    dense = information(joint_distribution(counts.astype(np.float64), "weights"))
    sparse = information_from_counts(*_sparse(counts))
    _assert_same(sparse, dense, rel=1e-12)
    _assert_same(
        information_from_counts(*_sparse(counts), correction="miller-madow"),
        miller_madow(counts.astype(np.float64)),
        rel=1e-12,
    )


def test_counts_against_sklearn_on_random_samples() -> None:
    rng = np.random.default_rng(7)
    for n_x, n_y, n in ((3, 4, 500), (50, 80, 20_000), (2000, 1500, 30_000)):
        x = rng.integers(0, n_x, n)
        y = (x * 7 + rng.integers(0, n_y // 2 + 1, n)) % n_y
        pairs, counts = np.unique(np.stack([x, y]), axis=1, return_counts=True)
        info = information_from_counts(pairs[0], pairs[1], counts)
        assert info.mi == pytest.approx(mutual_info_score(x, y), rel=1e-12)
        assert info.nmi == pytest.approx(normalized_mutual_info_score(x, y), rel=1e-12)


def test_counts_of_a_nearly_independent_table_keep_their_digits() -> None:
    # counts 10^6 * outer(px, py), nudged by one sample: MI is ~1e-13, and the sum of the
    # unobserved product mass is exact, so every digit is right.
    counts = np.array([[300_001, 699_999], [400_000, 600_000]], dtype=np.int64) * 1000
    counts[0, 0] += 1
    x, y, c = _sparse(counts)
    exact = reference.kl(*_exact_joint_and_product(counts))
    assert reference.relative_error(information_from_counts(x, y, c).mi, exact) < 1e-12


def _exact_joint_and_product(counts: np.ndarray) -> tuple[list[object], list[object]]:
    total = reference.Mpf(int(counts.sum()))
    p = [reference.Mpf(int(v)) / total for v in counts.ravel()]
    rows = [reference.Mpf(int(v)) / total for v in counts.sum(axis=1)]
    cols = [reference.Mpf(int(v)) / total for v in counts.sum(axis=0)]
    q = [rows[i] * cols[j] for i in range(counts.shape[0]) for j in range(counts.shape[1])]
    return p, q


def test_counts_past_int64_products_are_exact_too() -> None:
    counts = np.array([[3, 1, 0], [1, 3, 2]], dtype=np.int64)
    small = information_from_counts(*_sparse(counts))
    huge = information_from_counts(*_sparse(counts * 10**12))  # N^2 far past 2^63
    _assert_same(huge, small, rel=1e-14)


def test_pairs_listed_twice_are_added_and_zero_counts_dropped() -> None:
    info = information_from_counts([0, 1, 0, 1, 1], [0, 1, 0, 1, 0], [2, 4, 3, 1, 0])
    _assert_same(info, information(joint_distribution([[5.0, 0.0], [0.0, 5.0]], "weights")), rel=1e-15)


def test_40000_values_on_each_side_stay_sparse() -> None:
    n = 40_000
    x = np.arange(n)
    y = (x * 7919) % n
    info = information_from_counts(x, y, np.ones(n, dtype=np.int64))
    assert info.mi == pytest.approx(math.log(n), rel=1e-14)
    assert info.h_x_given_y == 0.0 and info.h_y_given_x == 0.0
    assert info.nmi == 1.0


@pytest.mark.parametrize(
    ("x", "y", "counts", "message"),
    [
        ([0, 1], [0], [1, 1], "1-D arrays of one length"),
        ([0, -1], [0, 1], [1, 1], "x must hold 0-based integer codes"),
        ([0, 1], [0.5, 1], [1, 1], "y must hold 0-based integer codes"),
        ([0, 1], [0, 1], [1, 0.5], "count 0.5 at position 1 is not a whole number >= 0"),
        ([0, 1], [0, 1], [1, -2], "is not a whole number"),
        ([0, 1], [0, 1], [0, 0], "all counts are 0"),
        ([], [], [], "no pairs were observed"),
    ],
)
def test_bad_counts(x: list[object], y: list[object], counts: list[object], message: str) -> None:
    with pytest.raises(DistributionError, match=message):
        information_from_counts(np.array(x, dtype=np.asarray(x).dtype if x else np.int64), y, counts)


def test_joint_tables_of_huge_weights_do_not_overflow() -> None:
    table = np.full((2, 2), 1e308)
    info = information(joint_distribution(table, "weights"))
    assert info.h_xy == pytest.approx(2 * math.log(2), rel=1e-15)
    assert info.mi == 0.0
    with pytest.raises(DistributionError, match="sums to more than 1.8e308"):
        joint_distribution(table, "probs")
    corrected = miller_madow(table)
    assert corrected.h_x == info.h_x  # N = inf: no bias left to correct


# --- NMI averages, AMI and VI against scikit-learn on real labelings -----------------------------


def _real_labelings() -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_digits, load_iris
    from sklearn.naive_bayes import GaussianNB

    x, y = load_digits(return_X_y=True)
    predicted = GaussianNB().fit(x[:900], y[:900]).predict(x[900:])
    iris_x, iris_y = load_iris(return_X_y=True)
    clusters = KMeans(n_clusters=4, n_init=1, random_state=0).fit_predict(iris_x)
    rng = np.random.default_rng(3)
    return [
        (y[900:], predicted),
        (iris_y, clusters),
        (rng.integers(0, 5, 300), rng.integers(0, 7, 300)),  # independent: AMI near 0, may be < 0
        (np.array(["a"] * 5 + ["b"] * 5), np.array([0] * 10)),  # one constant labeling
    ]


@pytest.mark.parametrize("average", ["arithmetic", "geometric", "min", "max"])
def test_nmi_ami_and_mi_match_sklearn(average: str) -> None:
    from sklearn.metrics import adjusted_mutual_info_score, mutual_info_score, normalized_mutual_info_score

    from xent_cli.core.information import ami, mutual_info, nmi

    for labels_true, labels_pred in _real_labelings():
        assert mutual_info(labels_true, labels_pred) == pytest.approx(
            mutual_info_score(labels_true, labels_pred), rel=1e-12, abs=1e-15
        )
        assert nmi(labels_true, labels_pred, average=average) == pytest.approx(  # type: ignore[arg-type]
            normalized_mutual_info_score(labels_true, labels_pred, average_method=average),
            rel=1e-12,
            abs=1e-15,
        )
        assert ami(labels_true, labels_pred, average=average) == pytest.approx(  # type: ignore[arg-type]
            adjusted_mutual_info_score(labels_true, labels_pred, average_method=average), rel=1e-10, abs=1e-13
        )


def test_expected_mutual_info_matches_sklearn() -> None:
    from sklearn.metrics.cluster import contingency_matrix
    from sklearn.metrics.cluster._expected_mutual_info_fast import expected_mutual_information

    from xent_cli.core.information import expected_mutual_info

    for labels_true, labels_pred in _real_labelings()[:3]:
        table = contingency_matrix(labels_true, labels_pred)
        expected = expected_mutual_information(table, len(labels_true))
        assert expected_mutual_info(table.sum(axis=1), table.sum(axis=0)) == pytest.approx(
            expected, rel=1e-12
        )


def test_vi_is_the_two_conditional_entropies() -> None:
    from xent_cli.core.information import information_from_counts

    info = information_from_counts([0, 0, 1], [0, 1, 1], [3, 1, 4])
    assert info.vi == pytest.approx(info.h_x + info.h_y - 2 * info.mi, rel=1e-14)
    assert info.vi == info.h_x_given_y + info.h_y_given_x


def test_labels_pair_by_pandas_index_or_raise() -> None:
    import pandas as pd
    from sklearn.metrics import adjusted_mutual_info_score

    from xent_cli.core.information import ami

    true = pd.Series([0, 0, 1, 1, 2, 2], index=list("abcdef"))
    pred = pd.Series([0, 0, 1, 2, 2, 2], index=list("abcdef"))
    shuffled = pred.iloc[::-1]
    assert ami(true, shuffled) == ami(true, pred)
    assert ami(true, pred) == pytest.approx(adjusted_mutual_info_score(true, pred), rel=1e-12)
    with pytest.raises(DistributionError, match="different row labels"):
        ami(true, pd.Series([0, 0, 1, 2, 2, 2], index=list("abcdeg")))
    with pytest.raises(DistributionError, match="6 labels but labels_pred has 5"):
        ami([0, 0, 1, 1, 2, 2], [0, 1, 2, 3, 4])


def test_measures_stay_within_their_bounds_when_y_is_a_function_of_x() -> None:
    """x = 0..14, y = x mod 3: I = H(Y) and H(Y|X) = 0 exactly, from the dense and the sparse path."""
    from xent_cli.core.information import ami, information, information_from_counts, joint_distribution

    x = np.arange(15)
    y = x % 3
    counts = np.zeros((15, 3))
    counts[x, y] = 1
    for info in (
        information_from_counts(x, y, np.ones(15)),
        information(joint_distribution(counts, "weights")),
    ):
        assert 0 <= info.mi <= min(info.h_x, info.h_y)
        assert info.mi == pytest.approx(math.log(3), rel=1e-15)
        assert 0 <= info.h_x_given_y <= info.h_x and 0 <= info.h_y_given_x <= info.h_y
    assert math.isnan(ami(x, y, average="min"))  # 0/0: E[I] = min(H(X), H(Y)) = H(Y)
    assert ami(x, y, average="max") == pytest.approx(0.0, abs=1e-13)


def test_labelings_that_determine_each_other_have_nmi_and_ami_exactly_1() -> None:
    """H(X|Y) = 0 exactly makes I = H(X) exactly (not an ulp below): NMI = AMI = 1, as scikit-learn."""
    from sklearn.metrics import adjusted_mutual_info_score

    from xent_cli.core.information import ami, information, information_from_counts, joint_distribution, nmi

    y = np.random.default_rng(5).integers(1, 4, 40)
    relabeled = np.array(["c", "a", "b", "d"])[y]  # a bijection of y's values
    for other in (y, relabeled):
        assert normalized_mutual_info_score(y, other) == 1.0 == adjusted_mutual_info_score(y, other)
        for average in ("arithmetic", "geometric", "min", "max"):
            assert nmi(y, other, average=average) == 1.0
            assert ami(y, other, average=average) == 1.0
    _, x_codes = np.unique(y, return_inverse=True)
    counts = np.bincount(x_codes).astype(float)
    for info in (
        information_from_counts(x_codes, x_codes, counts[x_codes]),
        information(joint_distribution(np.diag(counts), "weights")),
    ):
        assert info.mi == info.h_x == info.h_y and info.nmi == 1.0 and info.vi == 0.0
    # Only X a function of Y (H(X|Y) = 0): I = H(X) exactly, H(Y) larger.
    x = np.arange(15) % 3
    y15 = np.arange(15)
    info = information_from_counts(x, y15, np.ones(15))
    assert info.h_x_given_y == 0.0 and info.mi == info.h_x < info.h_y
    assert nmi(x, y15) == pytest.approx(normalized_mutual_info_score(x, y15), rel=1e-15)


@pytest.mark.parametrize("method", ["arithmetic", "geometric", "min", "max"])
def test_nmi_and_ami_take_scikit_learns_average_method(method: str) -> None:
    """scikit-learn spells it ``average_method``; ``nmi(a, b, average_method=…)`` was a TypeError."""
    from sklearn.metrics import adjusted_mutual_info_score

    from xent_cli import ami, nmi

    a = [0, 0, 0, 1, 1, 2, 2, 2, 2, 1]
    b = [0, 1, 1, 1, 0, 2, 2, 0, 3, 1]
    expected = normalized_mutual_info_score(a, b, average_method=method)
    assert nmi(a, b, average_method=method) == pytest.approx(expected, rel=1e-13)
    assert nmi(a, b, average=method) == nmi(a, b, average_method=method)  # the CLI's spelling
    assert ami(a, b, average_method=method) == pytest.approx(
        adjusted_mutual_info_score(a, b, average_method=method), rel=1e-9, abs=1e-12
    )
    with pytest.raises(ValueError, match="not both"):
        nmi(a, b, average_method=method, average="max" if method != "max" else "min")


def test_nmi_follows_the_settled_mutual_information() -> None:
    """The sparse path's MI of identical labelings is set to H(X) exactly; the nmi it reports
    must come from that MI (it was 0.9999999999999998, from the MI as summed)."""
    y = np.random.default_rng(5).integers(1, 4, 40)
    _, codes = np.unique(y, return_inverse=True)
    cells, counts = np.unique(codes, return_counts=True)
    info = information_from_counts(cells, cells, counts)
    assert info.mi == info.h_x and info.nmi == 1.0
    corrected = information_from_counts(cells, cells, counts, correction="miller-madow")
    assert corrected.nmi == 1.0
