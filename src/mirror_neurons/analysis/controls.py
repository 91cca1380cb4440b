"""Controls for a checkpoint's CMNI: null distributions, p-values and a confidence interval.

* **Random initialisation**: the same architecture, freshly Glorot-initialised
  with ``n`` seeds (one ``torch.Generator`` per seed), run on the same test
  states. Answers: is the trained index larger than an untrained network's?
* **Label permutation**: the same trained network, its activations fixed, with
  the none/frog/toad group labels permuted across those states. Answers: is the
  index larger than the positive bias that ``min(.,.) if both > 0`` puts on pure
  noise? Vectorised: a chunk of permutations becomes a one-hot matrix
  (states, 3 x chunk) and all group sums are one matrix product.
* **Bootstrap**: states resampled with replacement within each group
  (stratified; group sizes fixed), percentile interval of the CMNI.

p-values are ``(1 + #{null >= observed}) / (1 + n)``, which is never 0 and is
exact for a Monte Carlo test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.cmni import mirror_scores
from mirror_neurons.analysis.groups import Groups
from mirror_neurons.train.model import MLP, ModelConfig


@dataclass(frozen=True)
class NullTest:
    observed: float
    null: np.ndarray  # (n,)

    @property
    def p_value(self) -> float:
        return float((1 + np.sum(self.null >= self.observed)) / (1 + len(self.null)))


def monte_carlo_p(observed: float, null: np.ndarray) -> float:
    return NullTest(observed, np.asarray(null)).p_value


def _cmni_from_sums(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """sums (k, 3, units) of none, frog, toad -> CMNI (k,)."""
    mean = sums / counts[None, :, None]
    mns = mirror_scores(mean[:, 1] - mean[:, 0], mean[:, 2] - mean[:, 0])
    return mns.mean(axis=1)


def _three(a: np.ndarray, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
    """The none/frog/toad states' activations (m, units) and their labels 0/1/2 (m,)."""
    idx = [groups.index(g) for g in ("none", "frog", "toad")]
    labels = np.concatenate([np.full(len(i), k, dtype=np.int64) for k, i in enumerate(idx)])
    return np.asarray(a[np.concatenate(idx)], dtype=np.float32), labels


def permutation_null(a: np.ndarray, groups: Groups, n: int, rng: np.random.Generator, *, chunk: int = 32) -> np.ndarray:
    """CMNI (n,) of ``a`` (states, units: the units the index counts) with group labels permuted."""
    x, labels = _three(a, groups)
    counts = np.bincount(labels, minlength=3).astype(np.float64)
    out = []
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        perm = np.stack([rng.permutation(labels) for _ in range(k)], axis=1)  # (m, k)
        onehot = np.zeros((len(labels), k * 3), dtype=np.float32)
        onehot[np.arange(len(labels))[:, None], perm + 3 * np.arange(k)[None, :]] = 1.0
        sums = (onehot.T @ x).astype(np.float64).reshape(k, 3, -1)
        out.append(_cmni_from_sums(sums, counts))
    return np.concatenate(out) if out else np.zeros(0)


def bootstrap_cmni(a: np.ndarray, groups: Groups, n: int, rng: np.random.Generator) -> np.ndarray:
    """CMNI (n,) of stratified bootstrap resamples of the test states."""
    x, labels = _three(a, groups)
    counts = np.bincount(labels, minlength=3)
    sums = np.zeros((n, 3, x.shape[1]))
    for g in range(3):
        xg = x[labels == g]
        w = np.stack([np.bincount(rng.integers(0, counts[g], counts[g]), minlength=counts[g]) for _ in range(n)])
        sums[:, g] = w.astype(np.float32) @ xg
    return _cmni_from_sums(sums, counts.astype(np.float64))


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def random_init_null(
    config: ModelConfig, x: torch.Tensor | np.ndarray, groups: Groups, seeds: np.ndarray, *, hidden_only: bool = False
) -> np.ndarray:
    """CMNI (len(seeds),) of freshly initialised models of ``config`` on states ``x``."""
    only = ("none", "frog", "toad")
    index = [groups.index(g) for g in only]
    sub = torch.as_tensor(np.concatenate(index))
    xs = x[sub] if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, dtype=np.float32)[sub.numpy()])
    bounds = np.cumsum([0] + [len(i) for i in index])  # the three groups are contiguous in xs
    counts = np.diff(bounds).astype(np.float64)
    model = MLP(config)
    out = np.empty(len(seeds))
    for i, s in enumerate(seeds):
        model.reset_parameters(torch.Generator().manual_seed(int(s)))
        acts = capture(model, xs)
        layers = list(acts.values())[:-1] if hidden_only else list(acts.values())
        sums = np.stack(
            [np.concatenate([a[bounds[k] : bounds[k + 1]].sum(axis=0, dtype=np.float64) for a in layers]) for k in range(3)]
        )  # (3, units)
        out[i] = _cmni_from_sums(sums[None], counts)[0]
    return out
