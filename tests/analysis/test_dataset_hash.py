"""A checkpoint is analysed only against the dataset it records (issue 14, items 3 and the warning text)."""

from __future__ import annotations

import warnings

import pyarrow.parquet as pq
import pytest

from analysis_synth import random_model
from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_run
from mirror_neurons.errors import DataError
from mirror_neurons.train.checkpoint import save_checkpoint
from test_pipeline import make_data

QUICK = AnalysisConfig(controls=False, significance=False, statistics=False, behaviour_games=4, behaviour_turns=20)


def test_checkpoint_without_a_dataset_hash_is_refused_unless_allowed(tmp_path):
    data = make_data(tmp_path / "data")
    save_checkpoint(
        tmp_path / "run" / "m0" / "epoch-0001", random_model((6, 5), seed=1), {"model_id": "m0", "epoch": 1}
    )
    with pytest.raises(DataError, match="records no dataset hash .*--allow-other-data to analyse anyway"):
        analyze_run(tmp_path / "run", data, QUICK)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = analyze_run(tmp_path / "run", data, QUICK, allow_other_data=True)
    [message] = [str(w.message) for w in caught if "dataset hash" in str(w.message)]
    assert "analysed anyway" in message and "pass" not in message  # no advice to pass the flag already passed
    assert pq.read_table(out / "checkpoints.parquet").num_rows == 1
