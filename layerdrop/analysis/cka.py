"""Linear centered kernel alignment (CKA) between two sets of representations of the same examples.

Kornblith, Norouzi, Lee & Hinton 2019, "Similarity of Neural Network Representations Revisited"
(arXiv 1905.00414): with X (n, p) and Y (n, q) centered over examples,

    CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)),   K = X Xᵀ, L = Y Yᵀ,

which for linear kernels is ||Yᵀ X||²_F / (||Xᵀ X||_F ||Yᵀ Y||_F). It is invariant to orthogonal
transforms and isotropic scaling of either input, and not to general invertible linear maps.

`debiased=True` uses the unbiased HSIC estimator (Song et al. 2012) as Nguyen, Raghu & Kornblith 2021
("Do Wide and Deep Networks Learn the Same Things?", arXiv 2010.15327) do; it needs n >= 4. Over many
examples they accumulate HSIC over minibatches and take the ratio of the means (not the mean of
per-batch CKA): `CKAMatrix` does that, so memory does not grow with the number of examples.

Everything is computed in float64.
"""

from __future__ import annotations

import math


def _as_float64(x):
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64)
    return torch.from_numpy(np.asarray(x, dtype=np.float64))


def _gram(x):
    return x @ x.T


def _prepared(k, debiased: bool):
    """A Gram matrix made ready for `_paired`: double-centered (biased) or with a zero diagonal (unbiased)."""
    if not debiased:
        return k - k.mean(dim=0, keepdim=True) - k.mean(dim=1, keepdim=True) + k.mean()
    k = k.clone()
    k.fill_diagonal_(0)
    return k


def _paired(k, l, debiased: bool) -> float:
    """HSIC of two prepared (n, n) Gram matrices."""
    n = k.shape[0]
    if not debiased:
        return float((k * l).sum()) / (n - 1) ** 2
    value = (k * l).sum() + k.sum() * l.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (k.sum(dim=1) @ l.sum(dim=1))
    return float(value) / (n * (n - 3))


def hsic(k, l, debiased: bool = False) -> float:
    """HSIC of two (n, n) Gram matrices: biased, tr(K H L H) / (n - 1)², or unbiased (Song et al.
    2012; n >= 4)."""
    if debiased and k.shape[0] < 4:
        raise ValueError(f"debiased CKA needs at least 4 examples, not {k.shape[0]}")
    return _paired(_prepared(k, debiased), _prepared(l, debiased), debiased)


# A representation whose centered rows are under this share of its rows' size (Frobenius norms)
# does not vary beyond float64 rounding: it is constant, as the [CLS] embedding is for every
# example, and its CKA would be a ratio of rounding errors. Real ones vary far more: MiniLM's
# [CLS] below its last layer, the least varied seen, by about 1e-3.
CONSTANT_SHARE = 1e-10


def _ratio(cross: float, self_x: float, self_y: float, constant: bool = False) -> float:
    """CKA from HSICs; 0 where either representation is constant (it carries no similarity structure)."""
    if constant or self_x <= 0 or self_y <= 0:
        return 0.0
    return cross / math.sqrt(self_x * self_y)


def _centered(x):
    """(rows minus their mean, whether the representation is constant). Both HSIC estimators are
    invariant to centering the features, and centering first keeps a large common component (a
    summary token's) from burying the variation in rounding."""
    centered = x - x.mean(dim=0, keepdim=True)
    return centered, float(centered.norm()) <= CONSTANT_SHARE * float(x.norm())


def linear_cka(x, y, debiased: bool = False) -> float:
    """Linear CKA of two (n, p) and (n, q) arrays (numpy or torch) of the same n examples."""
    x, y = _as_float64(x), _as_float64(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"linear_cka needs two (n, p) arrays with the same n, not {tuple(x.shape)} and {tuple(y.shape)}")
    if debiased and x.shape[0] < 4:
        raise ValueError(f"debiased CKA needs at least 4 examples, not {x.shape[0]}")
    (x, flat_x), (y, flat_y) = _centered(x), _centered(y)
    if not debiased:  # feature space: O(n p q), no n x n matrix
        return _ratio(float((y.T @ x).pow(2).sum()), float((x.T @ x).pow(2).sum()), float((y.T @ y).pow(2).sum()),
                      flat_x or flat_y)
    k, l = _gram(x), _gram(y)
    return _ratio(hsic(k, l, True), hsic(k, k, True), hsic(l, l, True), flat_x or flat_y)


class CKAMatrix:
    """Layer x layer CKA between two models, accumulated over minibatches of the same examples.

    `update(xs, ys)` takes one minibatch: a list of (b, p) representations per layer of model A and
    one per layer of model B. `matrix()` is the ratio of the mean HSICs (Nguyen et al. 2021).
    """

    def __init__(self, n_a: int, n_b: int, debiased: bool = False):
        import torch

        self.debiased = debiased
        self.cross = torch.zeros(n_a, n_b, dtype=torch.float64)
        self.self_a = torch.zeros(n_a, dtype=torch.float64)
        self.self_b = torch.zeros(n_b, dtype=torch.float64)
        self.norm_a = torch.zeros(n_a, dtype=torch.float64)  # squared norms of the rows, and of the centered rows
        self.norm_b = torch.zeros(n_b, dtype=torch.float64)
        self.spread_a = torch.zeros(n_a, dtype=torch.float64)
        self.spread_b = torch.zeros(n_b, dtype=torch.float64)
        self.batches = 0

    def update(self, xs, ys) -> None:
        n = xs[0].shape[0]
        if n < (4 if self.debiased else 2):
            return  # too few rows for the estimator: skip a tiny last batch
        centered_a, centered_b = [], []
        for rows, centered, norms, spreads in ((xs, centered_a, self.norm_a, self.spread_a),
                                               (ys, centered_b, self.norm_b, self.spread_b)):
            for i, x in enumerate(rows):
                x = _as_float64(x)
                centered.append(x - x.mean(dim=0, keepdim=True))
                norms[i] += x.pow(2).sum()
                spreads[i] += centered[-1].pow(2).sum()
        grams_a = [_prepared(_gram(x), self.debiased) for x in centered_a]
        grams_b = [_prepared(_gram(y), self.debiased) for y in centered_b]
        for i, k in enumerate(grams_a):
            self.self_a[i] += _paired(k, k, self.debiased)
            for j, l in enumerate(grams_b):
                self.cross[i, j] += _paired(k, l, self.debiased)
        for j, l in enumerate(grams_b):
            self.self_b[j] += _paired(l, l, self.debiased)
        self.batches += 1

    def matrix(self) -> list[list[float]]:
        if not self.batches:
            raise ValueError("no minibatch had enough examples for CKA")
        flat_a = (self.spread_a <= CONSTANT_SHARE ** 2 * self.norm_a).tolist()
        flat_b = (self.spread_b <= CONSTANT_SHARE ** 2 * self.norm_b).tolist()
        return [[_ratio(float(self.cross[i, j]), float(self.self_a[i]), float(self.self_b[j]), flat_a[i] or flat_b[j])
                 for j in range(self.cross.shape[1])] for i in range(self.cross.shape[0])]
