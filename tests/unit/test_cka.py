"""Linear CKA: the properties Kornblith et al. 2019 prove, the estimators checked against direct
O(n²) computations, and the minibatch accumulation of Nguyen et al. 2021."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from layerdrop.analysis.cka import CKAMatrix, hsic, linear_cka


def _data(n=40, p=12, q=9, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    y = x @ rng.normal(size=(p, q)) + 0.5 * rng.normal(size=(n, q))  # related, not identical
    return x, y


def _orthogonal(p, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(p, p)))
    return q


def _direct_hsic(x, y):
    """tr(K H L H) / (n - 1)², with explicit n x n centering matrices."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return np.trace(x @ x.T @ h @ y @ y.T @ h) / (n - 1) ** 2


def _direct_unbiased_hsic(x, y):
    """Song et al. 2012's unbiased estimator, term by term."""
    n = x.shape[0]
    k, l = x @ x.T, y @ y.T
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    one = np.ones(n)
    return (np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ k @ l @ one) / (n * (n - 3))


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_of_a_representation_with_itself_is_one(debiased):
    x, _ = _data()
    assert linear_cka(x, x, debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_invariant_to_orthogonal_maps_and_isotropic_scaling_of_either_input(debiased):
    x, y = _data()
    base = linear_cka(x, y, debiased)
    assert linear_cka(x @ _orthogonal(12, 1), y, debiased) == pytest.approx(base, abs=1e-10)
    assert linear_cka(x, y @ _orthogonal(9, 2), debiased) == pytest.approx(base, abs=1e-10)
    assert linear_cka(3.7 * x, y, debiased) == pytest.approx(base, abs=1e-10)
    assert linear_cka(x, 0.01 * y, debiased) == pytest.approx(base, abs=1e-10)


def test_changed_by_a_general_invertible_linear_map():
    x, _ = _data()
    stretch = np.diag([10.0] + [0.1] * 11) @ _orthogonal(12, 3)  # invertible, far from orthogonal
    assert abs(np.linalg.det(stretch)) > 0
    assert linear_cka(x, x @ stretch) < 0.9


def test_equal_to_direct_hsic_computations():
    x, y = _data(n=15)
    direct = _direct_hsic(x, y) / math.sqrt(_direct_hsic(x, x) * _direct_hsic(y, y))
    assert linear_cka(x, y) == pytest.approx(direct, abs=1e-12)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    assert hsic(tx @ tx.T, ty @ ty.T) == pytest.approx(_direct_hsic(x, y), rel=1e-12)
    assert hsic(tx @ tx.T, ty @ ty.T, debiased=True) == pytest.approx(_direct_unbiased_hsic(x, y), rel=1e-10)
    unbiased = _direct_unbiased_hsic(x, y) / math.sqrt(_direct_unbiased_hsic(x, x) * _direct_unbiased_hsic(y, y))
    assert linear_cka(x, y, debiased=True) == pytest.approx(unbiased, abs=1e-12)


def test_numpy_and_torch_inputs_agree():
    x, y = _data()
    assert linear_cka(torch.from_numpy(x).float(), torch.from_numpy(y)) == pytest.approx(linear_cka(x, y), abs=1e-6)


@pytest.mark.parametrize("debiased", [False, True])
def test_finite_on_near_constant_features(debiased):
    rng = np.random.default_rng(4)
    x = np.ones((20, 5)) + 1e-12 * rng.normal(size=(20, 5))
    constant = np.ones((20, 5))
    for value in (linear_cka(x, x, debiased), linear_cka(constant, _data(n=20)[0], debiased), linear_cka(constant, constant, debiased)):
        assert math.isfinite(value)


def test_debiased_needs_four_examples():
    x, y = _data(n=3)
    with pytest.raises(ValueError, match="at least 4 examples"):
        linear_cka(x, y, debiased=True)
    assert math.isfinite(linear_cka(x, y))


def test_minibatch_matrix_is_the_ratio_of_mean_hsics():
    x, y = _data(n=64)
    layers_a, layers_b = [x, 2 * x[:, :6]], [y]
    matrix = CKAMatrix(2, 1)
    for start in (0, 32):
        matrix.update([torch.from_numpy(a[start:start + 32]) for a in layers_a], [torch.from_numpy(b[start:start + 32]) for b in layers_b])
    halves = [slice(0, 32), slice(32, 64)]
    for i, a in enumerate(layers_a):
        cross = np.mean([_direct_hsic(a[h], y[h]) for h in halves])
        self_a = np.mean([_direct_hsic(a[h], a[h]) for h in halves])
        self_b = np.mean([_direct_hsic(y[h], y[h]) for h in halves])
        assert matrix.matrix()[i][0] == pytest.approx(cross / math.sqrt(self_a * self_b), abs=1e-12)
    # One minibatch holding every row is the plain (biased) CKA.
    whole = CKAMatrix(1, 1)
    whole.update([torch.from_numpy(x)], [torch.from_numpy(y)])
    assert whole.matrix()[0][0] == pytest.approx(linear_cka(x, y), abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_a_constant_representation_has_cka_zero_not_a_ratio_of_rounding_errors(debiased):
    # The [CLS] embedding is the same vector for every example: float rounding leaves its centered
    # values at 1e-16 of its size, and their ratio would be any number in [-1, 1].
    rng = np.random.default_rng(5)
    row = rng.normal(size=(1, 16)).astype(np.float32)
    constant = np.repeat(row, 64, axis=0)
    other = np.repeat(rng.normal(size=(1, 16)).astype(np.float32), 64, axis=0)
    assert linear_cka(constant, other, debiased) == 0.0
    matrix = CKAMatrix(1, 1, debiased)
    for start in (0, 32):
        matrix.update([torch.from_numpy(constant[start:start + 32])], [torch.from_numpy(other[start:start + 32])])
    assert matrix.matrix()[0][0] == 0.0
    assert linear_cka(constant, rng.normal(size=(64, 3)), debiased) == 0.0


@pytest.mark.parametrize("debiased", [False, True])
def test_a_large_common_component_changes_nothing(debiased):
    # MiniLM's [CLS] below its last layer is one large vector plus variation of about 1e-3 of it:
    # CKA is invariant to adding a constant vector, and must not lose that variation to rounding.
    x, y = _data(n=64)
    common = 1e3 * np.random.default_rng(6).normal(size=(1, 12))
    base = linear_cka(x, y, debiased)
    assert linear_cka(x + common, y, debiased) == pytest.approx(base, abs=1e-9)
    matrix = CKAMatrix(1, 1, debiased)
    matrix.update([torch.from_numpy(x + common)], [torch.from_numpy(y)])
    assert matrix.matrix()[0][0] == pytest.approx(base, abs=1e-9)
