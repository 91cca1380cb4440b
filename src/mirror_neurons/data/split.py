"""The split (SPEC section 4): a label-balanced test set, then a seeded validation hold-out.

Rows are unique by their model input ``x`` before the split, so the three
splits are disjoint by content, not only by index: no test input appears in
training (the published split leaked test rows into training, SPEC section 8).
All draws come from one ``np.random.Generator`` per step, spawned from the
dataset's seed.
"""

from __future__ import annotations

import numpy as np

from mirror_neurons.data.config import TEST_LABEL_SHARES
from mirror_neurons.data.dataset import Split
from mirror_neurons.errors import DataError
from mirror_neurons.game.constants import Action

SPLIT_STREAM = 0x5B117
"""Mixed into the seed so the split's generators differ from any other use of the seed."""


def label_quotas(test_size: int, shares: tuple[float, ...] = TEST_LABEL_SHARES) -> np.ndarray:
    """Rows per label (hop, jump, leap, help) summing to ``test_size``, by largest remainder."""
    exact = np.asarray(shares) * test_size
    quotas = np.floor(exact).astype(np.int64)
    short = test_size - int(quotas.sum())
    quotas[np.argsort(-(exact - quotas), kind="stable")[:short]] += 1
    return quotas


def fit_test_size(label: np.ndarray, planned: int, shares: tuple[float, ...] = TEST_LABEL_SHARES) -> int:
    """The largest test size <= ``planned`` whose label quotas take at most half of each label's rows.

    Used when the test size was not given explicitly: small datasets hold few
    *help* rows, and the training split must keep some of every label.
    """
    available = np.bincount(label, minlength=len(shares))[: len(shares)] // 2
    size = planned
    for count, share in zip(available, shares, strict=True):
        if share > 0:
            size = min(size, int(count / share))
    while size > 0 and (label_quotas(size, shares) > available).any():
        size -= 1
    return size


def present_shares(label: np.ndarray, shares: tuple[float, ...] = TEST_LABEL_SHARES) -> tuple[float, ...]:
    """The test mix over the labels that occur at all, renormalised (all four occur in the paper's game).

    At dependency D near 0 the world follows the leading player, Frog never
    reaches column 26 and no state is labeled *help*; the test set is then
    40/40/10 renormalised over hop, jump and leap.
    """
    present = np.bincount(label, minlength=len(shares))[: len(shares)] > 0
    kept = np.where(present, shares, 0.0)
    return tuple(float(v) for v in kept / kept.sum())


def split_rows(
    rows: Split, test_size: int, val_fraction: float, seed: int, shares: tuple[float, ...] = TEST_LABEL_SHARES
) -> dict[str, Split]:
    """``train``/``val``/``test`` from unique rows; each split keeps the rows' original order."""
    test_rng, val_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([seed, SPLIT_STREAM]).spawn(2))
    quotas = label_quotas(test_size, shares)
    test_parts = []
    for action, quota in zip(Action, quotas, strict=True):
        candidates = np.flatnonzero(rows.label == action)
        if len(candidates) < quota:
            raise DataError(
                f"the test set needs {quota:,} '{action.name.lower()}' rows but the dataset has only "
                f"{len(candidates):,}; ask for more states or a smaller test set"
            )
        test_parts.append(test_rng.choice(candidates, size=quota, replace=False))
    test = np.sort(np.concatenate(test_parts)) if test_parts else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(len(rows)), test, assume_unique=True)
    n_val = round(val_fraction * len(rest))
    val = np.sort(val_rng.choice(rest, size=n_val, replace=False))
    train = np.setdiff1d(rest, val, assume_unique=True)
    return {"train": take_rows(rows, train), "val": take_rows(rows, val), "test": take_rows(rows, test)}


def take_rows(rows: Split, index: np.ndarray) -> Split:
    """``rows.take(index)`` keeping ``x`` column-major: one gather per column, no slow uint8 transpose."""
    x_t = np.empty((rows.x.shape[1], len(index)), dtype=rows.x.dtype)  # (100, k)
    source = rows.x.T
    for j in range(len(x_t)):
        x_t[j] = source[j][index]
    return Split(x_t.T, rows.label[index], rows.scenario[index], rows.frog_pos[index])
