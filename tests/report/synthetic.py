"""Small synthetic report inputs with planted structure, so readings can be checked against known values."""

from __future__ import annotations

import dataclasses

import numpy as np

from mirror_neurons.analysis.competence import CONFUSION_COLUMNS, RECALL_COLUMNS
from mirror_neurons.report.inputs import Case, ReportInputs, load_reference_curve

# The last checkpoint's confusion matrix (rows true hop, jump, leap, help): recalls 0.9, 1.0, 0.5, 0.4
CASE_CONFUSION = np.array([[36, 0, 2, 2], [0, 40, 0, 0], [5, 0, 5, 0], [6, 0, 0, 4]])
ENERGY_CONFUSION = [[40, 0, 0, 0], [0, 40, 0, 0], [10, 0, 0, 0], [10, 0, 0, 0]]


def baselines_json() -> dict:
    """analysis/baselines.json as the analysis writes it for the balanced 40/40/10/10 test set of CASE_CONFUSION."""

    def entry(description, accuracy, recall, macro, cm=None):
        d = {
            "description": description,
            "accuracy": accuracy,
            "macro_recall": macro,
            "recall": dict(zip(("hop", "jump", "leap", "help"), recall)),
        }
        return d if cm is None else {**d, "confusion": cm}

    return {
        "classes": ["hop", "jump", "leap", "help"],
        "test_states": 100,
        "rule": {"statement": "planted", "margin": 0.15, "floor": 0.3, "competent_macro_recall": 0.65},
        "baselines": {  # in the sorted key order of the file the analysis writes
            "ceiling": entry("majority label per input", 0.97, [1, 1, 0.9, 0.8], 0.925),
            "energy_rule": entry("energy 0 -> jump, otherwise hop", 0.8, [1, 1, 0, 0], 0.5, ENERGY_CONFUSION),
            "label_prior": {**entry("always hop", 0.4, [1, 0, 0, 0], 0.25), "label": "hop"},
            "label_rule": {"description": "1 by construction", "accuracy": 1.0, "macro_recall": 1.0},
        },
        "validation": {
            "energy_rule": entry("", 0.9, [1, 1, 0, 0], 0.5),
            "label_prior": entry("", 0.6, [1, 0, 0, 0], 0.25),
        },
    }


CLASSES_L1 = ["mirror", "mirror", "differentiating", "anti-mirror", "other", "other"]
CLASSES_L2 = ["mixed", "other", "other", "other"]
CLASSES_OUT = ["other"] * 4


def synthetic_inputs(seed: int = 0, n_checkpoints: int = 12) -> ReportInputs:
    rng = np.random.default_rng(seed)
    n = n_checkpoints
    loss = np.linspace(0.09, 0.05, n)
    cmni = np.linspace(0.001, 0.012, n)
    null_ref = np.full(n, 0.004)
    p = np.where(cmni > null_ref, 0.01, 0.4)
    checkpoints = {
        "model_id": np.array([f"m{i % 3}" for i in range(n)]),
        "hidden": np.array(["6x4" if i % 3 else "6x4x3" for i in range(n)]),
        "n_layers": np.array([2 if i % 3 else 3 for i in range(n)]),
        "hyperparameters.lr": np.full(n, 1e-3),
        "hyperparameters.batch_size": np.full(n, 25),
        "epoch": np.arange(1, n + 1),
        "val_loss": loss,
        "test_accuracy": np.linspace(0.7, 0.93, n),
        "mne": cmni * 14,
        "cmni": cmni,
        "p_chance": p,
        "p_random_init": p / 2,
        "p_permutation": p,
        "cmni_ci_low": cmni - 0.001,
        "cmni_ci_high": cmni + 0.001,
        "null_chance_mean": null_ref,
        "n_mirror": np.full(n, 2),
        "n_anti_mirror": np.ones(n, dtype=int),
        "n_differentiating": np.ones(n, dtype=int),
        "n_mixed": np.ones(n, dtype=int),
        # every checkpoint competent, so the mirror claims are judged on all of them (tests flip this)
        "competent": np.ones(n),
        "macro_recall": np.linspace(0.66, 0.7, n),
        **{k: np.full(n, r) for k, r in zip(RECALL_COLUMNS, (0.9, 1.0, 0.5, 0.4))},
        **{k: np.full(n, float(v)) for k, v in zip(CONFUSION_COLUMNS, CASE_CONFUSION.ravel())},
    }
    # Planted means: mirror units rise with either distress, highest with both.
    m1 = np.array(
        [
            [0.0, 0.5, 0.5, 0.9],
            [0.1, 0.4, 0.6, 0.8],
            [0.0, 0.7, 0.0, 0.3],
            [0.8, 0.2, 0.3, 0.1],
            [0.3, 0.3, 0.3, 0.3],
            [0.2, 0.2, 0.1, 0.2],
        ]
    )
    m2 = rng.uniform(0, 1, (4, 4))
    m3 = rng.normal(0, 1, (4, 4))
    kernels = [rng.normal(0, 1, (6, 100)), rng.normal(0, 1, (4, 6)), rng.normal(0, 1, (4, 4))]
    case = Case(
        name="m0 epoch 12",
        rule="the test's own choice.",
        row={k: v[-1].item() for k, v in checkpoints.items()},
        layer_names=["dense_0", "dense_1", "dense_2"],
        classes=[CLASSES_L1, CLASSES_L2, CLASSES_OUT],
        means=[m1, m2, m3],
        variance=[np.abs(m1) * 0.1, np.abs(m2) * 0.1, np.abs(m3) * 0.1],
        skewness=[m1 - 0.5, m2 - 0.5, m3],
        kurtosis=[m1 * 2, m2 * 2, m3 * 2],
        kernels=kernels,
        boxes={"dense_0:0": [rng.normal(mu, 0.1, 50) for mu in m1[0]]},
        nulls={"random init": rng.normal(0.002, 0.001, 200), "permuted labels": rng.normal(0.001, 0.0005, 200)},
        group_sizes={"none": 400, "frog": 100, "toad": 90, "both": 40},
        weight_tables=[
            {
                "caption": "Strongest inputs of dense_1 unit 0",
                "columns": ["from", "weight", "z"],
                "rows": [["dense_0:0", "0.41", "1.52"]],
            }
        ],
        ablation={
            "groups": ["none", "frog", "toad", "both"],
            "ylabel": "share of changed actions",
            "values": {"mirror units": [0.01, 0.2, 0.25, 0.4], "random units": [0.02, 0.05, 0.04, 0.06]},
        },
        episode=["turn 0/10\n|f t|", "turn 1/10\n|  ft|"],
        history={
            "epoch": np.array([1, 2, 4, 8, 16]),
            "cmni": np.array([0.004, 0.009, 0.007, 0.005, 0.003]),
            "val_loss": np.array([0.09, 0.07, 0.06, 0.055, 0.05]),
            "competent": np.ones(5),
        },
    )
    case.row["_episode_actions"] = {"hop": 1}
    return ReportInputs(
        title="Synthetic study",
        run_dir="/tmp/synthetic",
        preset="test",
        distributions={
            "label": {"hop": 400, "jump": 300, "leap": 200, "help": 100},
            "scenario": {"none": 500, "frog": 200, "toad": 200, "both": 100},
        },
        curves={f"m{i}": (np.arange(1, 6), np.linspace(0.1, 0.05 + 0.01 * i, 5)) for i in range(3)},
        checkpoints=checkpoints,
        reference=load_reference_curve(),
        case=case,
        behaviour={
            "metrics": ["help when only Toad is in distress", "survival"],
            "games": 20,
            "values": {"model": [0.6, 0.9], "rule": [1.0, 0.95], "random": [0.125, 0.5]},
            "errors": {"model": [0.05, 0.03], "rule": [0.0, 0.02], "random": [0.02, 0.05]},
        },
        facts={"states": "1,000", "models": 3},
        baselines=baselines_json(),
        learning={f"m{i}": (np.arange(1, 6), np.linspace(0.5, 0.6 + 0.05 * i, 5)) for i in range(3)},
        learning_metric="val_macro_recall",
        notes=["A synthetic note."],
    )


# -- the paired test (analysis/paired.json) -------------------------------------------------------------------

CONFIG_RULE = "encoding=onehot, hidden=[17, 17], labels=rule, lr=0.003"
CONFIG_BLIND = "encoding=onehot, hidden=[17, 17], labels=toad_blind, lr=0.003"
NO_HEADLINE = (
    "No: in 10 competent-recipe networks, training did not raise the scale-free mirror index above each "
    "network's own initialisation (mean change -0.0074, one-sided p = 0.986, whose floor 0.0010 could have "
    "reached significance)."
)


def paired_record(
    verdict: str = "no",
    headline: str = NO_HEADLINE,
    decided_by: str = "paired test against initialisation",
    n_mirror_p: float = 0.0625,
) -> dict:
    """analysis/paired.json as ``analysis.paired.write_paired`` writes it: 10 rule-trained and 10 Toad-blind models
    of one architecture, the rule's models planted with the ``answer`` given."""

    def test(config, labels, measure, init, trained, p, verdict_text):
        return {
            "configuration": config,
            "measure": measure,
            "labels": labels,
            "n_models": 10,
            "n_competent": 10 if labels == "rule" else 0,
            "mean_init": init,
            "mean_trained": trained,
            "mean_change": trained - init,
            "sd_change": 0.01,
            "d_z": -0.6,
            "ci_low": trained - init - 0.01,
            "ci_high": trained - init + 0.01,
            "p_value": p,
            "p_floor": 2.0**-10,
            "verdict": verdict_text,
        }

    return {
        "alpha": 0.05,
        "min_seeds": 10,
        "models": 20,
        "models_paired": 20,
        "models_without_init": 0,
        "measures": ["cmni_effect_size", "cmni", "n_mirror"],
        "rule": "each model's last checkpoint against its epoch-0 checkpoint",
        "configurations": [
            test(CONFIG_RULE, "rule", "cmni_effect_size", 0.0262, 0.0188, 0.986, "no increase detected"),
            test(CONFIG_RULE, "rule", "cmni", 0.0038, 0.0359, 0.001, "training increased it"),
            test(
                CONFIG_RULE,
                "rule",
                "n_mirror",
                0.6,
                1.1,
                n_mirror_p,
                "training increased it" if n_mirror_p < 0.05 else "no increase detected",
            ),
            test(CONFIG_BLIND, "toad_blind", "cmni_effect_size", 0.0380, 0.0118, 1.0, "no increase detected"),
        ],
        "training_nulls": [
            {
                "null": "toad_blind",
                "architecture": "[17, 17]",
                "encoding": "onehot",
                "measure": "cmni_effect_size",
                "n_rule": 10,
                "n_null": 10,
                "mean_change_rule": -0.0074,
                "mean_change_null": -0.0262,
                "p_value": 0.0057,
                "p_floor": 5.4e-6,
            }
        ],
        "answer": {
            "verdict": verdict,
            "decided_by": decided_by,
            "headline": headline,
            "configuration": CONFIG_RULE,
            "measure": "cmni_effect_size",
            "evidence": [
                "The scale-free mirror index of the 10 models (10 competent): 0.0262 at initialisation, 0.0188 trained."
            ],
        },
        # analysis.paired.depth_comparison of one two-layer architecture: no three-layer model to compare
        "depth": {
            "rule": "one value per model, its last competent trained checkpoint's cmni; one-sided Mann-Whitney "
            "test that three-layer models have the lower values",
            "measure": "cmni",
            "n_deep": 0,
            "n_shallow": 10,
            "median_deep": None,
            "median_shallow": 0.0359,
            "p_floor": None,
            "p_value": None,
        },
    }


def paired_models(
    models: dict[str, tuple[str, str, str]], init: float = 0.02, rise: float = 0.01
) -> dict[str, np.ndarray]:
    """analysis/paired_models.parquet's columns for ``models`` {model_id: (configuration, labels, encoding)}: every model
    planted at ``init`` at epoch 0 and ``init + rise`` trained (raw CMNI 0.004 -> 0.03, mirror units 1 -> 2)."""
    ids = list(models)
    col = lambda i: np.array([models[m][i] for m in ids])  # noqa: E731
    n = len(ids)
    out = {
        "model_id": np.array(ids),
        "configuration": col(0),
        "labels": col(1),
        "encoding": col(2),
        "architecture": np.full(n, "[17, 17]"),
        "competent": np.ones(n, dtype=bool),
        "trained_epoch": np.full(n, 9),
    }
    for measure, a, b in (("cmni_effect_size", init, init + rise), ("cmni", 0.004, 0.03), ("n_mirror", 1.0, 2.0)):
        out[f"{measure}_init"], out[f"{measure}_trained"] = np.full(n, a), np.full(n, b)
        out[f"{measure}_change"] = np.full(n, b - a)
    return out


def with_initial_checkpoints(inp: ReportInputs, n_mirror: int = 0, cmni: float = 0.0005) -> ReportInputs:
    """``inp`` with one epoch-0 checkpoint per model appended (init 1.0, not competent, ``n_mirror`` mirror units)."""
    c = inp.checkpoints
    models = np.asarray(c["model_id"]).astype(str)
    first = [int(np.flatnonzero(models == m)[0]) for m in dict.fromkeys(models)]
    extra = {k: np.asarray(v)[first].copy() for k, v in c.items()}
    extra.update(
        epoch=np.zeros(len(first), dtype=int),
        competent=np.zeros(len(first)),
        n_mirror=np.full(len(first), n_mirror),
        cmni=np.full(len(first), cmni),
        val_loss=np.full(len(first), 0.25),
        init=np.ones(len(first)),
    )
    merged = {k: np.concatenate([np.asarray(v), extra[k]]) for k, v in c.items() if k != "init"}
    merged["init"] = np.concatenate([np.zeros(len(models)), np.ones(len(first))])
    return dataclasses.replace(inp, checkpoints=merged)
