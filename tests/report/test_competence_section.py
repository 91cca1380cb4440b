"""Section 3 "Did the networks learn the game?" and the rule that mirror claims use competent checkpoints only."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mirror_neurons.report import plots
from mirror_neurons import tables
from mirror_neurons.report.collect import (
    competent_counts,
    read_checkpoint_table,
    read_curves,
    read_histories,
    read_learning,
)
from mirror_neurons.report.sections import build_sections, section_competence, section_training, verdicts

from .synthetic import CASE_CONFUSION, synthetic_inputs

MIRROR_CLAIMS = 7  # every claim of the summary but the last (the case's accuracy), the question first


def readings(section) -> dict[str, str]:
    return {f.title: f.reading for f in section.figures}


def test_confusion_plot_shades_by_row_share_and_prints_counts():
    fig, ax = plt.subplots()
    artists = plots.plot_confusion(CASE_CONFUSION, ax=ax)
    image, texts = artists[0], artists[1:]
    np.testing.assert_allclose(image.get_array()[2], [0.5, 0, 0.5, 0])  # leap row: 5 of 10 hop, 5 of 10 leap
    assert len(texts) == 16 and texts[0].get_text() == "36\n0.90"
    plt.close(fig)


def test_learning_curves_draw_models_and_baselines_apart():
    fig, ax = plt.subplots()
    curves = {"a": ([1, 2], [0.5, 0.7]), "b": ([1, 2], [0.5, 0.5])}
    artists = plots.plot_learning_curves(
        curves, {"energy rule": 0.5, "bar": 0.65, "missing": float("nan")}, ax=ax, competent=["a"]
    )
    lines, rules = artists[:2], artists[2:]
    assert [line.get_linestyle() for line in lines] == ["-", ":"]  # a competent, b not
    assert [r.get_ydata()[0] for r in rules] == [0.5, 0.65]  # the NaN baseline is not drawn
    plt.close(fig)


def test_section_reads_the_planted_figures():
    inp = synthetic_inputs()
    s = section_competence(inp)
    r = readings(s)
    curves = r["Learning curves against the baselines"]
    # learning curves planted linspace(0.5, 0.6 + 0.05 i, 5): m2 ends highest at 0.7; validation energy rule 0.5
    assert curves.startswith("3 of 3 models reach a competent checkpoint")
    assert "best validation macro recall is 0.700 (m2)" in curves and "energy rule's 0.500" in curves
    assert (
        "recalls hop 0.90, jump 1.00, leap 0.50, help 0.40" in r["Confusion matrices: case checkpoint and energy rule"]
    )
    baselines, per_model = s.tables
    assert [row[0].split(":")[0] for row in baselines.rows] == ["energy rule", "label prior", "ceiling", "label rule"]
    assert baselines.rows[0][1:] == ["0.800", "1.000", "1.000", "0.000", "0.000", "0.500"]
    assert sorted(row[0] for row in per_model.rows) == ["m0", "m1", "m2"] and {row[-1] for row in per_model.rows} == {
        "yes"
    }
    assert any("helps in 0.600 of those turns" in n and "0.600" in n and "1.000" in n for n in s.notes)


def test_no_competent_checkpoint_leaves_every_mirror_claim_not_established():
    inp = synthetic_inputs()
    inp.checkpoints["competent"] = np.zeros(inp.n_checkpoints)
    inp.case.row["competent"] = 0.0
    rows = verdicts(inp)
    assert [r[3] for r in rows[:MIRROR_CLAIMS]] == ["not established"] * MIRROR_CLAIMS
    assert all("did not learn the game" in r[4] for r in rows[:MIRROR_CLAIMS])
    assert rows[-1][0].startswith("Case example reaches test accuracy") and rows[-1][3] != "not established"
    assert "none of them is competent" in section_training(inp).tables[0].caption
    sections = build_sections(inp)
    case = next(s for s in sections if s.id == "case")
    assert "not competent" in case.intro
    chance = next(s for s in sections if s.id == "chance")
    assert [f.title for f in chance.figures][0] == "CMNI, interval and null: checkpoints that are not competent"


def test_claims_count_competent_checkpoints_only():
    inp = synthetic_inputs()
    # CMNI planted 0.001 (i + 1) for checkpoint i of 12, beating chance from i = 4 on (8 of 12); losses
    # linspace(0.09, 0.05, 12) are under 0.06 from i = 9 on. Checkpoints 0, 1, 10 and 11 made incompetent:
    # of the 8 competent (2..9), 6 beat chance (4..9), and only checkpoint 9 is under the loss threshold.
    competent = np.ones(inp.n_checkpoints)
    competent[[0, 1, 10, 11]] = 0
    inp.checkpoints["competent"] = competent
    inp.case.row["competent"] = 1.0  # the case stays competent
    row = next(r for r in verdicts(inp) if r[0].startswith("Positive CMNI beats chance"))
    assert row[2].startswith("6 of 8 checkpoints (75.0 %)")
    table1 = section_training(inp).tables[0]
    assert "competent ones only" in table1.caption and [r[table1.columns.index("epoch")] for r in table1.rows] == ["10"]


def test_the_figure_2_claim_uses_the_case_models_competent_checkpoints_only():
    inp = synthetic_inputs()
    # planted history: CMNI 0.004, 0.009, 0.007, 0.005, 0.003 at epochs 1, 2, 4, 8, 16 (loss 0.06 from epoch 4)
    inp.case.history["competent"] = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    peak = next(r for r in verdicts(inp) if r[0].startswith("CMNI peaks early"))
    assert peak[3] == "not testable at this scale" and "fewer than 4 checkpoints" in peak[2]
    note = next(
        n
        for n in next(s for s in build_sections(inp) if s.id == "over-training").notes
        if "checkpoints of this model are competent" in n
    )
    assert note.startswith("3 of 5 checkpoints of this model are competent (from epoch 4)")


def _epoch(epoch, val_loss, val_macro_recall):
    """One history row as ``train.trainer`` writes it (``tables.RESUME_HISTORY``)."""
    return {
        "epoch": epoch,
        "steps": 10 * epoch,
        "samples": 250 * epoch,
        "train_loss": val_loss + 0.01,
        "val_loss": val_loss,
        "val_mse": val_loss,
        "val_accuracy": 0.8,
        "val_recall": [val_macro_recall] * 4,
        "val_macro_recall": val_macro_recall,
        "is_best": True,
    }


def _state(path, model_id, history):
    """A model folder's ``state.json`` with every key ``train.resume.save_state`` writes (``tables.RESUME_STATE``)."""
    path.mkdir(parents=True)
    state = {
        "model_id": model_id,
        "config": {},
        "epoch": len(history),
        "steps": 10 * len(history),
        "samples": 250 * len(history),
        "best_val_loss": 0.09,
        "best_epoch": len(history),
        "since_best": 0,
        "status": "finished",
        "reason": "",
        "checkpoints": [],
        "history": history,
        "tensors": f"state-e{len(history):04d}.safetensors",
        "tensors_sha256": "0" * 64,
    }
    (path / "state.json").write_text(json.dumps(tables.RESUME_STATE.writing(state, path / "state.json")))


def test_learning_curves_come_from_the_histories(tmp_path):
    _state(tmp_path / "models" / "a", "a", [_epoch(1, 0.1, 0.5), _epoch(2, 0.09, 0.7)])
    notes: list[str] = []
    histories = read_histories(tmp_path)
    curves, metric = read_learning(histories, {"model_id": np.array([]), "epoch": np.array([])}, notes)
    assert metric == "val_macro_recall" and curves["a"][1].tolist() == [0.5, 0.7] and not notes
    assert read_curves(histories, {}, notes)["a"][1].tolist() == [0.1, 0.09] and not notes


def test_without_histories_the_checkpoints_stand_in(tmp_path):
    notes: list[str] = []
    checkpoints = {"model_id": np.array(["b", "b"]), "epoch": np.array([3, 1]), "macro_recall": np.array([0.6, 0.55])}
    curves, metric = read_learning(read_histories(tmp_path / "elsewhere"), checkpoints, notes)
    assert metric == "macro_recall" and curves["b"][0].tolist() == [1, 3] and curves["b"][1].tolist() == [0.55, 0.6]
    assert "test macro recall of the checkpoints" in notes[0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "state.json is not valid JSON"),
        ('{"model_id": "a"}', "state.json is not the resume state .*no key 'epoch'"),
        ("[]", "state.json holds a JSON list, not an object"),
    ],
)
def test_a_damaged_state_file_is_one_line(tmp_path, text, message):
    from mirror_neurons.errors import CheckpointError

    (tmp_path / "models" / "a").mkdir(parents=True)
    (tmp_path / "models" / "a" / "state.json").write_text(text)
    with pytest.raises(CheckpointError, match=message):
        read_histories(tmp_path)


def test_a_history_row_without_the_declared_metric_is_refused(tmp_path):
    from mirror_neurons.errors import CheckpointError

    _state(tmp_path / "models" / "a", "a", [_epoch(1, 0.1, 0.5)])
    f = tmp_path / "models" / "a" / "state.json"
    state = json.loads(f.read_text())
    del state["history"][0]["val_macro_recall"]  # a run older than the metric, or a damaged file
    f.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"record 0: no key 'val_macro_recall'.*delete the model's folder"):
        read_histories(tmp_path)


def _table(path, drop=(), **extra):
    """A one-row checkpoints.parquet with every column the analysis always writes (mirror_neurons.tables), then ``extra``."""
    from mirror_neurons import tables

    typed = {
        "string": ("x", pa.string()),
        "int": (1, pa.int64()),
        "float": (0.5, pa.float64()),
        "bool": (True, pa.bool_()),
    }
    cols = {c.name: pa.array([typed[c.kind][0]], typed[c.kind][1]) for c in tables.CHECKPOINTS.columns if c.always}
    cols.update(
        {
            "model_id": ["m"],
            "epoch": [1],
            "val_loss": [0.1],
            "cmni": [0.01],
            "checkpoint": ["m/e1"],
            "hidden": ["[17, 17]"],
            **extra,
        }
    )
    pq.write_table(pa.table({k: v for k, v in cols.items() if k not in drop}), path)


@pytest.mark.parametrize("value, expected", [(True, 1.0), (False, 0.0), (None, None)])
def test_competent_column_is_read_as_one_zero_or_not_measured(tmp_path, value, expected):
    _table(tmp_path / "t.parquet", competent=pa.array([value], pa.bool_()), macro_recall=[0.7])
    out = read_checkpoint_table(tmp_path / "t.parquet", [])
    assert np.isnan(out["competent"][0]) if expected is None else out["competent"][0] == expected
    assert out["macro_recall"][0] == 0.7
    assert out["hidden"][0] == "17x17" and out["model_id"][0] == "m" and out["checkpoint"][0] == "m/e1"


def test_a_table_without_a_declared_column_is_refused_in_one_line(tmp_path):
    from mirror_neurons.errors import AnalysisError

    _table(tmp_path / "t.parquet", drop=("competent",))
    with pytest.raises(AnalysisError, match=r"no column 'competent'.*run `mirror-neurons analyze`"):
        read_checkpoint_table(tmp_path / "t.parquet", [])
    _table(tmp_path / "t.parquet", cmni=["high"])  # a column of the wrong kind
    with pytest.raises(AnalysisError, match=r"column 'cmni' is string, declared float"):
        read_checkpoint_table(tmp_path / "t.parquet", [])


def test_competent_counts_for_the_facts_table():
    c = {"model_id": np.array(["a", "a", "b", "c"]), "competent": np.array([1.0, 0.0, 0.0, 1.0])}
    assert competent_counts(c) == "2 of 4 / 2 of 3"
    c["competent"][2] = np.nan
    assert competent_counts(c) == "not measured"


def test_the_chance_test_is_read_not_computed(tmp_path):
    notes: list[str] = []
    _table(tmp_path / "t.parquet", p_random_init=[0.01], p_permutation=[0.2], p_chance=[0.3])
    out = read_checkpoint_table(tmp_path / "t.parquet", notes)
    assert out["p_chance"][0] == 0.3 and not [n for n in notes if "p_chance" in n]  # the analysis's value, as it is


def test_a_table_that_predates_the_chance_test_asks_for_the_analysis_again(tmp_path):
    notes: list[str] = []
    _table(tmp_path / "t.parquet", p_random_init=[0.01], p_permutation=[0.2])
    out = read_checkpoint_table(tmp_path / "t.parquet", notes)
    assert np.isnan(out["p_chance"][0])  # never recomputed here
    (note,) = [n for n in notes if "p_chance" in n]
    assert "run `mirror-neurons analyze` again" in note and "\n" not in note
