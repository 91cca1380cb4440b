"""The case example (analysis.case): chosen by its stated rule, measured and written by the analysis, read back whole."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mirror_neurons.analysis import case
from mirror_neurons.analysis.circuits import self_preservation
from mirror_neurons.analysis.pipeline import CHANCE_P, chance_columns
from mirror_neurons.errors import AnalysisError


def table(**columns) -> dict[str, list]:
    base = {
        "val_loss": [0.05, 0.05, 0.05],
        "n_layers": [2, 2, 2],
        "n_mirror": [5, 1, 0],
        "p_random_init": [0.01] * 3,
        "p_permutation": [0.01] * 3,
        "cmni": [0.01] * 3,
        "competent": [False, True, True],
        "init": [False] * 3,
    }
    t = {**base, **columns}
    rows = [{k: t[k][i] for k in ("p_random_init", "p_permutation")} for i in range(len(t["cmni"]))]
    t[CHANCE_P] = [chance_columns(r)[CHANCE_P] for r in rows]  # the analysis's chance test, as analyze_run writes it
    return t


def test_the_case_is_chosen_among_competent_checkpoints():
    assert case.choose_case(table()) == 1  # the most mirror units among the competent, not overall
    assert case.choose_case(table(competent=[False] * 3)) == 0  # none competent: among all
    assert case.choose_case(table(competent=[None] * 3)) == 0  # not measured counts as not competent


def test_ties_go_to_the_smaller_p_then_the_larger_cmni_and_epoch_0_is_never_the_case():
    t = table(n_mirror=[2, 2, 2], competent=[True] * 3, p_permutation=[0.2, 0.01, 0.01], cmni=[0.1, 0.01, 0.02])
    assert case.choose_case(t) == 2  # p: rows 1 and 2 tie at 0.01 (the larger of the two nulls); CMNI decides
    t["init"] = [False, False, True]
    assert case.choose_case(t) == 1
    assert case.choose_case(table(init=[True] * 3)) is None


def test_without_a_loss_under_the_threshold_the_lowest_quarter_is_eligible():
    t = table(
        val_loss=[0.2, 0.1, 0.3, 0.4],
        n_layers=[2] * 4,
        n_mirror=[9, 1, 0, 0],
        p_random_init=[0.01] * 4,
        p_permutation=[0.01] * 4,
        cmni=[0.01] * 4,
        competent=[True] * 4,
        init=[False] * 4,
    )
    assert case.choose_case(t) == 1  # row 0 has more mirror units but is not in the lowest-loss quarter
    assert case.choose_case(t, min_layers=3) is None


def planted_kernels(target: int) -> list[np.ndarray]:
    """Mirror units 0 and 1 of layer 1 feed layer-2 unit 3 (weight 2 against -0.2), which feeds action ``target``."""
    w2 = np.full((4, 6), -0.2)
    w2[3, [0, 1]] = 2.0
    w3 = np.full((4, 4), -0.2)
    w3[target, 3] = 3.0
    return [np.zeros((6, 100)), w2, w3]


@pytest.mark.parametrize("target, name", [(2, "leap"), (3, "help")])
def test_self_preservation_follows_the_planted_wiring(target, name):
    classes = ["mirror", "mirror", "other", "other", "other", "other"]
    sp = self_preservation(planted_kernels(target), classes)
    assert sp["mirror_units"] == [0, 1] and sp["hub"] == 3 and sp["output"] == name
    # z of 2.0 in a kernel of 22 x -0.2 and 2 x 2.0: mean -0.01667, sd computed by hand from those values
    w = np.array([2.0] * 2 + [-0.2] * 22)
    assert sp["mirror_z"] == pytest.approx((2.0 - w.mean()) / w.std())
    assert self_preservation(planted_kernels(target), ["other"] * 6) == {"mirror_units": []}
    with pytest.raises(ValueError, match="second hidden layer"):
        self_preservation(planted_kernels(target)[:2], classes)


def test_an_analysed_run_has_a_case_the_report_reads_whole(tmp_path):
    """analyze_run writes case.json and case.safetensors; read_case gives back every array the report draws."""
    from test_pipeline import FAST, make_data, make_run

    from mirror_neurons.analysis.pipeline import analyze_run

    data = make_data(tmp_path / "data")
    ds_hash = json.loads((data / "manifest.json").read_text())["dataset_hash"]
    make_run(tmp_path / "run", ds_hash, n_models=2, epochs=(1, 3))
    out = analyze_run(tmp_path / "run", data, FAST)
    fields, arrays = case.read_case(out)
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "checkpoints.parquet").to_pydict()
    assert fields["checkpoint"] == rows["checkpoint"][case.choose_case(rows)]
    names = fields["layer_names"]
    assert names == ["dense_0", "dense_1", "dense_2"] and [len(c) for c in fields["classes"]] == [6, 5, 4]
    for key in ("means", "variance", "skewness", "kurtosis"):
        assert [arrays[f"{key}.{n}"].shape for n in names] == [(6, 4), (5, 4), (4, 4)]
    assert [arrays[f"kernel.{k}"].shape for k in range(3)] == [(6, 100), (5, 6), (4, 5)]
    assert len(fields["episode"]) == 10 and fields["rule"] == case.CASE_RULE
    assert fields["nulls"] == ["random init", "permuted labels"] and arrays["nulls.1"].shape == (FAST.n_permutations,)
    assert (
        fields["self_preservation"] is not None and fields["self_preservation"]["checkpoint"] == "the case checkpoint"
    )
    assert "NaN" not in (out / case.CASE_FILE).read_text()
    b = fields["behaviour"]  # the network, the labeling rule and random play on the same seeded games
    assert (b["games"], b["turns"]) == (FAST.behaviour_games, FAST.behaviour_turns) and len(b["values"]) == 3
    assert all(len(v) == len(b["metrics"]) for v in b["values"].values())


def test_a_damaged_case_file_is_one_error(tmp_path):
    (tmp_path / case.CASE_FILE).write_text("{}")
    (tmp_path / case.CASE_ARRAYS).write_bytes(b"not safetensors")
    with pytest.raises(AnalysisError, match=r"case.safetensors cannot be read .*run `mirror-neurons analyze`"):
        case.read_case(tmp_path)
    assert case.read_case(tmp_path / "elsewhere") is None
