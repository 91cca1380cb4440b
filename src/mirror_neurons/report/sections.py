"""The report's nine sections, each built from ``ReportInputs``: figures, readings, tables.

A section is a title, a short introduction, figures (each with a one-sentence
reading computed from the data it shows, never a canned sentence) and tables.
The order is fixed by the issues: game, training, whether the networks learned
the game (competence), case checkpoint, CMNI against chance, over training,
circuits, behaviour, reproduction summary. Mirror claims are measured on
competent checkpoints (``analysis.competence``); incompetent ones are shown
apart, and a claim with no competent checkpoint reads "not established".
"""

from __future__ import annotations

import base64
import dataclasses
import io
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from mirror_neurons.analysis.competence import ACTION_NAMES, COMPETENCE_RULE, CONFUSION_COLUMNS, RECALL_COLUMNS, best_per_model
from mirror_neurons.report import plots
from mirror_neurons.report.inputs import ALPHA, CMNI_NONE, CMNI_ROBUST, PAPER_LEVEL_RULE, PAPER_LOSS, ReportInputs

DPI = 80


@dataclass
class Figure:
    title: str
    png_base64: str
    reading: str
    width: int
    height: int


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str]]
    collapsed: bool = False
    """Shown folded (a long table the reader opens on demand)."""


@dataclass
class Section:
    id: str
    title: str
    intro: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    pre: list[str] = field(default_factory=list)
    """Preformatted text blocks (ASCII frames)."""
    notes: list[str] = field(default_factory=list)


def figure(fig, title: str, reading: str) -> Figure:
    """Render a Matplotlib figure to an inline PNG and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    data = buf.getvalue()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # PNG IHDR
    return Figure(title, base64.b64encode(data).decode("ascii"), reading, width, height)


def fmt(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.2e}"
    return f"{x:.{digits}f}"


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


# -- 1. the game ----------------------------------------------------------------


def section_game(inp: ReportInputs) -> Section:
    s = Section("game", "1. The game", "Frog and Toad share a scrolling world; distress means standing on rough "
                "ground (X). The model sees Frog's view of the board as 100 integers and picks one of four actions.")
    case = inp.case
    if case is not None and case.episode:
        s.pre = [f"--- frame {i} ---\n{frame}" for i, frame in enumerate(case.episode)]
        counts = case.row.get("_episode_actions") or {}
        if counts:
            s.notes.append(
                f"In these {len(case.episode) - 1} turns the case model, playing Frog against a random Toad, chose "
                + ", ".join(f"{name} {n} time{'s' if n != 1 else ''}" for name, n in counts.items()) + "."
            )
    for key, what, colour in (("label", "best action (label)", "#4c72b0"), ("scenario", "distress scenario", "#dd8452")):
        counts = inp.distributions.get(key)
        if not counts:
            continue
        fig, ax = plt.subplots(figsize=(5, 2.8))
        plots.plot_distribution(counts, ax=ax, title=f"Dataset: {what}", colour=colour)
        total = sum(counts.values())
        share = {k: v / total for k, v in counts.items()} if total else {}
        top, low = max(share, key=share.get), min(share, key=share.get)
        if key == "label":
            reading = (f"Of {total:,} labeled states, '{top}' is the most common best action ({pct(share[top])}) "
                       f"and '{low}' the rarest ({pct(share[low])}).")
        else:
            reading = (f"{pct(share.get('none', 0))} of states have no distress, and {pct(share.get('both', 0))} have "
                       f"both players in distress, the veil-of-ignorance case where Frog cannot tell who is who.")
        s.figures.append(figure(fig, f"Dataset {what}", reading))
    return s


# -- 2. training ------------------------------------------------------------------


def checkpoint_table(inp: ReportInputs, index: np.ndarray, caption: str) -> Table:
    c = inp.checkpoints
    cols = ["model", "hidden", "lr", "epoch", "val loss", "accuracy", "macro recall", "competent", "MNE", "CMNI", "95 % CI",
            "p vs chance", "mirror units"]
    competent = inp.competent()
    rows = []
    for i in index:
        rows.append([
            str(c["model"][i]), str(c["hidden"][i]), f"{float(c['lr'][i]):.0e}", str(int(c["epoch"][i])),
            fmt(c["val_loss"][i]), fmt(c["accuracy"][i], 3), fmt(c.get("macro_recall", c["accuracy"] * np.nan)[i], 3),
            yes_no(competent[i]),
            fmt(c["mne"][i], 5), fmt(c["cmni"][i], 5),
            f"[{fmt(c['ci_low'][i], 5)}, {fmt(c['ci_high'][i], 5)}]", fmt(c["p_value"][i], 3), str(int(c["n_mirror"][i])),
        ])
    return Table(caption, cols, rows)


def under_threshold(inp: ReportInputs) -> tuple[np.ndarray, str]:
    """Checkpoints eligible for Tables 1 and 2, and the rule that chose them (``PAPER_LEVEL_RULE``)."""
    eligible = np.flatnonzero(inp.at_paper_level())
    if len(eligible):
        return eligible, PAPER_LEVEL_RULE
    paper = inp.paper_loss()
    if not paper.any():
        return eligible, f"{PAPER_LEVEL_RULE} (none is)"
    loss = np.asarray(inp.checkpoints["val_loss"], dtype=float)
    cut = float(np.quantile(loss[paper], 0.25))
    return np.flatnonzero(paper & (loss <= cut)), (
        f"no checkpoint reached the paper's threshold {inp.threshold:g} at this scale and none trained with another loss "
        f"is competent, so the paper-loss checkpoints of the lowest-loss quarter (val loss <= {cut:.4f}) stand in")


def recipes(inp: ReportInputs) -> str:
    """The sweep's training recipes in one sentence: how many models per (loss, encoding)."""
    c = inp.checkpoints
    per_model: dict[str, tuple[str, str]] = {}
    unknown = np.full(inp.n_checkpoints, np.nan)
    for model, loss, encoding in zip(c["model"], c.get("loss", unknown), c.get("encoding", unknown)):
        per_model[str(model)] = (loss if isinstance(loss, str) else PAPER_LOSS, encoding if isinstance(encoding, str) else "raw")
    counts: dict[tuple[str, str], int] = {}
    for key in per_model.values():
        counts[key] = counts.get(key, 0) + 1
    names = {PAPER_LOSS: "the paper's loss (mean squared error to one-hot labels plus 0.01 x the squared kernel weights)",
             "mse": "mean squared error without the L2 term", "cross_entropy": "softmax cross-entropy"}
    parts = [f"{n} with {names.get(loss, loss)} on {encoding} input" for (loss, encoding), n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return f"The sweep trains {len(per_model)} models: " + "; ".join(parts) + "."


def section_training(inp: ReportInputs) -> Section:
    intro = recipes(inp) + " " if inp.n_checkpoints else ""
    s = Section("training", "2. Training", intro + "A checkpoint is saved at every epoch whose validation loss, in the "
                "model's own objective, is the best so far. The paper's loss threshold is in the units of its loss, so it "
                "is read only for models trained with it; section 3 judges every model by what it predicts.")
    if inp.curves:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        plots.plot_loss_curves(inp.curves, ax=ax, threshold=inp.threshold)
        best = {k: float(np.min(v[1])) for k, v in inp.curves.items() if len(v[1])}
        paper_models = {str(m) for m, p in zip(inp.checkpoints.get("model", ()), inp.paper_loss()) if p}
        paper_best = {k: v for k, v in best.items() if k in paper_models}
        first = min(best, key=best.get)
        reading = (f"The {len(best)} models reach best validation losses between {min(best.values()):.4f} ({first}) and "
                   f"{max(best.values()):.4f}, each in its own objective (cross-entropy and squared error are not "
                   f"comparable numbers). ")
        reading += (f"{sum(b < inp.threshold for b in paper_best.values())} of the {len(paper_best)} models trained with "
                    f"the paper's loss go below its {inp.threshold:g} threshold." if paper_best else
                    "No model is trained with the paper's loss, so its threshold line does not apply here.")
        s.figures.append(figure(fig, "Validation loss of every model", reading))
    if inp.n_checkpoints:
        eligible, rule = under_threshold(inp)
        competent = inp.competent()
        if competent[eligible].any():
            eligible, rule = eligible[competent[eligible]], f"{rule}, competent ones only (section 3)"
        else:
            rule += "; none of them is competent (section 3), so these describe networks that did not learn the game"
        cmni = np.asarray(inp.checkpoints["cmni"], dtype=float)
        order = eligible[np.argsort(-cmni[eligible], kind="stable")]
        k = min(5, len(order))
        s.tables.append(checkpoint_table(inp, order[:k], f"Table 1 style: highest CMNI among checkpoints with {rule}."))
        s.tables.append(checkpoint_table(inp, order[::-1][:k], f"Table 2 style: lowest CMNI among the same checkpoints."))
    return s


# -- 3. did the networks learn the game? ------------------------------------------------

METRIC_NAMES = {"val_macro_recall": "validation macro recall", "val_accuracy": "validation accuracy",
                "macro_recall": "test macro recall (checkpoints)"}


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def competent_models(inp: ReportInputs) -> set[str]:
    """Models with at least one competent checkpoint."""
    return {str(m) for m in np.asarray(inp.checkpoints["model"])[inp.competent()]}


def learning_baselines(inp: ReportInputs) -> dict[str, float]:
    """The baselines drawn beside the learning curves, on the split the curves are measured on."""
    base = inp.baselines
    if not base:
        return {}
    key = "macro_recall" if inp.learning_metric.endswith("macro_recall") else "accuracy"
    test = inp.learning_metric == "macro_recall"
    source = base["baselines"] if test else base.get("validation") or {}
    where = "test" if test else "validation"
    lines = {f"{name.replace('_', ' ')} ({where})": source[name][key] for name in ("energy_rule", "label_prior") if name in source}
    if test:
        lines["ceiling (test)"] = base["baselines"]["ceiling"][key]
    if key == "macro_recall":
        lines["competence bar"] = base["rule"]["competent_macro_recall"]
    return lines


def confusion_of(row: dict) -> np.ndarray | None:
    values = [row.get(c) for c in CONFUSION_COLUMNS]
    if any(v is None or not np.isfinite(float(v)) for v in values):
        return None
    return np.asarray(values, dtype=float).reshape(len(ACTION_NAMES), len(ACTION_NAMES))


def competence_tables(inp: ReportInputs) -> list[Table]:
    """The baselines on the test set, and one row per model: its representative checkpoint (``best_per_model``)."""
    tables = []
    base = inp.baselines
    cols = ["accuracy", *(f"recall {a}" for a in ACTION_NAMES), "macro recall"]
    if base:
        rows = []
        for name in ("energy_rule", "label_prior", "ceiling", "label_rule"):  # the file's keys are sorted
            if name not in base["baselines"]:
                continue
            b = base["baselines"][name]
            recall = b.get("recall", {a: 1.0 for a in ACTION_NAMES})
            rows.append([f"{name.replace('_', ' ')}: {b['description']}", fmt(float(b["accuracy"]), 3),
                         *(fmt(None if recall.get(a) is None else float(recall[a]), 3) for a in ACTION_NAMES),
                         fmt(float(b["macro_recall"]), 3)])
        tables.append(Table(f"Baselines on the {base['test_states']:,} test states", ["baseline", *cols], rows))
    c = inp.checkpoints
    competent = inp.competent()
    nan = np.full(inp.n_checkpoints, np.nan)
    macro = np.asarray(c.get("macro_recall", nan), dtype=float)
    recall = {k: np.asarray(c.get(k, nan), dtype=float) for k in RECALL_COLUMNS}
    best = best_per_model(c["model"], macro, competent)
    rows = []
    for model, i in sorted(best.items(), key=lambda kv: -np.nan_to_num(macro[kv[1]], nan=-1)):
        rows.append([model, str(c["hidden"][i]), str(int(c["epoch"][i])), fmt(c["accuracy"][i], 3),
                     *(fmt(recall[k][i], 3) for k in RECALL_COLUMNS), fmt(macro[i], 3),
                     yes_no(competent[i]) if inp.competence_measured else "not measured"])
    tables.append(Table("Competence per model: its competent checkpoint with the highest test macro recall, or its "
                        "highest-macro-recall checkpoint when none is competent", ["model", "hidden", "epoch", *cols, "competent"], rows))
    return tables


def section_competence(inp: ReportInputs) -> Section:
    s = Section("competence", "3. Did the networks learn the game?", (
        "A mirror figure only describes a network that plays the game, so each checkpoint's test predictions are "
        "judged first, against three baselines: the energy rule (energy 0 -> jump, otherwise hop), which reads one "
        "input and has recall 1 for hop and jump and 0 for leap and help, so macro recall 0.5; the label prior "
        "(always the most frequent training label); and the information ceiling, the best any function of the "
        "model's input can do (the input hides Frog's position, and when both players are in distress it cannot "
        "tell which is Frog). The labeling rule itself scores 1 by construction. "
        f"Rule: {COMPETENCE_RULE}. Every mirror claim after this section is measured on competent checkpoints only."))
    if not inp.n_checkpoints:
        return s
    competent = inp.competent()
    good_models = competent_models(inp)
    n_models = len(set(np.asarray(inp.checkpoints["model"]).astype(str)))
    if not inp.competence_measured:
        s.notes.append("This analysis did not measure competence; rerun `mirror-neurons analyze` to see whether the "
                       "networks learned the game. Until then no mirror claim of this report is established.")
    if inp.learning:
        s.figures.append(learning_figure(inp, good_models, n_models))
    if inp.case is not None and confusion_of(inp.case.row) is not None and inp.baselines:
        s.figures.append(confusion_figure(inp))
    s.tables.extend(competence_tables(inp))
    s.notes.append(f"{int(competent.sum())} of {inp.n_checkpoints} checkpoints and {len(good_models)} of {n_models} "
                   "models are competent." + ("" if competent.any() else
                                              " No mirror claim below is established: none of these networks learned the game."))
    help_note = toad_help_note(inp.behaviour)
    if help_note:
        s.notes.append(help_note)
    return s


def learning_figure(inp: ReportInputs, good_models: set[str], n_models: int) -> Figure:
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    lines = learning_baselines(inp)
    label = METRIC_NAMES.get(inp.learning_metric, inp.learning_metric)
    plots.plot_learning_curves(inp.learning, lines, ax=ax, ylabel=label, competent=sorted(good_models))
    best = {m: float(np.nanmax(v)) for m, (_, v) in inp.learning.items() if np.isfinite(v).any()}
    top = max(best, key=best.get) if best else None
    energy = next((v for k, v in lines.items() if k.startswith("energy rule")), None)
    reading = (f"{len(good_models)} of {n_models} models reach a competent checkpoint (solid lines; dotted: never "
               f"competent). " + (f"The best {label} is {best[top]:.3f} ({top})" if top else "No curve has a value")
               + (f", against the energy rule's {energy:.3f}: a curve that stays on that line learned energy and "
                  f"nothing else." if energy is not None and top else "."))
    return figure(fig, "Learning curves against the baselines", reading)


def confusion_figure(inp: ReportInputs) -> Figure:
    case = inp.case
    energy_cm = np.asarray(inp.baselines["baselines"]["energy_rule"]["confusion"], dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6))
    plots.plot_confusion(confusion_of(case.row), ax=axes[0], title=f"case: {case.name}")
    plots.plot_confusion(energy_cm, ax=axes[1], title="energy rule")
    fig.tight_layout()
    recall = [case.row.get(k) for k in RECALL_COLUMNS]
    reading = (f"The case checkpoint ({'competent' if case.row.get('competent') == 1.0 else 'not competent'}) "
               "recalls " + ", ".join(f"{a} {fmt(r, 2)}" for a, r in zip(ACTION_NAMES, recall))
               + "; the energy rule recalls hop and jump fully and never predicts leap or help, so leap and help "
                 "states land in its hop column.")
    return figure(fig, "Confusion matrices: case checkpoint and energy rule", reading)


def toad_help_note(b: dict | None) -> str | None:
    """Does the behaviour section's network help when only Toad is in distress, beside the labeling rule."""
    metric = "help when only Toad is in distress"
    if not b or metric not in b.get("metrics", []):
        return None
    k = b["metrics"].index(metric)
    net = next(iter(b["values"]))
    rule = b["values"].get("rule", [float("nan")] * len(b["metrics"]))[k]
    who = b.get("checkpoint", "the case checkpoint")
    status = "a competent network" if b.get("competent") else "not a competent network (none is)"
    return (f"Does it help when only Toad is in distress? Playing Frog in {b.get('games', '?')} games, {who} "
            f"({status}) helps in {fmt(b['values'][net][k], 3)} of those turns; the labeling rule, which helps "
            f"only near the right edge, in {fmt(rule, 3)} (section 8).")


# -- 4. the case checkpoint --------------------------------------------------------


def class_counts(classes: list[str]) -> dict[str, int]:
    names = [plots.class_name(c) for c in classes]
    return {c: names.count(c) for c in plots.UNIT_CLASSES if names.count(c)}


def case_status(case) -> str:
    if case.row.get("competent") == 1.0:
        return "a competent checkpoint"
    return "not competent (no checkpoint is), so what follows describes a network that did not learn the game"


def section_case(inp: ReportInputs) -> Section:
    s = Section("case", "4. The case checkpoint", "One checkpoint looked at closely, as the paper's case example.")
    case = inp.case
    if case is None:
        s.notes.append("No checkpoint could be analysed, so there is no case example.")
        return s
    s.intro += f" Chosen rule: {case.rule} Chosen: {case.name}, {case_status(case)}."
    hidden = len(case.layer_names)
    fig, axes = plt.subplots(hidden, 1, figsize=(8, 2.6 * hidden), squeeze=False)
    for k, (ax, name, means, classes) in enumerate(zip(axes[:, 0], case.layer_names, case.means, case.classes)):
        output = k == hidden - 1
        plots.plot_scenario_means(means, classes, ax=ax, title=f"{name} (output layer)" if output else f"{name} (hidden layer {k + 1})",
                                  unit_names=("hop", "jump", "leap", "help") if output and len(means) == 4 else None)
    fig.tight_layout()
    first = case.classes[0]
    m = np.asarray(case.means[0])
    mirror = [i for i, c in enumerate(first) if plots.class_name(c) == "mirror"]
    counts = ", ".join(f"{n} {c}" for c, n in class_counts(first).items())
    if mirror:
        lift = m[mirror].mean(axis=0)
        reading = (f"Layer {case.layer_names[0]} has {counts} units; its mirror units' mean activation is "
                   f"{lift[0]:.3f} with no distress, {lift[1]:.3f} with Frog's, {lift[2]:.3f} with Toad's and "
                   f"{lift[3]:.3f} with both in distress.")
    else:
        reading = f"Layer {case.layer_names[0]} has {counts} units and no mirror unit at this checkpoint."
    s.figures.append(figure(fig, "Mean activation per unit and scenario", reading))

    if case.boxes:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        plots.plot_unit_boxes(case.boxes, ax=ax)
        name, arrays = next(iter(case.boxes.items()))
        med = [float(np.median(a)) if len(a) else float("nan") for a in arrays]
        reading = (f"Unit {name}'s median activation is {med[0]:.3f} with no distress, {med[1]:.3f} (Frog), "
                   f"{med[2]:.3f} (Toad) and {med[3]:.3f} (both).")
        s.figures.append(figure(fig, "Activation distributions of selected units", reading))

    all_classes = [c for layer in case.classes for c in layer]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    parts = []
    for ax, (label, values) in zip(axes, (("variance", case.variance), ("skewness", case.skewness), ("excess kurtosis", case.kurtosis))):
        v = np.vstack(values)
        plots.plot_moment_by_scenario(v, all_classes, ax=ax, ylabel=label)
        marked = [i for i, c in enumerate(all_classes) if plots.class_name(c) != "other"] or list(range(len(v)))
        finite = np.isfinite(v[marked])  # a dead unit's skewness and kurtosis are undefined (NaN)
        avg = np.where(finite, v[marked], 0).sum(axis=0) / np.maximum(finite.sum(axis=0), 1)
        parts.append(f"{label} is on average highest in '{plots.SCENARIOS[int(np.nanargmax(avg))]}' ({np.nanmax(avg):.3f})")
    fig.tight_layout()
    who = "classified" if any(plots.class_name(c) != "other" for c in all_classes) else "all"
    s.figures.append(figure(fig, "Variance, skewness and kurtosis by scenario", f"Over {who} units, " + "; ".join(parts) + "."))
    if case.group_sizes:
        s.notes.append("Test states per scenario group: " + ", ".join(f"{k} {v:,}" for k, v in case.group_sizes.items()) + ".")
    return s


# -- 5. CMNI against chance ------------------------------------------------------


def beats_chance(inp: ReportInputs) -> np.ndarray:
    return np.asarray(inp.checkpoints["p_value"], dtype=float) < ALPHA


def section_chance(inp: ReportInputs) -> Section:
    s = Section("chance", "5. CMNI against chance", "CMNI is positive for any network whose units respond to distress "
                f"at all, so each checkpoint is tested against null distributions (see docs/report.md); a checkpoint "
                f"beats chance when its p-value is below {ALPHA}.")
    if not inp.n_checkpoints:
        return s
    c = inp.checkpoints
    sig = beats_chance(inp)
    competent = inp.competent()
    perm, init = (np.asarray(c[k], dtype=float) < ALPHA for k in ("p_permutation", "p_random_init"))
    for title, sel in (("competent checkpoints", competent), ("checkpoints that are not competent", ~competent)):
        if not sel.any():
            s.notes.append(f"No {title.replace('checkpoints that are ', '')} checkpoint to show.")
            continue
        fig, ax = plt.subplots(figsize=(8, 3.4))
        plots.plot_cmni_vs_chance(*(np.asarray(c[k])[sel] for k in ("cmni", "ci_low", "ci_high", "null_mean")), sig[sel], ax=ax)
        reading = (f"{int(sig[sel].sum())} of {int(sel.sum())} {title} ({pct(sig[sel].mean())}) beat both nulls "
                   f"(p < {ALPHA}): {int(perm[sel].sum())} beat the permuted-label null and {int(init[sel].sum())} the "
                   "random-initialisation null." + ("" if sel is competent else
                                                    " These networks did not learn the game; their CMNI is not evidence."))
        s.figures.append(figure(fig, f"CMNI, interval and null: {title}", reading))
    case = inp.case
    if case is not None and case.nulls:
        fig, ax = plt.subplots(figsize=(6, 3))
        observed = float(case.row["cmni"])
        plots.plot_null_distribution(case.nulls, observed, ax=ax)
        parts = [f"{np.mean(np.asarray(v) >= observed):.3f} of the '{k}' null is at or above it"
                 for k, v in case.nulls.items() if len(v)]
        reading = f"The case checkpoint's CMNI is {observed:.5f}; " + "; ".join(parts) + "."
        s.figures.append(figure(fig, "The case checkpoint against its nulls", reading))
    low = inp.at_paper_level()

    def share(mask, sel) -> str:
        return f"{int(mask[sel].sum())} ({pct(mask[sel].mean())})" if sel.any() else "0"

    s.tables.append(Table(
        f"Share of checkpoints beating chance (p < {ALPHA}), competent and not competent apart. *{PAPER_LEVEL_RULE}",
        ["checkpoints", "number", "beat permuted labels", "beat random init", "beat both", "at the paper's loss level* and beat both"],
        [[name, str(int(sel.sum())), share(perm, sel), share(init, sel), share(sig, sel), str(int((sig & low & sel).sum()))]
         for name, sel in (("competent", competent), ("not competent", ~competent), ("all", np.ones_like(competent)))]))
    order = np.lexsort((np.asarray(c["epoch"]), np.asarray(c["model"]).astype(str)))
    s.tables.append(Table(
        "Every checkpoint: competence, CMNI, its bootstrap interval and both controls' p-values",
        ["model", "epoch", "competent", "val loss", "CMNI", "95 % CI", "p random init", "p permuted labels", "beats chance"],
        [[str(c["model"][i]), str(int(c["epoch"][i])), yes_no(competent[i]), fmt(c["val_loss"][i]), fmt(c["cmni"][i], 5),
          f"[{fmt(c['ci_low'][i], 5)}, {fmt(c['ci_high'][i], 5)}]", fmt(c["p_random_init"][i], 3),
          fmt(c["p_permutation"][i], 3), "yes" if sig[i] else "no"] for i in order],
        collapsed=True))
    return s


# -- 6. over training ---------------------------------------------------------------


def peak_summary(epochs, cmni) -> tuple[int, float, int, float]:
    epochs, cmni = np.asarray(epochs), np.asarray(cmni, dtype=float)
    i = int(np.argmax(cmni))
    return int(epochs[i]), float(cmni[i]), int(epochs[-1]), float(cmni[-1])


def section_training_time(inp: ReportInputs) -> Section:
    s = Section("over-training", "6. Over training", "CMNI and validation loss of the case model at every checkpoint, "
                "as the paper's Figure 2; the dashed lines are the published curve of the paper's 2 x 17 model.")
    case = inp.case
    ref = inp.reference
    if case is None or not len(case.history.get("epoch", ())):
        s.notes.append("No model history to show.")
        return s
    h = case.history
    fig, ax = plt.subplots(figsize=(8, 3.6))
    plots.plot_cmni_over_training(h["epoch"], h["cmni"], h["val_loss"], reference=ref, ax=ax, label=case.row["model"])
    pe, pv, le, lv = peak_summary(h["epoch"], h["cmni"])
    rpe, rpv, rle, rlv = peak_summary(ref["epoch"], ref["cmni"])
    reading = (f"This run's CMNI peaks at epoch {pe} ({pv:.4f}) and is {lv:.4f} at its last checkpoint (epoch {le}, "
               f"{lv / pv if pv else float('nan'):.2f} of the peak); the published curve peaks at epoch {rpe} ({rpv:.4f}) "
               f"and falls to {rlv:.4f} ({rlv / rpv:.2f} of the peak) by epoch {rle}.")
    s.figures.append(figure(fig, "CMNI and validation loss against epoch", reading))
    comp = np.asarray(h.get("competent", np.full(len(h["epoch"]), np.nan)), dtype=float) == 1.0
    s.notes.append(f"{int(comp.sum())} of {len(comp)} checkpoints of this model are competent"
                   + (f" (from epoch {int(np.asarray(h['epoch'])[comp][0])})" if comp.any() else "")
                   + "; the peak-and-decline claim of section 9 is judged on the competent ones only.")
    return s


# -- 7. circuits --------------------------------------------------------------------


def section_circuits(inp: ReportInputs) -> Section:
    s = Section("circuits", "7. Circuits", "The case checkpoint's units as boxes coloured by class; an edge is a "
                "positive weight more than one standard deviation above its kernel's mean (z > 1), its width the "
                "weight's size. The 100 inputs are left out.")
    case = inp.case
    if case is None:
        return s
    kernels = case.kernels[1:]
    fig, ax = plt.subplots(figsize=(8, 0.28 * max(len(c) for c in case.classes) + 1.5))
    edges = plots.plot_network(kernels, case.classes, ax=ax)
    out = np.asarray(case.kernels[-1], dtype=float)
    z = (out - out.mean()) / (out.std() or 1.0)
    j, i = np.unravel_index(int(np.argmax(z)), z.shape)
    actions = ("hop", "jump", "leap", "help")
    last_hidden = case.classes[-2]
    reading = (f"{sum(isinstance(e, plt.Line2D) for e in edges)} strong positive weights are drawn; the strongest "
               f"output weight (z = {z[j, i]:.2f}) runs from unit {i} of {case.layer_names[-2]} "
               f"({plots.class_name(last_hidden[i])}) to '{actions[j]}'.")
    s.figures.append(figure(fig, "Network diagram of the case checkpoint", reading))
    s.notes.append(f"The case checkpoint is {case_status(case)}.")
    for t in case.weight_tables:
        s.tables.append(Table(t["caption"], list(t["columns"]), [[str(v) for v in r] for r in t["rows"]]))
    if case.ablation:
        a = case.ablation
        fig, ax = plt.subplots(figsize=(7, 3))
        plots.plot_grouped_bars(a["values"], a["groups"], ax=ax, errors=a.get("errors"), ylabel=a.get("ylabel", ""))
        names = list(a["values"])
        means = {k: float(np.mean(v)) for k, v in a["values"].items()}
        reading = "Averaged over scenarios, " + "; ".join(f"{k} gives {means[k]:.3f}" for k in names) + f" ({a.get('ylabel', '')})."
        s.figures.append(figure(fig, "Ablation", reading))
        if "table" in a:
            s.tables.append(Table("Ablation results", list(a["table"]["columns"]), [[str(v) for v in r] for r in a["table"]["rows"]]))
    else:
        s.notes.append("No hidden unit of the case checkpoint is classified mirror, anti-mirror, differentiating or "
                       "mixed, so there is no class to ablate.")
    return s


# -- 8. behaviour -----------------------------------------------------------------


def section_behaviour(inp: ReportInputs) -> Section:
    s = Section("behaviour", "8. Behaviour", "The case model plays Frog in the game against a random Toad, for many "
                "seeded games, beside the labeling rule's policy and the published random policy.")
    b = inp.behaviour
    if not b:
        s.notes.append("No behaviour results were available for this run.")
        return s
    if "checkpoint" in b:
        s.intro += (f" The network is {b['checkpoint']}, " + ("a competent checkpoint." if b.get("competent") else
                    "not competent (no checkpoint is): its rates describe a network that did not learn the game."))
    fig, ax = plt.subplots(figsize=(7, 3))
    plots.plot_grouped_bars(b["values"], b["metrics"], ax=ax, errors=b.get("errors"), ylabel="rate")
    policies = list(b["values"])
    parts = []
    for m, metric in enumerate(b["metrics"]):
        parts.append(f"{metric}: " + ", ".join(f"{p} {b['values'][p][m]:.3f}" for p in policies))
    s.figures.append(figure(fig, "Help and survival rates", "Over " + f"{b.get('games', '?')} games: " + "; ".join(parts) + "."))
    s.tables.append(Table("Behaviour by policy", ["policy", *b["metrics"]],
                          [[p, *(fmt(v, 3) for v in b["values"][p])] for p in policies]))
    return s


# -- 9. reproduction summary --------------------------------------------------------


def competent_view(inp: ReportInputs) -> ReportInputs:
    """The inputs restricted to competent checkpoints: the table's rows, the case and its history, the circuit."""
    keep = inp.competent()
    checkpoints = {k: np.asarray(v)[keep] for k, v in inp.checkpoints.items()}
    case = inp.case if inp.case is not None and inp.case.row.get("competent") == 1.0 else None
    if case is not None:
        sel = np.asarray(case.history.get("competent", np.zeros(len(case.history.get("epoch", ())))), dtype=float) == 1.0
        case = dataclasses.replace(case, history={k: np.asarray(v)[sel] for k, v in case.history.items()})
    circuit = inp.circuit if inp.circuit and inp.circuit.get("competent") else None
    return dataclasses.replace(inp, checkpoints=checkpoints, case=case, circuit=circuit)


def verdicts(inp: ReportInputs) -> list[list[str]]:
    """Rows: claim, paper's figure, this run's figure, verdict, reason.

    The mirror claims are judged on competent checkpoints only (``competent_view``); with none, they read
    "not established". The accuracy claim is about the case network, competent or not.
    """
    rows = claim_rows(competent_view(inp))
    if not inp.competent().any():
        why = ("no checkpoint passed the competence rule (section 3): these networks did not learn the game, so their "
               "units say nothing about it" if inp.competence_measured else
               "this analysis did not measure competence; rerun `mirror-neurons analyze`")
        rows[:-1] = [[claim, paper, "no competent checkpoint", "not established", why] for claim, paper, *_ in rows[:-1]]
    rows[-1] = claim_rows(inp)[-1]
    return rows


def case_paper_loss(inp: ReportInputs) -> bool:
    loss = inp.case.row.get("loss") if inp.case is not None else None
    return not isinstance(loss, str) or loss == PAPER_LOSS


def case_at_level(inp: ReportInputs) -> np.ndarray:
    """The case model's checkpoints at about the paper's loss level (``PAPER_LEVEL_RULE``, threshold + 0.005)."""
    h = inp.case.history
    if case_paper_loss(inp):
        return np.asarray(h["val_loss"], dtype=float) <= inp.threshold + 0.005
    return np.asarray(h.get("competent", np.zeros(len(h["val_loss"]))), dtype=float) == 1.0


def claim_rows(inp: ReportInputs) -> list[list[str]]:
    """``verdicts``' rows on whatever checkpoints ``inp`` holds; the accuracy claim last."""
    rows = []
    c = inp.checkpoints
    n = inp.n_checkpoints
    loss = np.asarray(c.get("val_loss", []), dtype=float)
    cmni = np.asarray(c.get("cmni", []), dtype=float)
    under = inp.at_paper_level() if n else np.zeros(0, dtype=bool)
    sig = beats_chance(inp) if n else np.zeros(0, dtype=bool)

    claim = f"Checkpoints with val loss < {inp.threshold:g} and CMNI > {CMNI_ROBUST} exist (Table 1)"
    paper = "CMNI 0.01228 at val loss 0.0573 (2 x 11, lr 5e-5, epoch 1)"
    if not n or not under.any():
        rows.append([claim, paper, "no checkpoint at the paper's loss level" if n else "no checkpoints",
                     "not testable at this scale", "no checkpoint of the paper's loss reaches its threshold, and none "
                     "trained with another loss is competent"])
    else:
        best = float(cmni[under].max())
        ok = best > CMNI_ROBUST
        other = int((under & ~inp.paper_loss()).sum())
        rows.append([claim, paper, f"max CMNI {best:.5f} among {int(under.sum())} checkpoints at the paper's loss level"
                     + (f" ({other} of them trained with another loss and competent instead)" if other else ""),
                     "reproduced" if ok else "not reproduced", f"highest CMNI is {'above' if ok else 'below'} {CMNI_ROBUST}"])

    claim = "Positive CMNI beats chance (ours: not tested in the paper)"
    if n:
        share = float(sig.mean())
        perm, init = (np.asarray(c[k], dtype=float) < ALPHA for k in ("p_permutation", "p_random_init"))
        rows.append([claim, "not measured",
                     f"{int(sig.sum())} of {n} checkpoints ({pct(share)}) beat both nulls at p < {ALPHA} "
                     f"(permuted labels: {int(perm.sum())}, random init: {int(init.sum())})",
                     "reproduced" if share > 0.5 else "not reproduced",
                     "most checkpoints' CMNI exceeds both nulls" if share > 0.5 else
                     "most checkpoints' CMNI does not exceed both nulls" + (
                         "; untrained networks of the same shape have larger raw CMNI"
                         if init.mean() < 0.5 <= perm.mean() else "")])
    else:
        rows.append([claim, "not measured", "no checkpoints", "not testable at this scale", "no analysed checkpoints"])

    claim = "Three-layer models around val loss 0.08 have CMNI 0.0003-0.0005 (Table 2)"
    layers = np.asarray(c.get("layers", []))
    deep = layers == 3
    if not deep.any():
        rows.append([claim, "CMNI 0.0003-0.0005", "no three-layer model in this sweep", "not testable at this scale",
                     "the sweep has no three-layer model"])
    elif not (~deep).any():
        rows.append([claim, "CMNI 0.0003-0.0005", "only three-layer models in this sweep", "not testable at this scale",
                     "nothing shallower to compare with"])
    else:
        med = float(np.median(cmni[deep]))
        shallow = float(np.median(cmni[~deep]))
        p = float(stats.mannwhitneyu(cmni[deep], cmni[~deep], alternative="less").pvalue)
        ok = med < CMNI_ROBUST and p < ALPHA
        rows.append([claim, "CMNI 0.0003-0.0005", f"median CMNI {med:.5f} (three layers) vs {fmt(shallow, 5)} (fewer layers)",
                     "reproduced" if ok else "not reproduced",
                     f"three-layer checkpoints have lower CMNI (one-sided Mann-Whitney p = {p:.3g})" if ok
                     else f"three-layer checkpoints do not have significantly lower CMNI (one-sided Mann-Whitney p = {p:.3g})"])

    claim = "CMNI peaks early and declines while val loss keeps improving (Figure 2)"
    case = inp.case
    ref = inp.reference
    rpe, rpv, rle, rlv = peak_summary(ref["epoch"], ref["cmni"])
    paper = f"peak {rpv:.4f} at epoch {rpe}, {rlv:.4f} at epoch {rle}"
    if case is None or len(case.history.get("epoch", ())) < 4:
        rows.append([claim, paper, "fewer than 4 checkpoints of the case model", "not testable at this scale",
                     "too few checkpoints to see a peak and a decline"])
    elif not np.any(case_at_level(inp)):
        h = case.history
        rows.append([claim, paper, f"best val loss {float(np.min(h['val_loss'])):.4f}", "not testable at this scale",
                     f"the case model's loss never reaches about {inp.threshold:g}, where the paper's peak comes"
                     if case_paper_loss(inp) else "the case model is never competent"])
    elif float(np.max(case.history["cmni"])) <= CMNI_NONE:
        h = case.history
        rows.append([claim, paper, f"CMNI at most {float(np.max(h['cmni'])):.5f} over {len(h['epoch'])} checkpoints",
                     "not testable at this scale", f"the case model's CMNI never exceeds {CMNI_NONE}, so there is no peak to follow"])
    else:
        h = case.history
        # From the first checkpoint at about the paper's loss level (threshold + 0.005; the first competent
        # one for another loss) on: the paper's peak comes as the loss reaches ~0.06; "early" = in the
        # first third of the later checkpoints.
        start = int(np.argmax(case_at_level(inp)))
        later_epochs, later_cmni = np.asarray(h["epoch"])[start:], np.asarray(h["cmni"], dtype=float)[start:]
        pe, pv, le, lv = peak_summary(later_epochs, later_cmni)
        early = int(np.argmax(later_cmni)) <= (len(later_cmni) - 1) / 3 and pe < le
        decline = lv < 0.8 * pv
        at_peak = (np.asarray(c["model"]) == case.row["model"]) & (np.asarray(c["epoch"]) == pe)
        p_peak = float(np.asarray(c["p_value"], dtype=float)[at_peak][0]) if at_peak.any() else float("nan")
        chance = f"; the peak's p vs chance is {fmt(p_peak, 3)}"
        why = ("raw CMNI peaks early and then falls by more than 20 %" if early and decline else
               "the peak comes late (not in the first third of the checkpoints)" if not early else
               "no decline of more than 20 % after the peak")
        level = f"val loss <= {inp.threshold + 0.005:.3f}" if case_paper_loss(inp) else "the first competent checkpoint"
        rows.append([claim, paper, f"from epoch {int(later_epochs[0])} ({level}): "
                     f"peak {pv:.4f} at epoch {pe}, {lv:.4f} at epoch {le}",
                     "reproduced" if early and decline else "not reproduced", why + chance])

    claim = "About 4 of 17 first-layer units are mirror units, 2 differentiating (case example)"
    if case is None:
        rows.append([claim, "4 mirror, 2 differentiating of 17", "no case checkpoint", "not testable at this scale", "no case"])
    else:
        counts = class_counts(case.classes[0])
        mir, diff = counts.get("mirror", 0), counts.get("differentiating", 0)
        width = len(case.classes[0])
        ok = mir >= 1
        rows.append([claim, "4 mirror, 2 differentiating of 17", f"{mir} mirror, {diff} differentiating of {width}",
                     "reproduced" if ok else "not reproduced",
                     "mirror units found by the stated statistical rule (the case is the checkpoint with the most "
                     "of them, so this says they exist, not how common they are)" if ok else "no unit passes the mirror rule"])

    claim = "A layer-2 unit fed by mirror units drives leap (self-preservation circuit, z 2.12)"
    deep = None
    if case is not None and len(case.kernels) >= 3:
        deep = {"name": "the case checkpoint", "classes": case.classes, "kernels": case.kernels}
    elif inp.circuit is not None:
        deep = {**inp.circuit, "name": f"{inp.circuit['name']} (best two-layer checkpoint by the case rule)"}
    if deep is None:
        rows.append([claim, "z 2.12 to leap", "no competent model with two or more hidden layers" if case else "no case",
                     "not testable at this scale", "needs a competent model with at least two hidden layers"])
    else:
        first = [plots.class_name(x) for x in deep["classes"][0]]
        mirror = [i for i, x in enumerate(first) if x == "mirror"]
        w2, w3 = np.asarray(deep["kernels"][1], dtype=float), np.asarray(deep["kernels"][-1], dtype=float)
        if not mirror:
            rows.append([claim, "z 2.12 to leap", f"{deep['name']}: no mirror unit in layer 1", "not testable at this scale",
                         "the circuit needs mirror units"])
        else:
            z2 = (w2 - w2.mean()) / (w2.std() or 1)
            z3 = (w3 - w3.mean()) / (w3.std() or 1)
            hub = int(np.argmax(z2[:, mirror].mean(axis=1)))
            leap = int(np.argmax(w3[:, hub]))
            ok = leap == 2
            rows.append([claim, "mirror inputs z ~1.5, to leap z 2.12",
                         f"{deep['name']}, layer-2 unit {hub}: mirror inputs z {z2[hub, mirror].mean():.2f}, strongest output "
                         f"{('hop', 'jump', 'leap', 'help')[leap]} (z {z3[leap, hub]:.2f})",
                         "reproduced" if ok else "not reproduced",
                         "its strongest output is leap" if ok else "its strongest output is not leap"])

    claim = "Case example reaches test accuracy 0.9210"
    if case is None or case.row.get("accuracy") is None:
        rows.append([claim, "0.9210 (epoch 70)", "n/a", "not testable at this scale", "no case accuracy"])
    else:
        acc = float(case.row["accuracy"])
        ok = acc >= 0.90
        rows.append([claim, "0.9210 (epoch 70)", f"{acc:.4f} (epoch {int(case.row['epoch'])})",
                     "reproduced" if ok else "not reproduced" if inp.preset == "paper" else "not testable at this scale",
                     "within 0.02 or better" if ok else "the demo trains for far fewer samples than the paper" if inp.preset != "paper"
                     else "accuracy below 0.90"])
    return rows


def section_summary(inp: ReportInputs) -> Section:
    n = int(inp.competent().sum())
    s = Section("summary", "9. Reproduction summary", "The paper's claims (its case example, Tables 1 and 2, Figure 2 "
                f"and circuits) against this run, judged on the {n} competent checkpoint{'s' if n != 1 else ''} only "
                "(section 3). A verdict of 'not testable at this scale' or 'not established' says why.")
    rows = verdicts(inp)
    s.tables.append(Table("Claims", ["claim", "paper", "this run", "verdict", "reason"], rows))
    return s


SECTIONS = (section_game, section_training, section_competence, section_case, section_chance, section_training_time, section_circuits,
            section_behaviour, section_summary)


def build_sections(inp: ReportInputs) -> list[Section]:
    return [make(inp) for make in SECTIONS]

