"""A whole study at a tiny size in ``ROOT/runs/demo``, where the docs' snippets and the examples look for it.

30,000 states, two tiny models for a few short epochs, the analysis with small control sizes, a small report:
the same layout ``make demo`` leaves (``runs/demo/data``, ``runs/demo/sweep``, ``runs/demo/sweep/analysis``),
in seconds rather than minutes.
"""

from __future__ import annotations

from pathlib import Path

from mirror_neurons.analysis.pipeline import AnalysisConfig
from mirror_neurons.data.config import DataConfig
from mirror_neurons.study import run_study
from mirror_neurons.train.sweep import parse_sweep

TINY_SWEEP = {
    "sweep": {"name": "tiny", "seed": 7, "replicates": 1},
    "limits": {"max_epochs": 3, "patience": 2, "epoch_rows": 1500},
    "defaults": {"dropout": 0.12, "batch_size": 25},
    "configs": [{"hidden": [8, 8], "lr": 3e-3}, {"hidden": [6], "lr": 5e-3}],
}
TINY_ANALYSIS = AnalysisConfig(
    n_random_init=20,
    n_permutations=20,
    n_bootstrap=20,
    n_decoding_permutations=20,
    n_ablation_draws=20,
    n_decoding_untrained=1,
    min_stratum_states=2,
    behaviour_games=8,
    behaviour_turns=20,
)


def make_tiny_run(root: Path) -> Path:
    """Build ``root/runs/demo`` (data, sweep, analysis and report); returns the run folder."""
    out = Path(root) / "runs" / "demo"
    run_study(
        "demo",
        out,
        data_config=DataConfig.preset("demo", n_states=30_000, seed=5),
        sweep=parse_sweep(TINY_SWEEP),
        analysis_config=TINY_ANALYSIS,
        progress=False,
        analysis_workers=1,
    )
    return out
