"""Cross-decoding: does one linear read-out see both players' distress? (a population measure, ours)

For a layer's activations, a linear probe is trained to tell frog-distress
states from no-distress states, on half of each group. It is tested within
(the other half of frog vs the other half of none) and **across**: toad-distress
vs the held-out none states. The reverse probe (trained on toad vs none, tested
on frog vs none) is reported too. Scores are AUROC, which ignores the probe's
threshold (a probe can rank correctly across players while its bias is off).

The probe is ridge least squares on standardised features (``fit_ridge``, L2
1e-2 per state): for two classes its direction is Fisher's discriminant, the
same kind of linear read-out as a logistic regression (``fit_logistic``, kept
for comparison), but the permuted-label refits below share one matrix
factorisation: all of them are one solve with many right-hand sides, so 99
permutations cost about what one logistic fit did.

**Composition matching** (when the groups are matched, the default): the
states drawn for each group follow the none group's stratum composition
(energy x Frog's band x label; ``groups``), in training and test halves alike,
so a probe cannot transfer through energy or position alone.

Chance level: the probe is refitted with its training labels permuted
``n_permutations`` times; the cross AUROC of each is the null distribution,
and p = (1 + #{null >= observed}) / (1 + n), floor 1 / (1 + n). What this
null is: a probe fitted to permuted labels is an essentially arbitrary read-out
direction, so the null asks whether the frog-trained direction transfers better
than arbitrary directions do. When distress shifts many units of a layer
together, arbitrary directions transfer too and the null is wide; the test is
then conservative, never liberal. Hence the **baselines** beside every trained
layer (``pipeline``): the same probe on the raw input (the 100 integers; its
transfer is what the symbols themselves share) and on the same layer of
untrained networks of the same architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mirror_neurons.analysis.groups import Groups
from mirror_neurons.analysis.stats import empirical_p, mann_whitney
from mirror_neurons.errors import AnalysisError


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


def fit_ridge(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2) -> np.ndarray:
    """Weights (features + 1, k) of ridge least squares of targets ``y`` (n,) or (n, k) on ``x`` (n, features).

    The intercept (last row) is not penalised. Many target columns share one solve.
    """
    xb = np.hstack([x, np.ones((len(x), 1))])
    reg = np.full(xb.shape[1], l2 * len(x))
    reg[-1] = 0.0
    gram = np.einsum("nf,ng->fg", xb, xb) + np.diag(reg) + 1e-9 * np.eye(xb.shape[1])
    y2 = y.reshape(len(y), -1).astype(np.float64)
    # torch's solver on the analysis's own threads (NumPy's threaded LAPACK stalls on a busy machine)
    return torch.linalg.solve(torch.from_numpy(gram), torch.from_numpy(np.einsum("nf,nk->fk", xb, y2))).numpy()


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
    def p_floor(self) -> float:
        """The smallest p-value its permutations can give: 1 / (1 + n)."""
        return 1.0 / (1 + len(self.null_frog_to_toad))

    @property
    def p_frog_to_toad(self) -> float:
        return empirical_p(self.null_frog_to_toad, self.frog_to_toad)

    @property
    def p_toad_to_frog(self) -> float:
        return empirical_p(self.null_toad_to_frog, self.toad_to_frog)


def _halves(groups: Groups, rng: np.random.Generator, max_per_group: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) state indices of none, frog and toad; matched groups: each half in the none group's composition."""
    for g in ("none", "frog", "toad"):
        if len(groups.index(g)) < 2:
            raise AnalysisError(
                f"scenario group {g!r} has fewer than 2 states; cross-decoding needs a train and a test half"
            )
    if not groups.matched:
        out = []
        for g in ("none", "frog", "toad"):
            idx = rng.permutation(groups.index(g))[: 2 * max_per_group]
            out.append((idx[: len(idx) // 2], idx[len(idx) // 2 :]))
        return out
    counts, pi = groups.cell_counts()[:3], groups.target()[0]
    # the largest sample per group that every cell can supply at the none group's composition
    m = min(2 * max_per_group, int(np.min(counts[:, pi > 0] / pi[pi > 0])))
    take = np.floor(pi * m).astype(int)
    out = []
    for g in range(3):
        train, test = [], []
        for s, k in enumerate(take):
            idx = rng.permutation(np.arange(groups.n)[groups.cells[g][s]])[:k]
            train.append(idx[: k // 2])
            test.append(idx[k // 2 :])
        out.append((np.concatenate(train), np.concatenate(test)))
    if min(len(t) for pair in out for t in pair) == 0:
        raise AnalysisError(
            "composition-matched cross-decoding drew no states for a group; use a larger test set or --paper-view"
        )
    return out


def cross_decode(
    a: np.ndarray, groups: Groups, rng: np.random.Generator, *, n_permutations: int = 39, max_per_group: int = 2000
) -> CrossDecoding:
    """Cross-decoding of one layer's activations ``a`` (n, units); see the module docstring."""
    (none_tr, none_te), (frog_tr, frog_te), (toad_tr, toad_te) = (
        (np.asarray(a[tr], np.float64), np.asarray(a[te], np.float64)) for tr, te in _halves(groups, rng, max_per_group)
    )

    def direction(pos: np.ndarray, neg: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The probe on pos vs neg (column 0) and on ``k`` permutations of its labels (columns 1..k)."""
        x = np.vstack([pos, neg])
        mu, sd = x.mean(0), x.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        targets = np.column_stack([y, rng.permuted(np.tile(y, (k, 1)), axis=1).T]) if k else y[:, None]
        return fit_ridge((x - mu) / sd, targets), mu, sd

    def test(fit, pos, neg) -> np.ndarray:
        """AUROC of every probe column on pos vs neg."""
        w, mu, sd = fit
        sp, sn = (np.einsum("nf,fk->nk", (z - mu) / sd, w[:-1]) + w[-1] for z in (pos, neg))  # einsum: see fit_logistic
        return mann_whitney(sp, sn).auroc

    f = direction(frog_tr, none_tr, n_permutations)
    t = direction(toad_tr, none_tr, n_permutations)
    f_cross, t_cross = test(f, toad_te, none_te), test(t, frog_te, none_te)
    return CrossDecoding(
        within_frog=float(test((f[0][:, :1], f[1], f[2]), frog_te, none_te)[0]),
        frog_to_toad=float(f_cross[0]),
        within_toad=float(test((t[0][:, :1], t[1], t[2]), toad_te, none_te)[0]),
        toad_to_frog=float(t_cross[0]),
        null_frog_to_toad=f_cross[1:],
        null_toad_to_frog=t_cross[1:],
    )
