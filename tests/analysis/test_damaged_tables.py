"""A truncated analysis table or a garbage part file is named in one AnalysisError (issue 14)."""

from __future__ import annotations

import pytest

from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_run
from mirror_neurons.errors import AnalysisError
from test_pipeline import make_data, make_run

QUICK = AnalysisConfig(controls=False, significance=False, statistics=False, behaviour_games=4, behaviour_turns=20)


@pytest.fixture
def analysed(tmp_path):
    data = make_data(tmp_path / "data")
    import json

    make_run(
        tmp_path / "run", json.loads((data / "manifest.json").read_text())["dataset_hash"], n_models=1, epochs=(1,)
    )
    return analyze_run(tmp_path / "run", data, QUICK), data


def test_truncated_checkpoint_table(analysed):
    out, data = analysed
    table = out / "checkpoints.parquet"
    table.write_bytes(table.read_bytes()[:50])
    with pytest.raises(
        AnalysisError, match=r"checkpoints.parquet is damaged \(.*\); remove it and run `mirror-neurons analyze` again"
    ):
        analyze_run(out.parent, data, QUICK)


def test_garbage_part_file(analysed):
    out, data = analysed
    (out / "parts").mkdir(exist_ok=True)
    (out / "parts" / "000007-1.checkpoints.parquet").write_bytes(b"garbage")
    with pytest.raises(AnalysisError, match="000007-1.checkpoints.parquet is damaged"):
        analyze_run(out.parent, data, QUICK)
