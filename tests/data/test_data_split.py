"""The split: 40/40/10/10 test set, disjoint from training by row content, seeded validation hold-out."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neurons.data.dataset import Split
from mirror_neurons.data.split import fit_test_size, label_quotas, present_shares, split_rows
from mirror_neurons.errors import DataError


def unique_rows(n: int, seed: int = 0) -> Split:
    """n distinct random rows with a label mix like the real one (help rare)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 11, size=(n, 100), dtype=np.uint8)
    x[:, 0:8] = np.arange(n)[:, None] >> (8 * np.arange(8)[None, :]) & 0xFF  # distinct by construction
    label = rng.choice(4, size=n, p=[0.4, 0.5, 0.08, 0.02]).astype(np.uint8)
    return Split(
        np.asfortranarray(x), label, rng.integers(0, 4, n, dtype=np.uint8), rng.integers(0, 32, n, dtype=np.uint8)
    )


def as_set(split: Split) -> set[bytes]:
    return {row.tobytes() for row in np.ascontiguousarray(split.x)}


def test_quotas_are_40_40_10_10_and_sum_to_the_size():
    assert label_quotas(100_000).tolist() == [40_000, 40_000, 10_000, 10_000]
    assert label_quotas(5_000).tolist() == [2_000, 2_000, 500, 500]
    assert label_quotas(7).sum() == 7


def test_split_is_balanced_disjoint_by_content_and_seeded():
    rows = unique_rows(20_000)
    splits = split_rows(rows, test_size=1_000, val_fraction=0.2, seed=11)
    test, train, val = splits["test"], splits["train"], splits["val"]
    assert np.bincount(test.label, minlength=4).tolist() == [400, 400, 100, 100]
    assert len(val) == round(0.2 * 19_000) and len(train) + len(val) + len(test) == 20_000
    test_rows, train_rows, val_rows = as_set(test), as_set(train), as_set(val)
    assert not test_rows & train_rows and not test_rows & val_rows and not train_rows & val_rows
    assert test_rows | train_rows | val_rows == as_set(rows)
    again = split_rows(rows, test_size=1_000, val_fraction=0.2, seed=11)
    other = split_rows(rows, test_size=1_000, val_fraction=0.2, seed=12)
    np.testing.assert_array_equal(again["val"].x, val.x)
    assert as_set(other["val"]) != val_rows
    assert all(s.x.flags["F_CONTIGUOUS"] for s in splits.values())  # Parquet columns without a transpose


def test_too_few_rows_of_a_label_is_named():
    rows = unique_rows(2_000)
    n_help = int((rows.label == 3).sum())
    with pytest.raises(DataError, match=f"'help' rows but the dataset has only {n_help}"):
        split_rows(rows, test_size=10 * n_help + 10, val_fraction=0.2, seed=0)


def test_automatic_test_size_leaves_half_of_each_label_for_training():
    rows = unique_rows(2_000)
    size = fit_test_size(rows.label, 1_000)
    n_help = int((rows.label == 3).sum())
    assert 0 < size < 1_000
    assert label_quotas(size)[3] <= n_help // 2 < label_quotas(size + 10)[3]
    assert fit_test_size(rows.label, 50) == 50


def test_a_label_that_never_occurs_is_left_out_of_the_mix():
    rows = unique_rows(5_000)
    no_help = rows.take(np.flatnonzero(rows.label != 3))
    shares = present_shares(no_help.label)
    assert np.allclose(shares, (4 / 9, 4 / 9, 1 / 9, 0.0))
    size = fit_test_size(no_help.label, 900, shares)
    assert size == 900
    test = split_rows(no_help, size, 0.2, seed=1, shares=shares)["test"]
    assert np.bincount(test.label, minlength=4).tolist() == [400, 400, 100, 0]
