"""The RL section: a synthetic finished ``experiment rl`` folder, read by ``experiments.rl.load_summary`` and laid out.

Every expected value below follows from the numbers written here (four agents per cell, round values), not from
the code's output: e.g. the selfish agents' help rates 0.002 and 0.004 read "0.2 % to 0.4 %".
"""

from __future__ import annotations

import math

import pytest

from mirror_neurons import atomic
from mirror_neurons.errors import AnalysisError
from mirror_neurons.experiments.rl import load_summary
from mirror_neurons.report.sections import MISSING, interval_cell, section_rl

CELLS = {  # (reward, D) -> help rate, score per turn, mirror change (cell means)
    ("selfish", 0.0): (0.002, 0.96, -0.02),
    ("shared", 0.0): (0.030, 0.93, -0.03),
    ("selfish", 1.0): (0.004, 0.89, -0.01),
    ("shared", 1.0): (0.020, 0.90, 0.01),
}


def iv(mean: float, half: float = 0.01, n: int = 4) -> dict:
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def policy(help_rate: float, jump0: float = 1.0) -> dict:
    keys = ("return_selfish", "return_shared", "score_per_turn", "survival", "partner_survival")
    return {k: iv(v) for k, v in zip(keys, (380.0, 620.0, 0.9, 1.0, 0.8))} | {
        "help_rate_partner_distress": iv(help_rate),
        "jump_rate_energy0": {"mean": jump0, "low": math.nan, "high": math.nan, "n": 1}
        if jump0 == jump0
        else iv(jump0),
    }


def configuration(reward: str, d: float) -> str:
    """The analysis's configuration string of a PPO cell: keys sorted, lists with ', ' inside."""
    return f"activation=relu, algorithm=ppo, dependency={d}, hidden=[17, 17], lr=0.0025, reward={reward}, seed=None"


def write_rl_folder(out, *, with_analysis: bool = True) -> None:
    """A finished RL experiment with 2 rewards x 2 D x 4 seeds; shared D=1 is the one cell whose index rose."""
    atomic.write_json(
        out / "grid.json",
        {"rewards": ["selfish", "shared"], "dependencies": [0.0, 1.0], "seeds": 4, "partner": "random",
         "partner_checkpoint": None, "eval_games": 32, "eval_seeds": 3, "states_per_agent": 100,
         "ppo": {"total_steps": 5000, "max_turns": 400, "survival": 1.0, "hidden": [17, 17], "encoding": "onehot"}},
    )  # fmt: skip
    pays = {
        "best_helping": "carer", "best_never_helping": "forager", "margin_vs_hop": iv(40.0, 5.0),
        "margin_vs_best_selfish": iv(35.0, 5.0), "pays": True,
    }  # fmt: skip
    atomic.write_json(
        out / "scripted.json",
        {"partner": "random", "max_turns": 400, "games_per_seed": 32,
         "cells": {d: {"policies": {"carer": policy(0.9), "hop": policy(0.0, jump0=math.nan)},
                       "cooperation_pays": {"shared": pays}} for d in ("0", "1")}},
    )  # fmt: skip
    agents = {}
    for (reward, d), (help_rate, spt, _) in CELLS.items():
        for s, offset in enumerate((-0.001, 0.001, -0.001, 0.001)):
            agents[f"ppo_{reward}_D{d:g}_random_seed{s}"] = {
                "reward": reward, "dependency": d, "seed": s,
                "help_rate_partner_distress": help_rate + offset, "score_per_turn": spt,
            }  # fmt: skip
    baselines = {
        d: {"random": {"score_per_turn": 0.5, "help_rate_partner_distress": 0.12},
            "rule": {"score_per_turn": 0.9, "help_rate_partner_distress": 0.25 if d == "1" else 0.0},
            "carer": {"score_per_turn": 0.8, "help_rate_partner_distress": 0.85}}
        for d in ("0", "1")
    }  # fmt: skip
    atomic.write_json(
        out / "behaviour.json", {"agents": agents, "baselines": baselines, "eval_seed": 1, "eval_games": 32}
    )
    cells = {
        f"{r}, D={d:g}": {
            f"return_{r}": iv(400.0 if r == "selfish" else 630.0, 2.0),
            "score_per_turn": iv(spt),
            "help_rate_partner_distress": iv(h, 0.001),
            "mirror_change": iv(m, 0.005)
            if with_analysis
            else {"mean": math.nan, "low": math.nan, "high": math.nan, "n": 0},
        }
        for (r, d), (h, spt, m) in CELLS.items()
    }
    hypotheses = {
        "H1 shared reward raises help": {
            "D=0": {
                "shared_mean": 0.03,
                "selfish_mean": 0.002,
                "n": [4, 4],
                "mann_whitney_p": 0.014,
                "supported": True,
            },
            "D=1": {
                "shared_mean": 0.02,
                "selfish_mean": 0.004,
                "n": [4, 4],
                "mann_whitney_p": 0.014,
                "supported": True,
            },
        },
        "H2 shared reward raises mirror units beyond own initialisation": {
            "shared_vs_selfish_change": {
                "D=0": {
                    "shared_mean": -0.03,
                    "selfish_mean": -0.02,
                    "n": [4, 4],
                    "mann_whitney_p": 0.9,
                    "supported": False,
                },
                "D=1": {
                    "shared_mean": 0.01,
                    "selfish_mean": -0.01,
                    "n": [4, 4],
                    "mann_whitney_p": 0.03,
                    "supported": True,
                },
            },
            "paired_within_cell": [],
        },
    }
    if with_analysis:
        hypotheses["H3 help and mirror change go together across agents"] = {
            "spearman_rho": 0.25, "p_value": 0.17, "n_agents": 16, "supported": False,
        }  # fmt: skip
    atomic.write_json(
        out / "summary.json",
        {"cells": cells, "baselines": baselines, "hypotheses": hypotheses,
         "agents_beat_random_score_per_turn": {name: True for name in cells}},
    )  # fmt: skip
    if with_analysis:
        paired = [
            {"configuration": configuration(r, d), "measure": "cmni_effect_size", "n_models": 4, "mean_init": 0.05,
             "mean_trained": 0.05 + m, "mean_change": m, "ci_low": m - 0.005, "ci_high": m + 0.005,
             "p_value": 0.0625 if m > 0 else 1.0, "p_floor": 0.0625, "verdict": "no increase detected"}
            for (r, d), (_, _, m) in CELLS.items()
        ] + [{"configuration": configuration("shared", 0.0), "measure": "cmni", "mean_change": 99.0}]  # fmt: skip
        atomic.write_json(out / "agents" / "analysis" / "paired.json", {"configurations": paired})
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(
            pa.table({"model_id": list(agents), "cmni_effect_size_change": [CELLS[(a["reward"], a["dependency"])][2] for a in agents.values()]}),
            out / "agents" / "analysis" / "paired_models.parquet",
        )  # fmt: skip


def test_the_loader_returns_plain_data_matched_to_cells(tmp_path):
    write_rl_folder(tmp_path)
    s = load_summary(tmp_path)
    assert s["grid"]["rewards"] == ["selfish", "shared"] and s["grid"]["total_steps"] == 5000
    cells = {c["name"]: c for c in s["cells"]}
    assert set(cells) == {"selfish, D=0", "shared, D=0", "selfish, D=1", "shared, D=1"}
    # each cell gets the paired test whose configuration names its reward and D, and the scale-free measure only
    assert cells["shared, D=1"]["paired"]["mean_change"] == 0.01
    assert cells["shared, D=0"]["paired"]["mean_change"] == -0.03
    assert len(s["agents"]) == 16 and all(
        a["mirror_change"] == CELLS[(a["reward"], a["dependency"])][2] for a in s["agents"]
    )
    ids = [h["id"] for h in s["hypotheses"]]
    assert ids == ["H0"] * 4 + ["H1"] * 2 + ["H2a"] * 2 + ["H2b"] * 2 + ["H3"]
    h2a = {h["scope"]: h for h in s["hypotheses"] if h["id"] == "H2a"}
    assert h2a["shared, D=1"]["p_value"] == 0.0625 and not h2a["shared, D=1"]["supported"]  # p >= 0.05 with 4 models


def test_the_section_reads_its_numbers(tmp_path):
    write_rl_folder(tmp_path)
    sec = section_rl(load_summary(tmp_path), number=12)
    assert sec.id == "rl" and sec.title == "12. Agents that learn by reward"
    assert "5,000 steps per agent" in sec.intro and "4 seeds each" in sec.intro
    assert len(sec.figures) == 2 and all(f.png_base64 and f.svg for f in sec.figures)
    behaviour, mirror = (f.reading for f in sec.figures)
    assert "selfish agents 0.2 % to 0.4 %" in behaviour and "shared agents 2.0 % to 3.0 %" in behaviour
    assert "carer 85.0 %" in behaviour and "above random play's in every cell (H0)" in behaviour
    assert (
        "What to conclude: the shared reward made the agents help more than the selfish one at D=0 and D=1 (H1)"
        in behaviour
    )
    assert "the shared agents help in at most 3.0 % of these turns, the helping rule (carer) in 85.0 %" in behaviour
    # shared, D=1 rose (+0.01) but its Wilcoxon p is 0.0625 with 4 models: no cell is decided as grown
    assert "What to conclude: no shared cell grew mirror units beyond its own initialisation" in mirror
    assert "fell below the networks' own initialisation in 3 of 4 cells" in mirror
    assert "across 16 agents" in mirror and "0.25" in mirror
    titles = [t.caption for t in sec.tables]
    assert [t.split(":")[0].split("?")[0] for t in titles[:3]] == [
        "Where cooperation pays, D = 0",
        "Where cooperation pays, D = 1",
        "Does helping pay",
    ]
    scripted = sec.tables[0]
    hop = next(r for r in scripted.rows if r[0] == "hop")
    assert hop[scripted.columns.index("jump at energy 0")] == MISSING  # never at energy 0 in these games
    carer = next(r for r in scripted.rows if r[0] == "carer")
    assert carer[scripted.columns.index("jump at energy 0")] == "1.000"  # one value, no interval
    mirror_table = next(t for t in sec.tables if t.caption.startswith("The scale-free mirror index"))
    row = next(r for r in mirror_table.rows if r[0] == "shared, D=1")
    assert row[2:5] == ["0.0500", "0.0600", "0.0100 [0.0050, 0.0150]"]
    hyp = sec.tables[-1]
    verdicts = {(r[0].split(":")[0], r[1]): r[-1] for r in hyp.rows}
    assert verdicts[("H1", "D=0")] == "supported" and verdicts[("H2b", "D=1")] == "supported"
    assert verdicts[("H2a", "shared, D=1")] == "not supported" and verdicts[("H3", "all agents")] == "not supported"
    assert all(r[hyp.columns.index("p")] == MISSING for r in hyp.rows if r[0].startswith("H0"))
    text = " ".join([sec.intro, *(f.reading for f in sec.figures)] + [c for t in sec.tables for r in t.rows for c in r])
    assert "nan" not in text.lower().replace("mann", "")


def test_without_the_analysis_the_section_says_so_and_shows_no_nan(tmp_path):
    write_rl_folder(tmp_path, with_analysis=False)
    s = load_summary(tmp_path)
    assert all(c["paired"] is None for c in s["cells"]) and all(math.isnan(a["mirror_change"]) for a in s["agents"])
    sec = section_rl(s)
    assert len(sec.figures) == 1 and "No cell has a paired test of the mirror index" in sec.notes[0]
    assert not any(t.caption.startswith("The scale-free mirror index") for t in sec.tables)
    cells = [c for t in sec.tables for r in t.rows for c in r]
    assert not any("nan" in c.lower().replace("mann", "") for c in cells)


def test_interval_cells():
    assert interval_cell({"mean": 0.5, "low": 0.4, "high": 0.6}) == "0.500 [0.400, 0.600]"
    assert interval_cell({"mean": 0.5, "low": math.nan, "high": math.nan}) == "0.500"
    assert interval_cell({"mean": math.nan, "low": math.nan, "high": math.nan}) == MISSING
    assert interval_cell(None) == MISSING


def test_a_folder_that_is_not_a_finished_experiment_names_the_fix(tmp_path):
    with pytest.raises(AnalysisError, match=r"summary.json does not exist; run `mirror-neurons experiment rl"):
        load_summary(tmp_path)
    write_rl_folder(tmp_path)
    atomic.write_json(tmp_path / "summary.json", {"detection": []})
    with pytest.raises(AnalysisError, match="not an RL experiment's summary"):
        load_summary(tmp_path)


def test_the_report_shows_an_rl_folder(tmp_path, monkeypatch):
    from mirror_neurons.report import html
    from tests.report.synthetic import synthetic_inputs

    monkeypatch.setattr(html, "collect", lambda run_dir, **_: synthetic_inputs())  # the name html imported
    monkeypatch.setattr(html, "build_sections", lambda inputs: [])  # only the RL section is under test
    page = html.write_report(tmp_path, out=tmp_path / "without.html")
    assert "Agents that learn by reward" not in page.read_text()
    write_rl_folder(tmp_path / "rl")  # RUNDIR/rl is found by itself
    page = html.write_report(tmp_path, out=tmp_path / "with.html")
    assert "1. Agents that learn by reward" in page.read_text()
    elsewhere = tmp_path / "elsewhere"
    write_rl_folder(elsewhere)
    page = html.write_report(tmp_path / "empty-run", out=tmp_path / "given.html", rl_dir=elsewhere)  # --rl DIR
    assert "Agents that learn by reward" in page.read_text()
    assert ">nan<" not in page.read_text().lower()


def test_a_cell_that_grew_mirror_units_is_named(tmp_path):
    """With the shared D=1 cell's paired p at 0.01 (and H2b supported at D=1 in the folder), H2 holds there."""
    write_rl_folder(tmp_path)
    paired_path = tmp_path / "agents" / "analysis" / "paired.json"
    paired = atomic.read_json_object(paired_path, AnalysisError, "")
    for c in paired["configurations"]:
        if "reward=shared" in c["configuration"] and "dependency=1.0" in c["configuration"]:
            c["p_value"] = 0.01
    atomic.write_json(paired_path, paired)
    mirror = section_rl(load_summary(tmp_path)).figures[1].reading
    assert (
        "What to conclude: the index rose over its own initialisation in shared, D=1 (H2a), and more than under "
        "the selfish reward in shared, D=1 (H2 supported there)." in mirror
    )
