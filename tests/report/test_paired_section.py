"""The answer first, section 4 "Did training make mirror units?", and the verdicts re-derived (issue 13, items 9-10).

Expected values come from the planted inputs (``synthetic.paired_record``, ``with_initial_checkpoints``) and from
counting, never from the code under test: an exact one-sided Mann-Whitney test with complete separation of 4
against 4 values has p = 1 / C(8, 4) = 1/70; a Wilcoxon floor over 10 models is 1 / 2**10.
"""

from __future__ import annotations

import dataclasses
import json
import re
from html import unescape

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mirror_neurons.errors import AnalysisError
from mirror_neurons.report import plots
from mirror_neurons.report.collect import read_paired
from mirror_neurons.report.html import render_report
from mirror_neurons.report.sections import (
    CLAIM_COLUMNS,
    build_sections,
    section_paired,
    section_summary,
    section_training_time,
    short_configurations,
    verdicts,
)

from .synthetic import (
    CONFIG_BLIND,
    CONFIG_RULE,
    NO_HEADLINE,
    paired_models,
    paired_record,
    synthetic_inputs,
    with_initial_checkpoints,
)


def with_paired(inp, record=None, models=None):
    record = record or paired_record()
    models = (
        models
        if models is not None
        else paired_models(
            {
                **{f"r{i}": (CONFIG_RULE, "rule", "onehot") for i in range(10)},
                **{f"b{i}": (CONFIG_BLIND, "toad_blind", "onehot") for i in range(10)},
            }
        )
    )
    return dataclasses.replace(inp, answer=record["answer"], paired=record, paired_models=models)


def row(rows, start: str) -> dict:
    r = next(r for r in rows if r[0].startswith(start))
    return dict(zip(CLAIM_COLUMNS, r))


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# -- the answer, first ------------------------------------------------------------------------------------------


def test_a_planted_no_is_the_reports_first_paragraph():
    inp = with_paired(synthetic_inputs())
    html = render_report(inp, created="fixed", sections=[])
    page = text(html)
    answer = page.index("Did training make mirror units? No: in 10 competent-recipe networks")
    assert answer < page.index("What this run can and cannot show")
    assert NO_HEADLINE in page and "0.0262 at initialisation, 0.0188 trained" in page
    assert "Decided by: paired test against initialisation." in page
    assert 'class="answer answer-no"' in html


def test_without_paired_json_the_answer_says_not_established_and_how_to_get_it(tmp_path):
    (tmp_path / "analysis").mkdir()
    answer, paired, models = read_paired(tmp_path)
    assert paired is None and models == {} and answer["verdict"] == "not established"
    assert answer["headline"].startswith("Not established") and "rerun `mirror-neurons analyze`" in answer["headline"]
    assert "epoch-0 checkpoints" in answer["headline"]
    inp = dataclasses.replace(synthetic_inputs(), answer=answer)
    page = text(render_report(inp, created="fixed", sections=[]))
    assert page.index("Not established: rerun `mirror-neurons analyze`") < page.index(
        "What this run can and cannot show"
    )
    s = section_paired(inp)
    assert not s.figures and not s.tables and any("analysis/paired.json" in n for n in s.notes)
    question = row(verdicts(inp), "Training makes mirror units")
    assert question["verdict"] == "not established" and question["decided by"].startswith("none")


def test_read_paired_reads_both_files(tmp_path):
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "paired.json").write_text(json.dumps(paired_record()))
    pq.write_table(
        pa.table({"model_id": ["a", "b"], "labels": ["rule", "toad_blind"]}),
        tmp_path / "analysis" / "paired_models.parquet",
    )
    answer, paired, models = read_paired(tmp_path)
    assert answer["verdict"] == "no" and len(paired["configurations"]) == 4
    assert models["labels"].tolist() == ["rule", "toad_blind"]


def test_read_paired_refuses_a_paired_json_without_a_declared_key(tmp_path):
    (tmp_path / "analysis").mkdir()
    record = {k: v for k, v in paired_record().items() if k != "depth"}
    (tmp_path / "analysis" / "paired.json").write_text(json.dumps(record))
    with pytest.raises(AnalysisError, match=r"paired.json .*\(no key 'depth'\); run `mirror-neurons analyze`") as info:
        read_paired(tmp_path)
    assert "\n" not in str(info.value)


# -- section 4 -----------------------------------------------------------------------------------------------


def test_the_section_comes_right_after_competence():
    ids = [s.id for s in build_sections(with_paired(synthetic_inputs()))]
    assert ids[2:5] == ["competence", "paired", "case"]


def test_paired_plot_draws_one_line_per_model_and_the_group_means():
    fig, ax = plt.subplots()
    groups = {
        "rule": ([0.1, 0.2, 0.3], [0.2, 0.3, 0.4], [True, True, False]),
        "toad-blind": ([0.5, 0.5], [0.1, 0.3], [False, False]),
    }
    means = plots.plot_paired(groups, ax=ax)
    assert len(ax.lines) == 3 + 2 + 2 and [m.get_label() for m in means] == ["rule", "toad-blind"]
    np.testing.assert_allclose(means[0].get_ydata(), [0.2, 0.3])
    np.testing.assert_allclose(means[1].get_ydata(), [0.5, 0.2])
    assert list(means[1].get_xdata()) == [3, 4]  # the second group beside the first
    assert [line.get_linestyle() for line in ax.lines[:3]] == ["-", "-", ":"]  # the incompetent model dotted
    plt.close(fig)


def test_section_reads_the_planted_models_and_states_the_floors():
    models = paired_models(
        {
            **{f"s{i}": ("c3", "shuffled", "onehot") for i in range(3)},
            **{f"r{i}": (CONFIG_RULE, "rule", "onehot") for i in range(10)},
            **{f"b{i}": (CONFIG_BLIND, "toad_blind", "onehot") for i in range(10)},
        }
    )
    models["cmni_effect_size_trained"][13:] = 0.0  # the Toad-blind models fall from 0.02 to 0
    s = section_paired(with_paired(synthetic_inputs(), models=models))
    reading = s.figures[0].reading
    # groups in the order rule, Toad-blind, shuffled; each planted 0.02 at init, 0.03 trained (Toad-blind: 0)
    assert (
        reading.index("rule, onehot (10): 10 of 10 models rose (0.0200 -> 0.0300)")
        < reading.index("toad-blind, onehot (10): 0 of 10 models rose (0.0200 -> 0.0000)")
        < reading.index("shuffled, onehot (3): 3 of 3")
    )
    assert "What to conclude: No: in 10 competent-recipe networks" in reading
    configs, nulls = s.tables
    assert "floor" in configs.caption and "1 / 2^n" in configs.caption and "floor" in nulls.caption
    first = dict(zip(configs.columns, configs.rows[0]))
    assert (
        first["configuration"] == "encoding=onehot, hidden=[17, 17], labels=rule"
        and first["measure"] == "scale-free mirror index"
    )
    assert first["floor"] == "0.000977" and first["p"] == "0.9860" and first["models"] == "10"  # 1 / 2**10
    blind = dict(zip(nulls.columns, nulls.rows[0]))
    assert blind["null"] == "toad_blind" and blind["p"] == "0.0057" and blind["floor"] == "0.00000540"
    assert any(n.startswith("Answer: No:") for n in s.notes)


def test_configurations_are_named_by_what_tells_them_apart():
    short = short_configurations(
        ["a=1, hidden=[17, 17], labels=rule", "a=1, hidden=[17, 17], labels=toad_blind", "a=2, hidden=[6], labels=rule"]
    )
    assert short == {
        "a=1, hidden=[17, 17], labels=rule": "a=1, hidden=[17, 17], labels=rule",
        "a=1, hidden=[17, 17], labels=toad_blind": "a=1, hidden=[17, 17], labels=toad_blind",
        "a=2, hidden=[6], labels=rule": "a=2, hidden=[6], labels=rule",
    }
    assert short_configurations(["a=1, hidden=[6], labels=rule"]) == {
        "a=1, hidden=[6], labels=rule": "hidden=[6], labels=rule"
    }


# -- verdicts re-derived -------------------------------------------------------------------------------------


def test_every_claim_names_what_decided_it():
    inp = with_paired(synthetic_inputs())
    s = section_summary(inp)
    assert s.tables[0].columns[-1] == "decided by" and all(r[-1] for r in s.tables[0].rows)
    assert "judged on the 12 competent checkpoints only" in s.intro
    question = row(verdicts(inp), "Training makes mirror units")
    assert question["verdict"] == "not reproduced" and question["reason"] == NO_HEADLINE
    assert question["decided by"] == "paired test against initialisation"


def test_our_own_claim_is_not_established_never_not_reproduced():
    inp = synthetic_inputs()
    inp.checkpoints["p_chance"] = np.full(inp.n_checkpoints, 0.4)  # no checkpoint beats chance
    r = row(verdicts(inp), "Positive CMNI beats chance")
    assert r["verdict"] == "not established" and "0 of 12 checkpoints" in r["this run"]
    inp.checkpoints["p_chance"] = np.full(inp.n_checkpoints, 0.01)
    assert row(verdicts(inp), "Positive CMNI beats chance")["verdict"] == "established"
    inp.checkpoints["p_chance"] = np.full(inp.n_checkpoints, np.nan)  # analysed without controls
    r = row(verdicts(inp), "Positive CMNI beats chance")
    assert r["verdict"] == "not established" and "without chance controls" in r["this run"]


def depth_record(n_deep: int, n_shallow: int, p_value: float | None, p_floor: float) -> dict:
    """``paired.json``'s ``depth`` as ``analysis.paired.depth_comparison`` writes it, planted."""
    return {
        "rule": "planted",
        "measure": "cmni",
        "n_deep": n_deep,
        "n_shallow": n_shallow,
        "median_deep": 0.0003,
        "median_shallow": 0.006,
        "p_value": p_value,
        "p_floor": p_floor,
    }


def test_table_2_is_laid_out_from_the_model_level_test_of_the_analysis():
    record = {**paired_record(), "depth": depth_record(4, 4, 1 / 70, 1 / 70)}
    r = row(verdicts(with_paired(synthetic_inputs(), record=record)), "Three-layer models")
    assert "4 three-layer and 4 shallower models" in r["this run"] and "over 8 models, p = 0.0143" in r["reason"]
    assert r["verdict"] == "reproduced" and "model-level" in r["decided by"]
    record["depth"] = depth_record(4, 4, 0.3, 1 / 70)
    assert (
        row(verdicts(with_paired(synthetic_inputs(), record=record)), "Three-layer models")["verdict"]
        == "not reproduced"
    )


def test_table_2_with_too_few_models_is_not_testable_and_says_the_count():
    record = {**paired_record(), "depth": depth_record(2, 2, None, 1 / 6)}
    r = row(verdicts(with_paired(synthetic_inputs(), record=record)), "Three-layer models")
    assert r["verdict"] == "not testable at this scale" and "2 three-layer and 2 shallower models" in r["this run"]
    assert "0.167" in r["reason"]
    without_depth = {k: v for k, v in paired_record().items() if k != "depth"}  # read_paired refuses this file
    r = row(verdicts(with_paired(synthetic_inputs(), record=without_depth)), "Three-layer models")
    assert r["verdict"] == "not established" and "analyze" in r["reason"]  # an analysis without the depth test


def case_inputs(init_mirror: int, n_mirror_p: float | None = 0.001):
    """The synthetic case (model m2, 2 mirror units in its row) with epoch-0 checkpoints holding init_mirror mirror
    units, and a paired test of the mirror-unit count of its configuration with p = n_mirror_p (None: no test)."""
    inp = with_initial_checkpoints(synthetic_inputs(), n_mirror=init_mirror)
    record = paired_record(n_mirror_p=n_mirror_p if n_mirror_p is not None else 0.5)
    if n_mirror_p is None:
        record["configurations"] = [t for t in record["configurations"] if t["measure"] != "n_mirror"]
    models = paired_models({"m2": (CONFIG_RULE, "rule", "onehot"), "m1": (CONFIG_RULE, "rule", "onehot")})
    return with_paired(inp, record=record, models=models)


def test_case_claim_against_its_own_initialisation():
    # the case row has 2 mirror units; its epoch-0 checkpoint planted with 2: training added none
    r = row(verdicts(case_inputs(init_mirror=2)), "About 4 of 17")
    assert r["verdict"] == "not reproduced" and "already had 2 mirror units" in r["reason"]
    assert "whole network: 2 trained, 2 at its own epoch 0" in r["this run"] and "epoch-0 checkpoint" in r["decided by"]


def test_case_claim_needs_the_paired_test_of_the_mirror_count():
    r = row(verdicts(case_inputs(init_mirror=0, n_mirror_p=0.001)), "About 4 of 17")
    assert r["verdict"] == "reproduced" and "p = 0.0010" in r["reason"] and "paired test" in r["decided by"]
    r = row(verdicts(case_inputs(init_mirror=0, n_mirror_p=0.0625)), "About 4 of 17")
    assert r["verdict"] == "not reproduced" and "did not raise the mirror-unit count" in r["reason"]
    r = row(verdicts(case_inputs(init_mirror=0, n_mirror_p=None)), "About 4 of 17")
    assert r["verdict"] == "not established" and "no paired test" in r["reason"]


def test_case_claim_without_an_epoch_0_checkpoint_is_not_established():
    r = row(verdicts(synthetic_inputs()), "About 4 of 17")
    assert r["verdict"] == "not established" and "no epoch-0 checkpoint" in r["this run"]


def test_figure_2_view_starts_at_epoch_0_with_the_scale_free_curve():
    inp = synthetic_inputs()
    h = inp.case.history
    inp.case.history = {
        "epoch": np.r_[0, h["epoch"]],
        "cmni": np.r_[0.02, h["cmni"]],
        "val_loss": np.r_[0.3, h["val_loss"]],
        "competent": np.r_[0.0, h["competent"]],
        "init": np.r_[1.0, np.zeros(5)],
        "cmni_effect_size": np.array([0.05, 0.04, 0.03, 0.03, 0.02, 0.01]),
    }
    reading = section_training_time(inp).figures[0].reading
    assert "peaks at epoch 0 (0.0200)" in reading  # the untrained network's raw CMNI is the highest
    assert "At epoch 0 (its initial weights) CMNI is 0.0200, against 0.0030 at the last checkpoint" in reading
    assert (
        "scale-free index is 0.0500 at epoch 0 and 0.0100 at the last checkpoint (not above its initialisation)"
        in reading
    )
    # the Figure 2 claim still counts from the paper's loss level (epoch 4 on), and says where the scale-free index went
    r = row(verdicts(inp), "CMNI peaks early")
    assert "from epoch 4" in r["this run"] and "from 0.0500 at epoch 0 to 0.0100" in r["reason"]


def test_figure_2_view_of_an_older_run_says_it_has_no_epoch_0():
    reading = section_training_time(synthetic_inputs()).figures[0].reading
    assert "no epoch-0 checkpoint" in reading and "start at epoch 1" in reading


def test_index_over_training_marks_the_initial_value():
    fig, ax = plt.subplots()
    line, init = plots.plot_index_over_training([0, 1, 2, 4], [0.05, 0.04, 0.06, 0.03], ax=ax)
    assert list(line.get_xdata()) == [0, 1, 2, 4] and init.get_ydata()[0] == 0.05 and ax.get_xscale() == "symlog"
    plt.close(fig)
