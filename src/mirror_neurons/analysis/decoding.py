"""Cross-decoding: does one linear read-out see both players' distress? (a population measure, ours)

For a layer's activations, a logistic-regression probe (L2-regularised, fitted
by Newton's method in NumPy) is trained to tell frog-distress states from
no-distress states, on half of each group. It is tested within (the other half
of frog vs the other half of none) and **across**: toad-distress vs the
held-out none states. The reverse probe (trained on toad vs none, tested on
frog vs none) is reported too. Scores are AUROC, which ignores the probe's
threshold (a probe can rank correctly across players while its bias is off).

Chance level: the probe is refitted with its training labels permuted
``n_permutations`` times; the cross AUROC of each is the null distribution,
and p = (1 + #{null >= observed}) / (1 + n). A cross AUROC well above its null
means a shared direction for "someone is in distress" in that layer. Note
what this null is: a probe fitted to permuted labels is an essentially
arbitrary read-out direction, so the null asks whether the frog-trained
direction transfers better than arbitrary directions do. When distress shifts
many units of a layer together, arbitrary directions transfer too and the null
is wide; the test is then conservative, never liberal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirror_neurons.analysis.groups import Groups
from mirror_neurons.analysis.stats import mann_whitney


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, iters: int = 30) -> np.ndarray:
    """Weights (features + 1,) of an L2-regularised logistic regression (last entry: intercept)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2 * len(x))
    reg[-1] = 0.0
    # einsum instead of BLAS matmul: these products are small, and a multi-threaded BLAS on a
    # busy machine spends 10-20x the time synchronising its threads (measured; see docs/analysis.md).
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(np.einsum("nf,f->n", xb, w), -30, 30)))
        grad = np.einsum("nf,n->f", xb, p - y) + reg * w
        hess = np.einsum("nf,ng->fg", xb * (p * (1 - p))[:, None], xb) + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def score(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.einsum("nf,f->n", x, w[:-1]) + w[-1]


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    return float(mann_whitney(pos[:, None], neg[:, None]).auroc[0])


@dataclass(frozen=True)
class CrossDecoding:
    within_frog: float  # AUROC of the frog probe on held-out frog vs none
    frog_to_toad: float  # the frog probe on toad vs held-out none
    within_toad: float
    toad_to_frog: float
    null_frog_to_toad: np.ndarray
    null_toad_to_frog: np.ndarray

    @property
    def p_frog_to_toad(self) -> float:
        return float((1 + np.sum(self.null_frog_to_toad >= self.frog_to_toad)) / (1 + len(self.null_frog_to_toad)))

    @property
    def p_toad_to_frog(self) -> float:
        return float((1 + np.sum(self.null_toad_to_frog >= self.toad_to_frog)) / (1 + len(self.null_toad_to_frog)))


def cross_decode(
    a: np.ndarray, groups: Groups, rng: np.random.Generator, *, n_permutations: int = 20, max_per_group: int = 4000
) -> CrossDecoding:
    """Cross-decoding of one layer's activations ``a`` (n, units); see the module docstring."""

    def sample(g: str) -> np.ndarray:
        idx = groups.index(g)
        idx = rng.permutation(idx)[: 2 * max_per_group]
        half = len(idx) // 2
        return np.asarray(a[idx[:half]], np.float64), np.asarray(a[idx[half:]], np.float64)

    (none_tr, none_te), (frog_tr, frog_te), (toad_tr, toad_te) = (sample(g) for g in ("none", "frog", "toad"))
    for name, part in (("none", none_tr), ("frog", frog_tr), ("toad", toad_tr)):
        if len(part) == 0:
            from mirror_neurons.errors import AnalysisError

            raise AnalysisError(f"scenario group {name!r} has fewer than 2 states; cross-decoding needs a train and a test half")

    def probe(pos: np.ndarray, neg: np.ndarray, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.vstack([pos, neg])
        mu, sd = x.mean(0), x.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))] if labels is None else labels
        return fit_logistic((x - mu) / sd, y), mu, sd

    def test(fit, pos, neg) -> float:
        w, mu, sd = fit
        return auroc(score(w, (pos - mu) / sd), score(w, (neg - mu) / sd))

    f_probe = probe(frog_tr, none_tr)
    t_probe = probe(toad_tr, none_tr)
    null_ft, null_tf = np.empty(n_permutations), np.empty(n_permutations)
    for i in range(n_permutations):
        yf = rng.permutation(np.r_[np.ones(len(frog_tr)), np.zeros(len(none_tr))])
        yt = rng.permutation(np.r_[np.ones(len(toad_tr)), np.zeros(len(none_tr))])
        null_ft[i] = test(probe(frog_tr, none_tr, yf), toad_te, none_te)
        null_tf[i] = test(probe(toad_tr, none_tr, yt), frog_te, none_te)
    return CrossDecoding(
        within_frog=test(f_probe, frog_te, none_te),
        frog_to_toad=test(f_probe, toad_te, none_te),
        within_toad=test(t_probe, toad_te, none_te),
        toad_to_frog=test(t_probe, frog_te, none_te),
        null_frog_to_toad=null_ft,
        null_toad_to_frog=null_tf,
    )
