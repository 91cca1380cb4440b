"""The report's ten sections, each built from ``ReportInputs``: figures, readings, tables.

A section is a title, a short introduction, figures (each with a one-sentence
reading computed from the data it shows, never a canned sentence) and tables.
The order is fixed by the issues: game, training, whether the networks learned
the game (competence), whether training made mirror units (each model against its
own initialisation, ``analysis.paired``), case checkpoint, CMNI against chance,
over training, circuits, behaviour, reproduction summary. Mirror claims are measured on
competent checkpoints (``analysis.competence``); incompetent ones are shown
apart, and a claim with no competent checkpoint reads "not established".
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from mirror_neurons.analysis.competence import (
    ACTION_NAMES,
    COMPETENCE_RULE,
    CONFUSION_COLUMNS,
    RECALL_COLUMNS,
    best_per_model,
)
from mirror_neurons.experiments import rl_plots
from mirror_neurons.report import plots
from mirror_neurons.report.inputs import ALPHA, CMNI_NONE, CMNI_ROBUST, PAPER_LEVEL_RULE, PAPER_LOSS, ReportInputs

DPI = 200
"""Pixels per inch of every figure's PNG: print quality (a 7-inch figure is 1,400 pixels wide)."""
DISPLAY_DPI = 100
"""CSS pixels per inch the page shows a figure at; the PNG has DPI / DISPLAY_DPI times as many, for sharp prints and screens."""


@dataclass
class Figure:
    title: str
    png_base64: str
    reading: str
    width: int
    """Display width in CSS pixels (the PNG is DPI / DISPLAY_DPI times wider)."""
    height: int
    svg: str = ""
    """The same figure as SVG text, for print and editing; the report writes it beside the PNG."""
    file: str = ""
    """The figure's file stem under the report's figures/ folder, once written (links from the page)."""


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
    """Render a Matplotlib figure to a PNG at ``DPI`` (inline in the page) and to SVG, and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    vector = io.StringIO()
    # fixed element ids and no date (the same figure, the same bytes); text as text, so it can be edited and searched
    with plt.rc_context({"svg.hashsalt": "mirror-neurons", "svg.fonttype": "none"}):
        fig.savefig(vector, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    data = buf.getvalue()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # PNG IHDR
    scale = DISPLAY_DPI / DPI
    return Figure(
        title,
        base64.b64encode(data).decode("ascii"),
        reading,
        round(width * scale),
        round(height * scale),
        svg=vector.getvalue(),
    )


def fmt(x, digits: int = 4) -> str:
    """A number for a caption or a table, always in positional notation so a column reads one way: ``digits``
    decimals; below 0.001, three significant digits (0.000977, never 9.77e-04); from 100,000, whole with commas."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if abs(x) >= 1e5:
        return f"{x:,.0f}"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.{2 - int(np.floor(np.log10(abs(x))))}f}"  # three significant digits
    return f"{x:.{digits}f}"


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


MISSING = "–"
"""What a table cell shows for a value that was not computed; the caption or a neighbouring column says why."""


def cell(v) -> str:
    """A table cell: a missing number (None, NaN, the text 'nan') shows as ``MISSING``, never as 'nan'."""
    if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
        return MISSING
    text = str(v)
    return MISSING if text.strip().lower() in ("nan", "none", "inf", "-inf") else text


def count(v) -> str:
    """A whole number for a table cell, ``MISSING`` when it was not measured (NaN: e.g. no unit classes)."""
    return str(int(v)) if v is not None and np.isfinite(float(v)) else MISSING


def configuration_of(model: str) -> str:
    """A sweep model id without its replicate ('c000r3_h17x17_...' -> 'c000 h17x17_...'): the seeds of one
    configuration share a colour in the figures; other names stand for themselves."""
    m = re.match(r"^(c\d+)r\d+_(.*)$", str(model))
    return f"{m.group(1)} {m.group(2)}" if m else str(model)


# -- 1. the game ----------------------------------------------------------------


def section_game(inp: ReportInputs) -> Section:
    s = Section(
        "game",
        "1. The game",
        "Frog and Toad share a scrolling world; distress means standing on rough "
        "ground (X). The model sees Frog's view of the board as 100 integers and picks one of four actions.",
    )
    case = inp.case
    if case is not None and case.episode:
        s.pre = [f"--- frame {i} ---\n{frame}" for i, frame in enumerate(case.episode)]
        counts = case.row.get("_episode_actions") or {}
        if counts:
            s.notes.append(
                f"In these {len(case.episode) - 1} turns the case model, playing Frog against a random Toad, chose "
                + ", ".join(f"{name} {n} time{'s' if n != 1 else ''}" for name, n in counts.items())
                + "."
            )
    for key, what, colour in (
        ("label", "best action (label)", "#4c72b0"),
        ("scenario", "distress scenario", "#dd8452"),
    ):
        counts = inp.distributions.get(key)
        if not counts:
            continue
        fig, ax = plt.subplots(figsize=(5, 2.8))
        plots.plot_distribution(counts, ax=ax, title=f"Dataset: {what}", colour=colour)
        total = sum(counts.values())
        share = {k: v / total for k, v in counts.items()} if total else {}
        top, low = max(share, key=share.get), min(share, key=share.get)
        if key == "label":
            reading = (
                f"Of {total:,} labeled states, '{top}' is the most common best action ({pct(share[top])}) "
                f"and '{low}' the rarest ({pct(share[low])})."
            )
        else:
            reading = (
                f"{pct(share.get('none', 0))} of states have no distress, and {pct(share.get('both', 0))} have "
                f"both players in distress, the veil-of-ignorance case where Frog cannot tell who is who."
            )
        s.figures.append(figure(fig, f"Dataset {what}", reading))
    return s


# -- 2. training ------------------------------------------------------------------


def checkpoint_table(inp: ReportInputs, index: np.ndarray, caption: str) -> Table:
    c = inp.checkpoints
    cols = [
        "model",
        "hidden",
        "lr",
        "epoch",
        "val loss",
        "accuracy",
        "macro recall",
        "competent",
        "MNE",
        "CMNI",
        "95 % CI",
        "p vs chance",
        "mirror units",
    ]
    competent = inp.competent()
    rows = []
    for i in index:
        rows.append(
            [
                str(c["model_id"][i]),
                str(c["hidden"][i]),
                cell(f"{float(c['hyperparameters.lr'][i]):.0e}"),
                count(c["epoch"][i]),
                fmt(c["val_loss"][i]),
                fmt(c["test_accuracy"][i], 3),
                fmt(c.get("macro_recall", c["test_accuracy"] * np.nan)[i], 3),
                yes_no(competent[i]),
                fmt(c["mne"][i], 5),
                fmt(c["cmni"][i], 5),
                f"[{fmt(c['cmni_ci_low'][i], 5)}, {fmt(c['cmni_ci_high'][i], 5)}]",
                fmt(c["p_chance"][i], 3),
                count(c["n_mirror"][i]),
            ]
        )
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
        f"is competent, so the paper-loss checkpoints of the lowest-loss quarter (val loss <= {cut:.4f}) stand in"
    )


def recipes(inp: ReportInputs) -> str:
    """The sweep's training recipes in one sentence: how many models per (loss, encoding)."""
    c = inp.checkpoints
    per_model: dict[str, tuple[str, str]] = {}
    unknown = np.full(inp.n_checkpoints, np.nan)
    for model, loss, encoding in zip(c["model_id"], c.get("hyperparameters.loss", unknown), c.get("encoding", unknown)):
        per_model[str(model)] = (
            loss if isinstance(loss, str) else PAPER_LOSS,
            encoding if isinstance(encoding, str) else "raw",
        )
    counts: dict[tuple[str, str], int] = {}
    for key in per_model.values():
        counts[key] = counts.get(key, 0) + 1
    names = {
        PAPER_LOSS: "the paper's loss (mean squared error to one-hot labels plus 0.01 x the squared kernel weights)",
        "mse": "mean squared error without the L2 term",
        "cross_entropy": "softmax cross-entropy",
    }
    parts = [
        f"{n} with {names.get(loss, loss)} on {encoding} input"
        for (loss, encoding), n in sorted(counts.items(), key=lambda kv: -kv[1])
    ]
    return f"The sweep trains {len(per_model)} models: " + "; ".join(parts) + "."


def section_training(inp: ReportInputs) -> Section:
    intro = recipes(inp) + " " if inp.n_checkpoints else ""
    s = Section(
        "training",
        "2. Training",
        intro + "A checkpoint is saved at every epoch whose validation loss, in the "
        "model's own objective, is the best so far. The paper's loss threshold is in the units of its loss, so it "
        "is read only for models trained with it; section 3 judges every model by what it predicts.",
    )
    if inp.curves:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        plots.plot_loss_curves(
            inp.curves, ax=ax, threshold=inp.threshold, groups={m: configuration_of(m) for m in inp.curves}
        )
        best = {k: float(np.min(v[1])) for k, v in inp.curves.items() if len(v[1])}
        paper_models = {str(m) for m, p in zip(inp.checkpoints.get("model_id", ()), inp.paper_loss()) if p}
        paper_best = {k: v for k, v in best.items() if k in paper_models}
        first = min(best, key=best.get)
        reading = (
            f"The {len(best)} models reach best validation losses between {min(best.values()):.4f} ({first}) and "
            f"{max(best.values()):.4f}, each in its own objective (cross-entropy and squared error are not "
            f"comparable numbers). "
        )
        reading += (
            f"{sum(b < inp.threshold for b in paper_best.values())} of the {len(paper_best)} models trained with "
            f"the paper's loss go below its {inp.threshold:g} threshold."
            if paper_best
            else "No model is trained with the paper's loss, so its threshold line does not apply here."
        )
        reading += (
            " What to conclude: whether each model converged (its curve flattens), not which learned the game; "
            "section 3 compares them on what they predict."
        )
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
        s.tables.append(
            checkpoint_table(inp, order[::-1][:k], "Table 2 style: lowest CMNI among the same checkpoints.")
        )
    return s


# -- 3. did the networks learn the game? ------------------------------------------------

METRIC_NAMES = {
    "val_macro_recall": "validation macro recall",
    "macro_recall": "test macro recall (checkpoints)",
}


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def competent_models(inp: ReportInputs) -> set[str]:
    """Models with at least one competent checkpoint."""
    return {str(m) for m in np.asarray(inp.checkpoints["model_id"])[inp.competent()]}


def learning_baselines(inp: ReportInputs) -> dict[str, float]:
    """The baselines drawn beside the learning curves, on the split the curves are measured on."""
    base = inp.baselines
    if not base:
        return {}
    key = "macro_recall"  # the learning curves are macro recall: validation (histories) or test (checkpoints)
    test = inp.learning_metric == "macro_recall"
    source = base["baselines"] if test else base.get("validation") or {}
    where = "test" if test else "validation"
    lines = {
        f"{name.replace('_', ' ')} ({where})": source[name][key]
        for name in ("energy_rule", "label_prior")
        if name in source
    }
    if test:
        lines["ceiling (test)"] = base["baselines"]["ceiling"][key]
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
            rows.append(
                [
                    f"{name.replace('_', ' ')}: {b['description']}",
                    fmt(float(b["accuracy"]), 3),
                    *(fmt(None if recall.get(a) is None else float(recall[a]), 3) for a in ACTION_NAMES),
                    fmt(float(b["macro_recall"]), 3),
                ]
            )
        tables.append(Table(f"Baselines on the {base['test_states']:,} test states", ["baseline", *cols], rows))
    c = inp.checkpoints
    competent = inp.competent()
    nan = np.full(inp.n_checkpoints, np.nan)
    macro = np.asarray(c.get("macro_recall", nan), dtype=float)
    recall = {k: np.asarray(c.get(k, nan), dtype=float) for k in RECALL_COLUMNS}
    best = best_per_model(c["model_id"], macro, competent)
    rows = []
    for model, i in sorted(best.items(), key=lambda kv: -np.nan_to_num(macro[kv[1]], nan=-1)):
        rows.append(
            [
                model,
                str(c["hidden"][i]),
                str(int(c["epoch"][i])),
                fmt(c["test_accuracy"][i], 3),
                *(fmt(recall[k][i], 3) for k in RECALL_COLUMNS),
                fmt(macro[i], 3),
                yes_no(competent[i]) if inp.competence_measured else "not measured",
            ]
        )
    tables.append(
        Table(
            "Competence per model: its competent checkpoint with the highest test macro recall, or its "
            "highest-macro-recall checkpoint when none is competent",
            ["model", "hidden", "epoch", *cols, "competent"],
            rows,
        )
    )
    return tables


def section_competence(inp: ReportInputs) -> Section:
    s = Section(
        "competence",
        "3. Did the networks learn the game?",
        (
            "A mirror figure only describes a network that plays the game, so each checkpoint's test predictions are "
            "judged first, against three baselines: the energy rule (energy 0 -> jump, otherwise hop), which reads one "
            "input and has recall 1 for hop and jump and 0 for leap and help, so macro recall 0.5; the label prior "
            "(always the most frequent training label); and the information ceiling, the best any function of the "
            "model's input can do (the input hides Frog's position, and when both players are in distress it cannot "
            "tell which is Frog). The labeling rule itself scores 1 by construction. "
            f"Rule: {COMPETENCE_RULE}. Every mirror claim after this section is measured on competent checkpoints only."
        ),
    )
    if not inp.n_checkpoints:
        return s
    competent = inp.competent()
    good_models = competent_models(inp)
    n_models = len(set(np.asarray(inp.checkpoints["model_id"]).astype(str)))
    if not inp.competence_measured:
        s.notes.append(
            "This analysis did not measure competence; rerun `mirror-neurons analyze` to see whether the "
            "networks learned the game. Until then no mirror claim of this report is established."
        )
    if inp.learning:
        s.figures.append(learning_figure(inp, good_models, n_models))
    if inp.case is not None and confusion_of(inp.case.row) is not None and inp.baselines:
        s.figures.append(confusion_figure(inp))
    s.tables.extend(competence_tables(inp))
    s.notes.append(
        f"{int(competent.sum())} of {inp.n_checkpoints} checkpoints and {len(good_models)} of {n_models} "
        "models are competent."
        + ("" if competent.any() else " No mirror claim below is established: none of these networks learned the game.")
    )
    help_note = toad_help_note(inp.behaviour)
    if help_note:
        s.notes.append(help_note)
    return s


def learning_figure(inp: ReportInputs, good_models: set[str], n_models: int) -> Figure:
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    lines = learning_baselines(inp)
    label = METRIC_NAMES.get(inp.learning_metric, inp.learning_metric)
    plots.plot_learning_curves(
        inp.learning,
        lines,
        ax=ax,
        ylabel=label,
        competent=sorted(good_models),
        groups={m: configuration_of(m) for m in inp.learning},
    )
    best = {m: float(np.nanmax(v)) for m, (_, v) in inp.learning.items() if np.isfinite(v).any()}
    top = max(best, key=best.get) if best else None
    energy = next((v for k, v in lines.items() if k.startswith("energy rule")), None)
    reading = (
        f"{len(good_models)} of {n_models} models reach a competent checkpoint (solid lines; dotted: never "
        f"competent). "
        + (f"The best {label} is {best[top]:.3f} ({top})" if top else "No curve has a value")
        + (
            f", against the energy rule's {energy:.3f}: a curve that stays on that line learned energy and "
            f"nothing else."
            if energy is not None and top
            else "."
        )
    )
    return figure(fig, "Learning curves against the baselines", reading)


def confusion_figure(inp: ReportInputs) -> Figure:
    case = inp.case
    energy_cm = np.asarray(inp.baselines["baselines"]["energy_rule"]["confusion"], dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.6))
    plots.plot_confusion(confusion_of(case.row), ax=axes[0], title=f"case: {case.name}")
    plots.plot_confusion(energy_cm, ax=axes[1], title="energy rule")
    fig.tight_layout()
    recall = [case.row.get(k) for k in RECALL_COLUMNS]
    reading = (
        f"The case checkpoint ({'competent' if case.row.get('competent') == 1.0 else 'not competent'}) "
        "recalls "
        + ", ".join(f"{a} {fmt(r, 2)}" for a, r in zip(ACTION_NAMES, recall))
        + "; the energy rule recalls hop and jump fully and never predicts leap or help, so leap and help "
        "states land in its hop column."
    )
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
    return (
        f"Does it help when only Toad is in distress? Playing Frog in {b.get('games', '?')} games, {who} "
        f"({status}) helps in {fmt(b['values'][net][k], 3)} of those turns; the labeling rule, which helps "
        f"only near the right edge, in {fmt(rule, 3)} (section 9)."
    )


# -- 4. did training make mirror units? -------------------------------------------------

MEASURE_LABELS = {"cmni_effect_size": "scale-free mirror index", "cmni": "raw CMNI", "n_mirror": "mirror units"}
LABEL_ORDER = ("rule", "toad_blind", "shuffled")
"""Training labels (``TrainConfig.labels``): the rule's, then the training-level nulls."""
PAIRED_NOT_RUN = (
    "No paired test: this analysis has no analysis/paired.json. Rerun `mirror-neurons analyze` on a run "
    "trained with this version, whose models have epoch-0 checkpoints, to draw this section."
)


def _label_rank(label: str) -> int:
    return LABEL_ORDER.index(label) if label in LABEL_ORDER else len(LABEL_ORDER)


def paired_groups(models: dict[str, np.ndarray], measure: str) -> tuple[dict[str, tuple], dict[str, str]]:
    """({group: (init, trained, competent)}, {group: colour}): the models of ``paired_models`` grouped by
    training labels (rule, toad_blind, shuffled) and input encoding, one entry per model."""
    labels, encoding = np.asarray(models["labels"]).astype(str), np.asarray(models["encoding"]).astype(str)
    groups, colours = {}, {}
    for label, enc in sorted(set(zip(labels, encoding)), key=lambda k: (_label_rank(k[0]), k)):
        sel = (labels == label) & (encoding == enc)
        name = f"{label.replace('_', '-')}, {enc} ({int(sel.sum())})"
        groups[name] = tuple(np.asarray(models[k])[sel] for k in (f"{measure}_init", f"{measure}_trained", "competent"))
        colours[name] = plots.LABEL_STYLES.get(label, "#7f7f7f")
    return groups, colours


def short_configurations(configurations: list[str]) -> dict[str, str]:
    """Each configuration string ('k=v, k=v, ...') shortened to the keys that tell the configurations apart,
    always with hidden, labels and encoding."""
    parsed = {c: dict(kv.split("=", 1) for kv in re.split(r", (?=[\w.]+=)", c) if "=" in kv) for c in configurations}
    keys = {k for d in parsed.values() for k in d}
    varying = {k for k in keys if len({d.get(k) for d in parsed.values()}) > 1} | (
        {"hidden", "labels", "encoding"} & keys
    )
    return {c: ", ".join(f"{k}={v}" for k, v in d.items() if k in varying) or c for c, d in parsed.items()}


def paired_reading(groups: dict[str, tuple], answer: dict | None, measure: str) -> str:
    parts = []
    for name, (init, trained, _) in groups.items():
        init, trained = np.asarray(init, dtype=float), np.asarray(trained, dtype=float)
        rose = int(np.sum(trained > init))
        parts.append(
            f"{name}: {rose} of {len(init)} models rose ({fmt(np.nanmean(init))} -> {fmt(np.nanmean(trained))})"
        )
    conclusion = f" What to conclude: {answer['headline']}" if answer else ""
    return (
        f"On the {MEASURE_LABELS.get(measure, measure)}, from initial weights to the trained checkpoint, "
        + "; ".join(parts)
        + "."
        + conclusion
    )


def paired_figure(inp: ReportInputs) -> Figure:
    measures = list((inp.paired or {}).get("measures") or ["cmni_effect_size", "cmni"])
    primary = measures[0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, measure in zip(axes, (primary, "cmni")):
        groups, colours = paired_groups(inp.paired_models, measure)
        plots.plot_paired(groups, ax=ax, ylabel=MEASURE_LABELS.get(measure, measure), colours=colours)
        ax.set_title(
            MEASURE_LABELS.get(measure, measure) + (" (primary)" if measure == primary else " (the paper's index)"),
            fontsize=9,
        )
    fig.tight_layout()
    groups, _ = paired_groups(inp.paired_models, primary)
    return figure(fig, "Each model at initialisation and trained", paired_reading(groups, inp.answer, primary))


def paired_tables(paired: dict) -> list[Table]:
    """The per-configuration paired tests and the training-null comparisons of ``analysis/paired.json``."""
    alpha = paired.get("alpha", ALPHA)
    configs = paired.get("configurations") or []
    short = short_configurations(list(dict.fromkeys(t["configuration"] for t in configs)))
    rows = [
        [
            short[t["configuration"]],
            MEASURE_LABELS.get(t["measure"], t["measure"]),
            str(t["n_models"]),
            str(t["n_competent"]),
            fmt(t["mean_init"]),
            fmt(t["mean_trained"]),
            f"{fmt(t['mean_change'])} (d_z {fmt(t.get('d_z'), 2)})",
            f"[{fmt(t['ci_low'])}, {fmt(t['ci_high'])}]",
            fmt(t["p_value"], 4),
            fmt(t["p_floor"], 4),
            t["verdict"],
        ]
        for t in sorted(configs, key=lambda t: (_label_rank(t["labels"]), t["configuration"]))
    ]
    tables = [
        Table(
            f"Paired test per configuration: each model's trained checkpoint against its own epoch-0 checkpoint, "
            f"{paired.get('min_seeds', 10)} or more seeds. p: one-sided exact Wilcoxon signed-rank test of 'the change is "
            f"> 0' over the models; floor: the smallest p its models allow (1 / 2^n for n models with non-zero changes), so "
            f"a floor at or above {alpha:g} means the test could not have reached significance. Interval: 95 % BCa "
            f"bootstrap of the mean change over models. A p below {alpha:g} with an interval above 0 says training raised "
            f"the measure beyond each network's initialisation; raw CMNI also grows with the size of activations. "
            f"n/a: not computed for a configuration with fewer than {paired.get('min_seeds', 10)} seeds (its verdict says so).",
            [
                "configuration",
                "measure",
                "models",
                "competent",
                "init (mean)",
                "trained (mean)",
                "change (mean)",
                "95 % interval",
                "p",
                "floor",
                "verdict",
            ],
            rows,
        )
    ]
    nulls = paired.get("training_nulls") or []
    if nulls:
        tables.append(
            Table(
                f"Training-level nulls: the change of rule-trained models against models of the same architecture and "
                f"encoding trained on Toad-blind labels (the partner's distress useless for the task) or shuffled labels. "
                f"p: one-sided Mann-Whitney (rule larger) over models; floor: 1 / C(n_rule + n_null, n_rule), the smallest p "
                f"these counts allow. A p below {alpha:g} says the rise is tied to what the rule's labels teach; otherwise "
                f"mirror patterns grow as much without the partner.",
                [
                    "null",
                    "architecture",
                    "encoding",
                    "measure",
                    "rule models",
                    "null models",
                    "change (rule)",
                    "change (null)",
                    "p",
                    "floor",
                ],
                [
                    [
                        r["null"],
                        str(r["architecture"]),
                        str(r["encoding"]),
                        MEASURE_LABELS.get(r["measure"], r["measure"]),
                        str(r["n_rule"]),
                        str(r["n_null"]),
                        fmt(r["mean_change_rule"]),
                        fmt(r["mean_change_null"]),
                        fmt(r["p_value"], 4),
                        fmt(r["p_floor"], 4),
                    ]
                    for r in nulls
                ],
            )
        )
    return tables


def section_paired(inp: ReportInputs) -> Section:
    s = Section(
        "paired",
        "4. Did training make mirror units?",
        (
            "The question itself. An untrained network already has units that respond to distress, so each model is "
            "compared with its own initial weights (its epoch-0 checkpoint): the measure at its last checkpoint (the best "
            "validation loss, fixed before any measure is looked at) minus the measure at epoch 0. The model is the unit "
            "of replication, so tests run over models (seeds), never over checkpoints. The primary measure is the "
            "scale-free mirror index (docs/analysis.md); raw CMNI is shown beside it for the paper. Training-level nulls: "
            "the same networks trained on Toad-blind labels (the partner's distress is useless for the task) or on "
            "shuffled labels (nothing to learn)."
        ),
    )
    if inp.paired is None:
        s.notes.append(PAIRED_NOT_RUN)
        return s
    if inp.answer:
        s.notes.append(f"Answer: {inp.answer['headline']} Decided by: {inp.answer['decided_by']}.")
    if inp.paired.get("rule"):
        s.intro += f" Rule: {inp.paired['rule']}."
    without = inp.paired.get("models_without_init")
    if without:
        s.notes.append(
            f"{without} of {inp.paired.get('models', '?')} models have no epoch-0 checkpoint and are left out "
            "of every paired test."
        )
    if inp.paired_models and len(inp.paired_models.get("model_id", ())):
        s.figures.append(paired_figure(inp))
    s.tables.extend(paired_tables(inp.paired))
    return s


# -- 5. the case checkpoint --------------------------------------------------------


def class_counts(classes: list[str]) -> dict[str, int]:
    names = [plots.class_name(c) for c in classes]
    return {c: names.count(c) for c in plots.UNIT_CLASSES if names.count(c)}


def case_status(case) -> str:
    if case.row.get("competent") == 1.0:
        return "a competent checkpoint"
    return "not competent (no checkpoint is), so what follows describes a network that did not learn the game"


def section_case(inp: ReportInputs) -> Section:
    s = Section("case", "5. The case checkpoint", "One checkpoint looked at closely, as the paper's case example.")
    case = inp.case
    if case is None:
        s.notes.append("No checkpoint could be analysed, so there is no case example.")
        return s
    s.intro += f" Chosen rule: {case.rule} Chosen: {case.name}, {case_status(case)}."
    hidden = len(case.layer_names)
    fig, axes = plt.subplots(hidden, 1, figsize=(8, 2.6 * hidden), squeeze=False)
    for k, (ax, name, means, classes) in enumerate(zip(axes[:, 0], case.layer_names, case.means, case.classes)):
        output = k == hidden - 1
        plots.plot_scenario_means(
            means,
            classes,
            ax=ax,
            title=f"{name} (output layer)" if output else f"{name} (hidden layer {k + 1})",
            unit_names=("hop", "jump", "leap", "help") if output and len(means) == 4 else None,
        )
    fig.tight_layout()
    first = case.classes[0]
    m = np.asarray(case.means[0])
    mirror = [i for i, c in enumerate(first) if plots.class_name(c) == "mirror"]
    counts = ", ".join(f"{n} {c}" for c, n in class_counts(first).items())
    if mirror:
        lift = m[mirror].mean(axis=0)
        reading = (
            f"Layer {case.layer_names[0]} has {counts} units; its mirror units' mean activation is "
            f"{lift[0]:.3f} with no distress, {lift[1]:.3f} with Frog's, {lift[2]:.3f} with Toad's and "
            f"{lift[3]:.3f} with both in distress."
        )
    else:
        reading = f"Layer {case.layer_names[0]} has {counts} units and no mirror unit at this checkpoint."
    s.figures.append(figure(fig, "Mean activation per unit and scenario", reading))

    if case.boxes:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        plots.plot_unit_boxes(case.boxes, ax=ax)
        name, arrays = next(iter(case.boxes.items()))
        med = [float(np.median(a)) if len(a) else float("nan") for a in arrays]
        reading = (
            f"Unit {name}'s median activation is {med[0]:.3f} with no distress, {med[1]:.3f} (Frog), "
            f"{med[2]:.3f} (Toad) and {med[3]:.3f} (both)."
        )
        s.figures.append(figure(fig, "Activation distributions of selected units", reading))

    all_classes = [c for layer in case.classes for c in layer]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    parts = []
    for ax, (label, values) in zip(
        axes, (("variance", case.variance), ("skewness", case.skewness), ("excess kurtosis", case.kurtosis))
    ):
        v = np.vstack(values)
        plots.plot_moment_by_scenario(v, all_classes, ax=ax, ylabel=label, legend=ax is axes[-1])
        marked = [i for i, c in enumerate(all_classes) if plots.class_name(c) != "other"] or list(range(len(v)))
        finite = np.isfinite(v[marked])  # a dead unit's skewness and kurtosis are undefined (NaN)
        avg = np.where(finite, v[marked], 0).sum(axis=0) / np.maximum(finite.sum(axis=0), 1)
        parts.append(
            f"{label} is on average highest in '{plots.SCENARIOS[int(np.nanargmax(avg))]}' ({np.nanmax(avg):.3f})"
        )
    fig.tight_layout()
    who = "classified" if any(plots.class_name(c) != "other" for c in all_classes) else "all"
    s.figures.append(
        figure(fig, "Variance, skewness and kurtosis by scenario", f"Over {who} units, " + "; ".join(parts) + ".")
    )
    if case.group_sizes:
        s.notes.append(
            "Test states per scenario group: " + ", ".join(f"{k} {v:,}" for k, v in case.group_sizes.items()) + "."
        )
    return s


# -- 6. CMNI against chance ------------------------------------------------------


def chance_conclusion(n_beat: int) -> str:
    """What to conclude from the competent checkpoints against chance."""
    if n_beat == 0:
        return " What to conclude: no competent checkpoint's CMNI is distinguishable from chance."
    return (
        " What to conclude: in these checkpoints units respond to distress more than in untrained or label-permuted "
        "networks; whether training made mirror units is section 4's paired test, not this one."
    )


def beats_chance(inp: ReportInputs) -> np.ndarray:
    return np.asarray(inp.checkpoints["p_chance"], dtype=float) < ALPHA


def section_chance(inp: ReportInputs) -> Section:
    s = Section(
        "chance",
        "6. CMNI against chance",
        "CMNI is positive for any network whose units respond to distress "
        f"at all, so each checkpoint is tested against null distributions (see docs/report.md); a checkpoint "
        f"beats chance when its p-value is below {ALPHA}.",
    )
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
        plots.plot_cmni_vs_chance(
            *(np.asarray(c[k])[sel] for k in ("cmni", "cmni_ci_low", "cmni_ci_high", "null_chance_mean")),
            sig[sel],
            ax=ax,
        )
        reading = (
            f"{int(sig[sel].sum())} of {int(sel.sum())} {title} ({pct(sig[sel].mean())}) beat both nulls "
            f"(p < {ALPHA}): {int(perm[sel].sum())} beat the permuted-label null and {int(init[sel].sum())} the "
            "random-initialisation null."
            + (
                chance_conclusion(int(sig[sel].sum()))
                if sel is competent
                else " These networks did not learn the game; their CMNI is not evidence."
            )
        )
        s.figures.append(figure(fig, f"CMNI, interval and null: {title}", reading))
    case = inp.case
    if case is not None and case.nulls:
        fig, ax = plt.subplots(figsize=(6, 3))
        observed = float(case.row["cmni"])
        plots.plot_null_distribution(case.nulls, observed, ax=ax)
        parts = [
            f"{np.mean(np.asarray(v) >= observed):.3f} of the '{k}' null is at or above it"
            for k, v in case.nulls.items()
            if len(v)
        ]
        above = all(np.mean(np.asarray(v) >= observed) < ALPHA for v in case.nulls.values() if len(v))
        reading = (
            f"The case checkpoint's CMNI is {observed:.5f}; "
            + "; ".join(parts)
            + ". What to conclude: "
            + (
                "its CMNI is larger than almost every untrained or label-permuted network's, which says its units "
                "respond to distress, not that training made them mirror units (section 4)."
                if above
                else "networks that learned nothing about distress reach its CMNI, so it is no evidence of mirror units."
            )
        )
        s.figures.append(figure(fig, "The case checkpoint against its nulls", reading))
    low = inp.at_paper_level()

    def share(mask, sel) -> str:
        return f"{int(mask[sel].sum())} ({pct(mask[sel].mean())})" if sel.any() else "0"

    s.tables.append(
        Table(
            f"Share of checkpoints beating chance (p < {ALPHA}), competent and not competent apart. *{PAPER_LEVEL_RULE}",
            [
                "checkpoints",
                "number",
                "beat permuted labels",
                "beat random init",
                "beat both",
                "at the paper's loss level* and beat both",
            ],
            [
                [
                    name,
                    str(int(sel.sum())),
                    share(perm, sel),
                    share(init, sel),
                    share(sig, sel),
                    str(int((sig & low & sel).sum())),
                ]
                for name, sel in (
                    ("competent", competent),
                    ("not competent", ~competent),
                    ("all", np.ones_like(competent)),
                )
            ],
        )
    )
    order = np.lexsort((np.asarray(c["epoch"]), np.asarray(c["model_id"]).astype(str)))
    s.tables.append(
        Table(
            "Every checkpoint: competence, CMNI, its bootstrap interval and both controls' p-values",
            [
                "model",
                "epoch",
                "competent",
                "val loss",
                "CMNI",
                "95 % CI",
                "p random init",
                "p permuted labels",
                "beats chance",
            ],
            [
                [
                    str(c["model_id"][i]),
                    str(int(c["epoch"][i])),
                    yes_no(competent[i]),
                    fmt(c["val_loss"][i]),
                    fmt(c["cmni"][i], 5),
                    f"[{fmt(c['cmni_ci_low'][i], 5)}, {fmt(c['cmni_ci_high'][i], 5)}]",
                    fmt(c["p_random_init"][i], 3),
                    fmt(c["p_permutation"][i], 3),
                    "yes" if sig[i] else "no",
                ]
                for i in order
            ],
            collapsed=True,
        )
    )
    return s


# -- 7. over training ---------------------------------------------------------------


def peak_summary(epochs, cmni) -> tuple[int, float, int, float]:
    epochs, cmni = np.asarray(epochs), np.asarray(cmni, dtype=float)
    i = int(np.argmax(cmni))
    return int(epochs[i]), float(cmni[i]), int(epochs[-1]), float(cmni[-1])


def initial_reading(h: dict, scale_free: np.ndarray) -> str:
    """What the epoch-0 point says: the raw and the scale-free index at initialisation against the last checkpoint."""
    epochs = np.asarray(h["epoch"])
    if not len(epochs) or epochs[0] != 0:
        return (
            f"This model has no epoch-0 checkpoint (a run trained before they were written), so the curves start "
            f"at epoch {int(epochs[0]) if len(epochs) else '?'} and cannot be compared with its initialisation."
        )
    cmni = np.asarray(h["cmni"], dtype=float)
    out = f"At epoch 0 (its initial weights) CMNI is {fmt(cmni[0])}, against {fmt(cmni[-1])} at the last checkpoint"
    if np.isfinite(scale_free[[0, -1]]).all():
        out += (
            f"; the scale-free index is {fmt(scale_free[0])} at epoch 0 and {fmt(scale_free[-1])} at the last "
            f"checkpoint ({'above' if scale_free[-1] > scale_free[0] else 'not above'} its initialisation)"
        )
    return out + "."


PAPER_EPOCH_ROWS = 3_800_000
"""Training rows in one of the paper's epochs, the estimate the docs use throughout (docs/ray.md, docs/benchmarks.md):
an epoch there is about a hundred of the demo's (40,000 rows)."""


def epoch_rows(inp: ReportInputs, model: str) -> int | None:
    """Training rows per epoch of ``model``: its samples seen over its epochs at its last checkpoint (None if unknown)."""
    c = inp.checkpoints
    if "samples_seen" not in c or "model_id" not in c:
        return None
    sel = (np.asarray(c["model_id"]).astype(str) == str(model)) & (np.asarray(c["epoch"], dtype=float) > 0)
    if not sel.any():
        return None
    i = np.flatnonzero(sel)[np.argmax(np.asarray(c["epoch"], dtype=float)[sel])]
    seen = float(np.asarray(c["samples_seen"], dtype=float)[i])
    return round(seen / float(c["epoch"][i])) if np.isfinite(seen) else None


def epoch_axis(rows: int | None) -> str:
    """The epoch axis label of a figure that puts this run's epochs beside the paper's: what an epoch is on each side."""
    paper = f"paper: about {PAPER_EPOCH_ROWS / 1e6:.1f} M"
    return (
        f"epoch (0 = initial weights)\nthis run: {rows:,} rows per epoch; {paper}"
        if rows
        else f"epoch (0 = initial weights)\n{paper}, this run fewer"
    )


def section_training_time(inp: ReportInputs) -> Section:
    s = Section(
        "over-training",
        "7. Over training",
        "CMNI and validation loss of the case model at every checkpoint, "
        "as the paper's Figure 2, from epoch 0 (its initial weights, before any training); the dashed lines are "
        "the published curve of the paper's 2 x 17 model. Beside it, the scale-free mirror index of the same "
        "checkpoints (docs/analysis.md), with its epoch-0 value as a dotted line: raw CMNI grows and shrinks "
        "with the size of activations, which training changes, and the scale-free index does not.",
    )
    case = inp.case
    ref = inp.reference
    if case is None or not len(case.history.get("epoch", ())):
        s.notes.append("No model history to show.")
        return s
    h = case.history
    scale_free = np.asarray(h.get("cmni_effect_size", np.full(len(h["epoch"]), np.nan)), dtype=float)
    panels = 2 if np.isfinite(scale_free).any() else 1
    fig, axes = plt.subplots(1, panels, figsize=(8 if panels == 1 else 12, 3.6), squeeze=False)
    rows = epoch_rows(inp, case.row["model_id"])
    plots.plot_cmni_over_training(
        h["epoch"],
        h["cmni"],
        h["val_loss"],
        reference=ref,
        ax=axes[0, 0],
        label=case.row["model_id"],
        xlabel=epoch_axis(rows),
    )
    if panels == 2:
        finite = np.isfinite(scale_free)
        plots.plot_index_over_training(
            np.asarray(h["epoch"])[finite],
            scale_free[finite],
            ax=axes[0, 1],
            label=case.row["model_id"],
            xlabel=epoch_axis(rows),
        )
        axes[0, 1].set_xlim(axes[0, 0].get_xlim())  # the same epochs under both panels
    fig.tight_layout()
    pe, pv, le, lv = peak_summary(h["epoch"], h["cmni"])
    rpe, rpv, rle, rlv = peak_summary(ref["epoch"], ref["cmni"])
    share = f"{lv / pv:.2f} of the peak" if pv else "the peak is 0"
    reading = (
        f"This run's CMNI peaks at epoch {pe} ({pv:.4f}) and is {lv:.4f} at its last checkpoint (epoch {le}, "
        f"{share}); the published curve peaks at epoch {rpe} ({rpv:.4f}) "
        f"and falls to {rlv:.4f} ({rlv / rpv:.2f} of the peak) by epoch {rle}. " + initial_reading(h, scale_free)
    )
    reading += (
        " What to conclude: compare the shapes, not the epochs or values: "
        + (
            f"an epoch here is {rows:,} training rows against the paper's about {PAPER_EPOCH_ROWS / 1e6:.1f} million, "
            if rows
            else "an epoch here is fewer training rows than the paper's, "
        )
        + "and raw CMNI follows the size of activations; whether mirror structure grew is the scale-free "
        "index against its own epoch 0 (section 4 tests it over seeds)."
    )
    s.figures.append(figure(fig, "CMNI and validation loss against epoch", reading))
    comp = np.asarray(h.get("competent", np.full(len(h["epoch"]), np.nan)), dtype=float) == 1.0
    s.notes.append(
        f"{int(comp.sum())} of {len(comp)} checkpoints of this model are competent"
        + (f" (from epoch {int(np.asarray(h['epoch'])[comp][0])})" if comp.any() else "")
        + "; the peak-and-decline claim of section 10 is judged on the competent ones only."
    )
    return s


# -- 8. circuits --------------------------------------------------------------------


def section_circuits(inp: ReportInputs) -> Section:
    s = Section(
        "circuits",
        "8. Circuits",
        "The case checkpoint's units as boxes coloured by class; an edge is a "
        "positive weight more than one standard deviation above its kernel's mean (z > 1), its width the "
        "weight's size. The 100 inputs are left out.",
    )
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
    reading = (
        f"{sum(isinstance(e, plt.Line2D) for e in edges)} strong positive weights are drawn; the strongest "
        f"output weight (z = {z[j, i]:.2f}) runs from unit {i} of {case.layer_names[-2]} "
        f"({plots.class_name(last_hidden[i])}) to '{actions[j]}'."
    )
    s.figures.append(figure(fig, "Network diagram of the case checkpoint", reading))
    s.notes.append(f"The case checkpoint is {case_status(case)}.")
    for t in case.weight_tables:
        s.tables.append(
            Table(
                t["caption"] + f" ({MISSING}: an output unit drives no further layer)"
                if "drive z" in t["columns"]
                else t["caption"],
                list(t["columns"]),
                [[cell(v) for v in r] for r in t["rows"]],
            )
        )
    if case.ablation:
        a = case.ablation
        fig, ax = plt.subplots(figsize=(7, 3))
        plots.plot_grouped_bars(a["values"], a["groups"], ax=ax, errors=a.get("errors"), ylabel=a.get("ylabel", ""))
        s.figures.append(figure(fig, "Ablation", ablation_reading(a)))
        if "table" in a:
            s.tables.append(
                Table(
                    f"Ablation results ({MISSING}: no test state of that scenario, or no random draw)",
                    list(a["table"]["columns"]),
                    [[cell(v) for v in r] for r in a["table"]["rows"]],
                )
            )
    else:
        s.notes.append(
            "No hidden unit of the case checkpoint is classified mirror, anti-mirror, differentiating or "
            "mixed, so there is no class to ablate."
        )
    return s


def ablation_reading(a: dict) -> str:
    """One clause per ablated class (never an average over classes): the share of test states whose action
    changes with the class silenced (the first series) and with as many random units (the second), with the
    p-value of the table when present."""
    groups = list(a["groups"])
    names = list(a["values"])
    first = list(a["values"][names[0]])
    second = list(a["values"][names[1]]) if len(names) > 1 else [float("nan")] * len(groups)
    p_col = list(a["table"]["columns"]).index("p") if "table" in a and "p" in a["table"]["columns"] else None
    parts = []
    for k, (group, mine, rnd) in enumerate(zip(groups, first, second)):
        p = None
        if p_col is not None and k < len(a["table"]["rows"]):
            try:
                p = float(a["table"]["rows"][k][p_col])
            except (TypeError, ValueError):
                p = None
        verdict = (
            ""
            if p is None or not np.isfinite(p)
            else (
                f", more than random units (p = {fmt(p, 3)})"
                if p < ALPHA
                else f", no more than random units (p = {fmt(p, 3)})"
            )
        )
        values = ", ".join(
            f"{name} {pct(v) if v is not None and np.isfinite(v) else MISSING + ' (not measured)'}"
            for name, v in zip(names, (mine, rnd))
        )
        parts.append(f"{group}: {values}{verdict}")
    return (
        f"{a.get('ylabel', 'share of test states whose action changes').capitalize()}, per class: "
        + "; ".join(parts)
        + ". What to conclude: a class the network acts on changes more actions than as many random units; "
        "one that changes no more is not what its actions depend on."
    )


# -- 9. behaviour -----------------------------------------------------------------


def section_behaviour(inp: ReportInputs) -> Section:
    s = Section(
        "behaviour",
        "9. Behaviour",
        "The case model plays Frog in the game against a random Toad, for many "
        "seeded games, beside the labeling rule's policy and the published random policy.",
    )
    b = inp.behaviour
    if not b:
        s.notes.append("No behaviour results were available for this run.")
        return s
    if "checkpoint" in b:
        s.intro += f" The network is {b['checkpoint']}, " + (
            "a competent checkpoint."
            if b.get("competent")
            else "not competent (no checkpoint is): its rates describe a network that did not learn the game."
        )
    fig, ax = plt.subplots(figsize=(7, 3))
    plots.plot_grouped_bars(b["values"], b["metrics"], ax=ax, errors=b.get("errors"), ylabel="rate")
    policies = list(b["values"])
    parts = []
    for m, metric in enumerate(b["metrics"]):
        parts.append(f"{metric}: " + ", ".join(f"{p} {rate_or_reason(b['values'][p][m])}" for p in policies))
    s.figures.append(
        figure(
            fig,
            "Help and survival rates",
            "Over " + f"{b.get('games', '?')} games: " + "; ".join(parts) + "." + help_conclusion(b),
        )
    )
    s.tables.append(
        Table(
            f"Behaviour by policy ({MISSING}: the policy never met that situation in these games)",
            ["policy", *b["metrics"]],
            [
                [p, *(MISSING if v is None or not np.isfinite(float(v)) else fmt(v, 3) for v in b["values"][p])]
                for p in policies
            ],
        )
    )
    return s


def help_conclusion(b: dict) -> str:
    """What to conclude from the network's help rate when only Toad is in distress, beside the labeling rule's."""
    metric = "help when only Toad is in distress"
    policies = list(b["values"])
    if metric not in b["metrics"] or "rule" not in policies or policies[0] == "rule":
        return ""
    k = b["metrics"].index(metric)
    net, rule = b["values"][policies[0]][k], b["values"]["rule"][k]
    if net is None or rule is None or not (np.isfinite(net) and np.isfinite(rule)):
        return ""
    if net > rule:
        how = "more often than the rule that labeled its data (which helps only near the right edge), so it does not just copy it"
    elif net < rule:
        how = "less often than the rule that labeled its data"
    else:
        how = "as often as the rule that labeled its data"
    return (
        f" What to conclude: when only Toad is in distress, the network helps {how}; this says what it does, not why."
    )


def rate_or_reason(v: float) -> str:
    """A behaviour rate with three decimals, or why there is none (the policy never met the situation)."""
    return f"{v:.3f}" if v is not None and np.isfinite(v) else "n/a (never in that situation)"


# -- 10. reproduction summary --------------------------------------------------------


def competent_view(inp: ReportInputs) -> ReportInputs:
    """The inputs restricted to competent checkpoints: the table's rows, the case and its history, the circuit."""
    keep = inp.competent()
    checkpoints = {k: np.asarray(v)[keep] for k, v in inp.checkpoints.items()}
    case = inp.case if inp.case is not None and inp.case.row.get("competent") == 1.0 else None
    if case is not None:
        sel = (
            np.asarray(case.history.get("competent", np.zeros(len(case.history.get("epoch", ())))), dtype=float) == 1.0
        )
        case = dataclasses.replace(case, history={k: np.asarray(v)[sel] for k, v in case.history.items()})
    circuit = inp.circuit if inp.circuit and inp.circuit.get("competent") else None
    return dataclasses.replace(inp, checkpoints=checkpoints, case=case, circuit=circuit)


@dataclass
class Claim:
    """One row of the reproduction summary."""

    claim: str
    paper: str
    this_run: str
    verdict: str
    reason: str
    decided_by: str
    """The control (or rule) that decided the verdict."""

    def row(self) -> list[str]:
        return [self.claim, self.paper, self.this_run, self.verdict, self.reason, self.decided_by]


CLAIM_COLUMNS = ["claim", "paper", "this run", "verdict", "reason", "decided by"]
COMPETENCE_DECIDES = "the competence rule (section 3)"


def verdicts(inp: ReportInputs) -> list[list[str]]:
    """Rows (``CLAIM_COLUMNS``): claim, paper's figure, this run's figure, verdict, reason, decided by.

    The mirror claims are judged on competent checkpoints only (``competent_view``); with none, they read
    "not established". The accuracy claim is about the case network, competent or not.
    """
    view = competent_view(inp)
    claims = [make(view, inp) for make in MIRROR_CLAIMS]
    if not inp.competent().any():
        why = (
            "no checkpoint passed the competence rule (section 3): these networks did not learn the game, so their "
            "units say nothing about it"
            if inp.competence_measured
            else "this analysis did not measure competence; rerun `mirror-neurons analyze`"
        )
        claims = [
            Claim(c.claim, c.paper, "no competent checkpoint", "not established", why, COMPETENCE_DECIDES)
            for c in claims
        ]
    return [c.row() for c in (*claims, claim_accuracy(inp, inp))]


def claim_rows(inp: ReportInputs) -> list[list[str]]:
    """``verdicts``' rows on whatever checkpoints ``inp`` holds (no competence filter); the accuracy claim last."""
    return [make(inp, inp).row() for make in CLAIMS]


def case_paper_loss(inp: ReportInputs) -> bool:
    loss = inp.case.row.get("hyperparameters.loss") if inp.case is not None else None
    return not isinstance(loss, str) or loss == PAPER_LOSS


def case_at_level(inp: ReportInputs) -> np.ndarray:
    """The case model's checkpoints at about the paper's loss level (``PAPER_LEVEL_RULE``, threshold + 0.005)."""
    h = inp.case.history
    if case_paper_loss(inp):
        return np.asarray(h["val_loss"], dtype=float) <= inp.threshold + 0.005
    return np.asarray(h.get("competent", np.zeros(len(h["val_loss"]))), dtype=float) == 1.0


# Each claim is a function (view, full) -> Claim: ``view`` holds the checkpoints the claim is judged on
# (the competent ones, ``competent_view``), ``full`` the whole run (epoch-0 checkpoints, the paired tests).

ANSWER_VERDICTS = {"yes": "reproduced", "no": "not reproduced", "not about the partner": "not reproduced"}
"""``analysis.paired.answer`` verdicts as reproduction verdicts; any other answer is "not established"."""


def claim_question(view: ReportInputs, full: ReportInputs) -> Claim:
    """The question itself, from ``analysis/paired.json``'s answer."""
    claim = "Training makes mirror units: the primary index rises above each network's own initialisation, across seeds"
    paper = "implied (the paper measures trained checkpoints only)"
    a = full.answer
    if not a:
        return Claim(
            claim,
            paper,
            "no paired test",
            "not established",
            "the report was given no answer",
            "none: no paired test in this analysis",
        )
    this_run = a["evidence"][0] if a.get("evidence") else "no paired test"
    return Claim(
        claim,
        paper,
        this_run,
        ANSWER_VERDICTS.get(a.get("verdict"), "not established"),
        a["headline"],
        a.get("decided_by") or "none",
    )


def claim_table1(view: ReportInputs, full: ReportInputs) -> Claim:
    c, n = view.checkpoints, view.n_checkpoints
    claim = f"Checkpoints with val loss < {view.threshold:g} and CMNI > {CMNI_ROBUST} exist (Table 1)"
    paper = "CMNI 0.01228 at val loss 0.0573 (2 x 11, lr 5e-5, epoch 1)"
    decided = "the paper's thresholds only (no chance control; see the question's row)"
    under = (view.at_paper_level() & ~view.initial()) if n else np.zeros(0, dtype=bool)
    if not under.any():
        return Claim(
            claim,
            paper,
            "no checkpoint at the paper's loss level" if n else "no checkpoints",
            "not testable at this scale",
            "no checkpoint of the paper's loss reaches its threshold, and none trained with another loss is competent",
            decided,
        )
    best = float(np.asarray(c["cmni"], dtype=float)[under].max())
    ok = best > CMNI_ROBUST
    other = int((under & ~view.paper_loss()).sum())
    return Claim(
        claim,
        paper,
        f"max CMNI {best:.5f} among {int(under.sum())} checkpoints at the paper's loss level"
        + (f" ({other} of them trained with another loss and competent instead)" if other else ""),
        "reproduced" if ok else "not reproduced",
        f"highest CMNI is {'above' if ok else 'below'} {CMNI_ROBUST}",
        decided,
    )


def claim_beats_chance(view: ReportInputs, full: ReportInputs) -> Claim:
    """Ours, never the paper's: so "established" or "not established", never "not reproduced"."""
    claim = "Positive CMNI beats chance (ours: not tested in the paper)"
    decided = "per checkpoint, the random-initialisation and permuted-label nulls (the larger p)"
    c, n = view.checkpoints, view.n_checkpoints
    if not n:
        return Claim(claim, "not measured", "no checkpoints", "not established", "no analysed checkpoints", decided)
    p = np.asarray(c["p_chance"], dtype=float)
    if not np.isfinite(p).any():
        return Claim(
            claim,
            "not measured",
            "the analysis ran without chance controls",
            "not established",
            "no checkpoint has a p-value against chance; run `mirror-neurons analyze` with its controls",
            "none: no chance control",
        )
    sig = p < ALPHA
    share = float(sig.mean())
    perm, init = (np.asarray(c[k], dtype=float) < ALPHA for k in ("p_permutation", "p_random_init"))
    holds = share > 0.5
    return Claim(
        claim,
        "not measured",
        f"{int(sig.sum())} of {n} checkpoints ({pct(share)}) beat both nulls at p < {ALPHA} "
        f"(permuted labels: {int(perm.sum())}, random init: {int(init.sum())})",
        "established" if holds else "not established",
        "most checkpoints' CMNI exceeds both nulls"
        if holds
        else "most checkpoints' CMNI does not exceed both nulls"
        + ("; untrained networks of the same shape have larger raw CMNI" if init.mean() < 0.5 <= perm.mean() else ""),
        decided,
    )


def claim_table2(view: ReportInputs, full: ReportInputs) -> Claim:
    """At model level, from ``paired.json``'s ``depth`` (``analysis.paired.depth_comparison``): one value per model,
    its last competent checkpoint, never checkpoints as if independent."""
    claim = "Three-layer models around val loss 0.08 have CMNI 0.0003-0.0005 (Table 2)"
    paper = "CMNI 0.0003-0.0005"
    decided = "a model-level one-sided Mann-Whitney test (one value per model: its last competent checkpoint)"
    d = (full.paired or {}).get("depth")
    if not d:
        return Claim(
            claim,
            paper,
            "no model-level comparison in this analysis",
            "not established",
            "the analysis predates the model-level Table 2 test; run `mirror-neurons analyze` again",
            "none",
        )
    k, m = int(d["n_deep"]), int(d["n_shallow"])
    if not k or not m:
        what = "no competent three-layer model" if not k else "only three-layer models"
        return Claim(
            claim,
            paper,
            f"{what} in this sweep",
            "not testable at this scale",
            "the sweep has no competent three-layer model" if not k else "nothing shallower to compare with",
            decided,
        )
    counts = f"{k} three-layer and {m} shallower model{'s' if m != 1 else ''} (one value each: its last competent checkpoint)"
    med, shallow, floor = float(d["median_deep"]), float(d["median_shallow"]), float(d["p_floor"])
    if d.get("p_value") is None:
        return Claim(
            claim,
            paper,
            f"median CMNI {fmt(med, 5)} vs {fmt(shallow, 5)}; {counts}",
            "not testable at this scale",
            f"too few models for a model-level test: {k} and {m} models allow no p below {floor:.3g} (floor), "
            f"not below {ALPHA}",
            decided,
        )
    p = float(d["p_value"])
    ok = med < CMNI_ROBUST and p < ALPHA
    return Claim(
        claim,
        paper,
        f"median CMNI {fmt(med, 5)} (three layers) vs {fmt(shallow, 5)} (fewer layers); {counts}",
        "reproduced" if ok else "not reproduced",
        f"three-layer models {'have' if ok else 'do not have significantly'} lower CMNI (one-sided Mann-Whitney "
        f"over {k + m} models, p = {p:.3g}, floor {floor:.3g})",
        decided + f", floor {floor:.3g}",
    )


def claim_figure2(view: ReportInputs, full: ReportInputs) -> Claim:
    claim = "CMNI peaks early and declines while val loss keeps improving (Figure 2)"
    decided = "the shape of the case model's own raw CMNI curve from the paper's loss level (no chance control)"
    ref = view.reference
    rpe, rpv, rle, rlv = peak_summary(ref["epoch"], ref["cmni"])
    paper = f"peak {rpv:.4f} at epoch {rpe}, {rlv:.4f} at epoch {rle}"
    case = view.case
    if case is None or len(case.history.get("epoch", ())) < 4:
        return Claim(
            claim,
            paper,
            "fewer than 4 checkpoints of the case model",
            "not testable at this scale",
            "too few checkpoints to see a peak and a decline",
            decided,
        )
    h = case.history
    if not np.any(case_at_level(view)):
        return Claim(
            claim,
            paper,
            f"best val loss {float(np.min(h['val_loss'])):.4f}",
            "not testable at this scale",
            f"the case model's loss never reaches about {view.threshold:g}, where the paper's peak comes"
            if case_paper_loss(view)
            else "the case model is never competent",
            decided,
        )
    if float(np.max(h["cmni"])) <= CMNI_NONE:
        return Claim(
            claim,
            paper,
            f"CMNI at most {float(np.max(h['cmni'])):.5f} over {len(h['epoch'])} checkpoints",
            "not testable at this scale",
            f"the case model's CMNI never exceeds {CMNI_NONE}, so there is no peak to follow",
            decided,
        )
    # From the first checkpoint at about the paper's loss level (threshold + 0.005; the first competent
    # one for another loss) on: the paper's peak comes as the loss reaches ~0.06; "early" = in the
    # first third of the later checkpoints.
    start = int(np.argmax(case_at_level(view)))
    later_epochs, later_cmni = np.asarray(h["epoch"])[start:], np.asarray(h["cmni"], dtype=float)[start:]
    pe, pv, le, lv = peak_summary(later_epochs, later_cmni)
    early = int(np.argmax(later_cmni)) <= (len(later_cmni) - 1) / 3 and pe < le
    decline = lv < 0.8 * pv
    c = view.checkpoints
    at_peak = (np.asarray(c["model_id"]) == case.row["model_id"]) & (np.asarray(c["epoch"]) == pe)
    p_peak = float(np.asarray(c["p_chance"], dtype=float)[at_peak][0]) if at_peak.any() else float("nan")
    why = (
        "raw CMNI peaks early and then falls by more than 20 %"
        if early and decline
        else "the peak comes late (not in the first third of the checkpoints)"
        if not early
        else "no decline of more than 20 % after the peak"
    )
    why += f"; the peak's p vs chance is {fmt(p_peak, 3)}" + scale_free_since_init(full)
    level = f"val loss <= {view.threshold + 0.005:.3f}" if case_paper_loss(view) else "the first competent checkpoint"
    return Claim(
        claim,
        paper,
        f"from epoch {int(later_epochs[0])} ({level}): peak {pv:.4f} at epoch {pe}, {lv:.4f} at epoch {le}",
        "reproduced" if early and decline else "not reproduced",
        why,
        decided,
    )


def scale_free_since_init(full: ReportInputs) -> str:
    """'; the scale-free index ...' of the case model at epoch 0 and at its last checkpoint, or '' without epoch 0."""
    h = full.case.history if full.case is not None else {}
    epochs = np.asarray(h.get("epoch", ()))
    index = np.asarray(h.get("cmni_effect_size", np.full(len(epochs), np.nan)), dtype=float)
    if not len(epochs) or epochs[0] != 0 or not np.isfinite(index[[0, -1]]).all():
        return ""
    return f"; the scale-free index goes from {fmt(index[0])} at epoch 0 to {fmt(index[-1])} at the last checkpoint"


def case_init_row(full: ReportInputs) -> dict | None:
    """The case model's epoch-0 checkpoint (its row of the checkpoint table), or None when it has none."""
    c = full.checkpoints
    at = np.flatnonzero((np.asarray(c["model_id"]).astype(str) == str(full.case.row["model_id"])) & full.initial())
    return {k: np.asarray(v)[at[0]] for k, v in c.items()} if len(at) else None


def paired_test_of(full: ReportInputs, model: str, measure: str) -> dict | None:
    """The paired test of ``measure`` in the configuration ``model`` belongs to (``analysis/paired.json``)."""
    models = full.paired_models
    if full.paired is None or not len(models.get("model_id", ())):
        return None
    at = np.flatnonzero(np.asarray(models["model_id"]).astype(str) == model)
    if not len(at):
        return None
    config = str(np.asarray(models["configuration"])[at[0]])
    return next(
        (t for t in full.paired.get("configurations", []) if t["configuration"] == config and t["measure"] == measure),
        None,
    )


def claim_case(view: ReportInputs, full: ReportInputs) -> Claim:
    """The case's mirror units against its own epoch-0 checkpoint and the paired test of the mirror-unit count."""
    claim = "About 4 of 17 first-layer units are mirror units, 2 differentiating (case example)"
    paper = "4 mirror, 2 differentiating of 17"
    case = view.case
    if case is None:
        return Claim(claim, paper, "no case checkpoint", "not testable at this scale", "no case", "none")
    counts = class_counts(case.classes[0])
    mir, diff, width = counts.get("mirror", 0), counts.get("differentiating", 0), len(case.classes[0])
    this_run = f"{mir} mirror, {diff} differentiating of {width}"
    if not mir:
        return Claim(
            claim,
            paper,
            this_run,
            "not reproduced",
            "no unit passes the mirror rule",
            "the mirror-unit rule (section 5)",
        )
    init = case_init_row(full)
    if init is None:
        return Claim(
            claim,
            paper,
            this_run + "; no epoch-0 checkpoint",
            "not established",
            "the case model has no epoch-0 checkpoint, so its mirror units cannot be told from those its initial "
            "weights already had; rerun with this version",
            "none: no epoch-0 checkpoint",
        )
    counted = np.array([case.row.get("n_mirror", np.nan), init.get("n_mirror", np.nan)], dtype=float)
    if not np.isfinite(counted).all():
        return Claim(
            claim,
            paper,
            this_run,
            "not established",
            "the analysis did not count mirror units at the case checkpoint or at its epoch-0 checkpoint",
            "none: no unit classes",
        )
    trained_all, init_all = int(counted[0]), int(counted[1])
    this_run += f"; mirror units in the whole network: {trained_all} trained, {init_all} at its own epoch 0"
    test = paired_test_of(full, str(case.row["model_id"]), "n_mirror")
    decided = "the case model's epoch-0 checkpoint"
    if init_all >= trained_all:
        return Claim(
            claim,
            paper,
            this_run,
            "not reproduced",
            f"its own initial weights already had {init_all} mirror "
            f"unit{'s' if init_all != 1 else ''}, as many or more than trained",
            decided,
        )
    decided += " and the paired test of the mirror-unit count"
    if test is None or test.get("p_value") is None:
        n = test["n_models"] if test else 0
        return Claim(
            claim,
            paper,
            this_run,
            "not established",
            "more than at its initialisation in this one model, but "
            f"its configuration has no paired test over seeds ({n} models with epoch-0 checkpoints)",
            decided,
        )
    stat = (
        f"{test['n_models']} seeds: mean {fmt(test['mean_init'], 2)} at epoch 0 -> {fmt(test['mean_trained'], 2)} "
        f"trained, one-sided p = {fmt(test['p_value'], 4)}, floor {fmt(test['p_floor'], 4)}"
    )
    if test["p_floor"] >= ALPHA:
        return Claim(
            claim, paper, this_run, "not established", f"the paired test cannot reach significance ({stat})", decided
        )
    ok = test["p_value"] < ALPHA
    return Claim(
        claim,
        paper,
        this_run,
        "reproduced" if ok else "not reproduced",
        (
            "training raised the mirror-unit count over each network's initialisation"
            if ok
            else "across its configuration's seeds, training did not raise the mirror-unit count over initialisation"
        )
        + f" ({stat})",
        decided,
    )


def claim_circuit(view: ReportInputs, full: ReportInputs) -> Claim:
    """Laid out from ``analysis.circuits.self_preservation`` as the analysis wrote it (``case.json``)."""
    claim = "A layer-2 unit fed by mirror units drives leap (self-preservation circuit, z 2.12)"
    decided = "weight z-scores of one checkpoint (no chance control)"
    case = view.case
    sp = None
    if case is not None and len(case.kernels) >= 3:
        sp = case.self_preservation
    elif view.circuit is not None:  # competent only (competent_view)
        sp = view.circuit.get("self_preservation")
    if sp is None:
        return Claim(
            claim,
            "z 2.12 to leap",
            "no competent model with two or more hidden layers" if case else "no case",
            "not testable at this scale",
            "needs a competent model with at least two hidden layers",
            decided,
        )
    if not sp["mirror_units"]:
        return Claim(
            claim,
            "z 2.12 to leap",
            f"{sp['checkpoint']}: no mirror unit in layer 1",
            "not testable at this scale",
            "the circuit needs mirror units",
            decided,
        )
    ok = sp["output"] == "leap"
    reaches = (
        f"strongest output {sp['output']} (z {sp['output_z']:.2f})"
        if sp["output"] is not None
        else "no output: its strongest outgoing weights lead nowhere"
    )
    return Claim(
        claim,
        "mirror inputs z ~1.5, to leap z 2.12",
        f"{sp['checkpoint']}, layer-2 unit {sp['hub']}: mirror inputs z {sp['mirror_z']:.2f}, {reaches}",
        "reproduced" if ok else "not reproduced",
        "its strongest output is leap" if ok else "its strongest output is not leap",
        decided,
    )


def claim_accuracy(view: ReportInputs, full: ReportInputs) -> Claim:
    """About the case network, competent or not."""
    claim = "Case example reaches test accuracy 0.9210"
    decided = "the case checkpoint's test accuracy against 0.90"
    case = full.case
    if case is None or case.row.get("test_accuracy") is None:
        return Claim(claim, "0.9210 (epoch 70)", "n/a", "not testable at this scale", "no case accuracy", decided)
    acc = float(case.row["test_accuracy"])
    ok = acc >= 0.90
    paper_scale = full.preset == "paper"
    return Claim(
        claim,
        "0.9210 (epoch 70)",
        f"{acc:.4f} (epoch {int(case.row['epoch'])})",
        "reproduced" if ok else "not reproduced" if paper_scale else "not testable at this scale",
        "within 0.02 or better"
        if ok
        else "accuracy below 0.90"
        if paper_scale
        else "the demo trains for far fewer samples than the paper",
        decided,
    )


MIRROR_CLAIMS = (
    claim_question,
    claim_table1,
    claim_beats_chance,
    claim_table2,
    claim_figure2,
    claim_case,
    claim_circuit,
)
"""The claims judged on competent checkpoints only, in the table's order."""
CLAIMS = (*MIRROR_CLAIMS, claim_accuracy)


def section_summary(inp: ReportInputs) -> Section:
    n = int(inp.competent().sum())
    s = Section(
        "summary",
        "10. Reproduction summary",
        "The question (did training make mirror units, section 4), then "
        "the paper's claims (its case example, Tables 1 and 2, Figure 2 and circuits) and one of ours against this run,"
        f" judged on the {n} competent checkpoint{'s' if n != 1 else ''} only "
        "(section 3). A verdict of 'not testable at this scale' or 'not established' says why.",
    )
    rows = verdicts(inp)
    s.tables.append(
        Table(
            "Claims, each with the control (or rule) that decided its verdict. 'Not established' is also the "
            "verdict of a claim of ours that does not hold: the paper never made it",
            CLAIM_COLUMNS,
            rows,
        )
    )
    return s


SECTIONS = (
    section_game,
    section_training,
    section_competence,
    section_paired,
    section_case,
    section_chance,
    section_training_time,
    section_circuits,
    section_behaviour,
    section_summary,
)


def build_sections(inp: ReportInputs) -> list[Section]:
    return [make(inp) for make in SECTIONS]


# --- planted units: what the instrument can see (experiment planted; analysis.planted) --------------------------

PLANTED_DETECT_RATE = 0.8
"""A measure "sees" planted mirror units of an effect size when it calls at least this share of them."""


def _planted_label(kind: str, effect: float) -> str:
    return f"{kind.replace('_', '-')} {'SD' if kind in ('energy', 'position') else 'd'} {effect:+g}"


def planted_curves(summary: dict) -> dict[str, tuple[list, list, list, list]]:
    """Per mirror-calling measure, (effects, rate, lo, hi) over the planted mirror units, from summary.json."""
    rows = [r for r in summary["detection"] if r["kind"] == "mirror"]
    measures = [
        m for m in dict.fromkeys(r["measure"] for r in rows) if m.endswith("=mirror") or "q_mirror" in m or m == "mns>0"
    ]
    return {
        m: tuple([r[k] for r in rows if r["measure"] == m] for k in ("effect", "rate", "lo", "hi")) for m in measures
    }


def planted_negatives(summary: dict, measure: str) -> list[tuple[str, float, float, float]]:
    """(label, rate, lo, hi) of ``measure`` on every negative control: pure-noise plants and decoys."""
    return [
        (_planted_label(r["kind"], r["effect"]), r["rate"], r["lo"], r["hi"])
        for r in summary["detection"]
        if r["measure"] == measure and (r["kind"] not in ("mirror", "dense_mirror") or r["effect"] == 0)
    ]


def planted_readings(summary: dict) -> dict[str, str]:
    """One sentence per figure, computed from the summary."""
    alpha = summary["alpha"]
    curves = planted_curves(summary)
    sees = []
    for m, (effects, rate, _lo, _hi) in curves.items():
        found = [e for e, r in zip(effects, rate) if e > 0 and r >= PLANTED_DETECT_RATE]
        null = dict(zip(effects, rate)).get(0.0)
        sees.append(
            f"{m} calls {pct(null) if null is not None else 'n/a'} of pure-noise units and sees "
            f"{'d >= ' + f'{min(found):g}' if found else 'no planted effect'} ({PLANTED_DETECT_RATE * 100:.0f} % of plants)"
        )
    decoys = [
        r
        for r in summary["detection"]
        if r["measure"] == "class=mirror" and (r["kind"] not in ("mirror", "dense_mirror") or r["effect"] == 0)
    ]
    worst = max(decoys, key=lambda r: r["rate"]) if decoys else None
    over = [r for r in decoys if r["lo"] > alpha]
    diffs = [
        r
        for r in summary["detection"]
        if r["measure"] == "class=differentiating" and r["kind"] in ("energy", "position")
    ]
    worst_diff = max(diffs, key=lambda r: r["rate"]) if diffs else None
    fp = (
        "No decoy was classified."
        if worst is None
        else (
            f"The mirror class calls at most {pct(worst['rate'])} of a negative control ({_planted_label(worst['kind'], worst['effect'])}); "
            + (
                f"{len(over)} control{'s' if len(over) != 1 else ''} above alpha {alpha:g} even at the interval's lower end"
                if over
                else f"none is above alpha {alpha:g} beyond its interval"
            )
        )
    )
    single = [
        r["rate"]
        for r in summary["detection"]
        if r["measure"] == "class=differentiating" and r["kind"] in ("frog_only", "toad_only")
    ]
    if single:
        fp += f". One-player decoys are called differentiating (rightly) in {pct(min(single))} to {pct(max(single))} of plants"
    if worst_diff is not None:
        fp += (
            f"; energy and position decoys, which know nothing of distress, are called differentiating (wrongly) in up to "
            f"{pct(worst_diff['rate'])} ({_planted_label(worst_diff['kind'], worst_diff['effect'])})"
        )
    fp += "."
    return {"detection": "; ".join(sees) + ".", "negatives": fp}


def section_planted(summary: dict, number: int = 10) -> Section:
    """What the measures can see: detection of planted mirror units and calls on decoys (``experiment planted``)."""
    alpha = summary["alpha"]
    models = summary.get("models", [])
    s = Section(
        "planted",
        f"{number}. What the instrument can see: planted units",
        f"Units of known response were appended to the competent networks ({len(models)} model{'s' if len(models) != 1 else ''}, "
        f"{summary['n_plants']:,} plants, one per analysis; outputs unchanged) and the whole analysis was run on each. Positive "
        "controls: mirror units whose response to either player's distress has Cohen's d from 0 (pure noise) to 2. Negative "
        "controls (decoys): units that respond to one player's distress only, or track Frog's energy or column, which the "
        "scenario groups differ in. Rates are over plants with 95 % Wilson intervals; each model carries the same grid "
        "(docs/analysis.md, 'Planted units').",
    )
    if not summary["detection"]:
        s.notes.append("No planted unit was analysed.")
        return s
    readings = planted_readings(summary)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    plots.plot_detection(planted_curves(summary), ax=ax, alpha=alpha)
    s.figures.append(figure(fig, "Detection of planted mirror units against their effect size", readings["detection"]))
    negatives = planted_negatives(summary, "class=mirror")
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.9 + 0.22 * len(negatives)), sharey=True)
    plots.plot_false_positives(negatives, ax=axes[0], alpha=alpha)
    plots.plot_false_positives(
        planted_negatives(summary, "class=differentiating"),
        ax=axes[1],
        alpha=alpha,
        colour=plots.CLASS_COLOURS["differentiating"],
        xlabel="share called differentiating (right only for one-player decoys)",
    )
    s.figures.append(
        figure(
            fig, "Negative controls: pure-noise units and decoys, as the unit classes call them", readings["negatives"]
        )
    )
    s.tables.extend(planted_tables(summary))
    return s


def planted_tables(summary: dict) -> list[Table]:
    """The detection table (measures by plant), and the checkpoint-level measures of the population grid."""
    cells = list(dict.fromkeys((r["kind"], r["effect"]) for r in summary["detection"]))
    measures = list(dict.fromkeys(r["measure"] for r in summary["detection"]))
    by = {(r["kind"], r["effect"], r["measure"]): r for r in summary["detection"]}
    rows = []
    for kind, effect in cells:
        first = by[(kind, effect, measures[0])]
        row = [
            _planted_label(kind, effect),
            f"{first['n']} ({first['models']} models)",
            f"{fmt(first['d_frog'], 2)} / {fmt(first['d_toad'], 2)}",
        ]
        for m in measures:
            r = by.get((kind, effect, m))
            row.append("n/a" if r is None else f"{pct(r['rate'])} [{pct(r['lo'])}, {pct(r['hi'])}]")
        rows.append(row)
    tables = [
        Table(
            "Share of planted units each measure calls, with 95 % Wilson intervals (realised d: median over plants)",
            ["plant", "plants", "realised d frog / toad", *measures],
            rows,
        )
    ]
    population = summary.get("population") or []
    if population:
        tests = [k for k in population[0] if k.endswith("<alpha")]
        shown = ("cmni", "cmni_effect_size", "n_mirror")
        means = [k for k in (*shown, *(f"delta.{c}" for c in shown)) if k in population[0]]
        prow = [
            [
                f"d {r['effect']:g}",
                fmt(r["count"], 1),
                str(r["n"]),
                *(fmt(r[k]) for k in means),
                *(pct(r[k]) for k in tests),
            ]
            for r in population
        ]
        tables.append(
            Table(
                "Checkpoint-level measures with a quarter of the first hidden layer planted as mirror units: means "
                "over models, delta = paired change from the same model with as many pure-noise units (d 0), and "
                "the share of analyses with p < alpha",
                ["planted mirror units", "units (mean)", "analyses", *means, *tests],
                prow,
            )
        )
    return tables


# --- agents that learn by reward (experiment rl; experiments.rl.load_summary) ------------------------------------

RL_MEASURES = {
    "score_per_turn": "score/turn",
    "survival": "survival",
    "partner_survival": "Toad survival",
    "help_rate_partner_distress": "help, only Toad in distress",
    "jump_rate_energy0": "jump at energy 0",
}
"""The behaviour measures of the RL tables, in order, with their column names (docs/rl.md)."""


def interval_cell(iv: dict | None, digits: int = 3) -> str:
    """'mean [low, high]' of an interval over seeds; the mean alone when there is no interval; ``MISSING`` if neither."""
    if not iv or cell(iv.get("mean")) == MISSING:
        return MISSING
    if cell(iv.get("low")) == MISSING or cell(iv.get("high")) == MISSING:
        return fmt(iv["mean"], digits)
    return f"{fmt(iv['mean'], digits)} [{fmt(iv['low'], digits)}, {fmt(iv['high'], digits)}]"


def _verdict(flag) -> str:
    return MISSING if flag is None else ("supported" if flag else "not supported")


def rl_tables(summary: dict) -> list[Table]:
    """Scripted policies per D, whether helping pays, the agents per cell, their mirror index, the hypotheses."""
    rewards = summary["grid"]["rewards"]
    tables = []
    scripted = summary["scripted"]
    for d, c in scripted["cells"].items():
        rows = [
            [name, *(interval_cell(m.get(f"return_{r}"), 1) for r in rewards), *(interval_cell(m.get(k)) for k in RL_MEASURES)]
            for name, m in c["policies"].items()
        ]  # fmt: skip
        tables.append(
            Table(
                f"Where cooperation pays, D = {d}: each scripted policy as Frog (Toad {scripted['partner']}), "
                f"{scripted['games_per_seed']} games of {scripted['max_turns']} turns per seed; mean [95 % t-interval over seeds]",
                ["Frog policy", *(f"{r} return" for r in rewards), *RL_MEASURES.values()],
                rows,
            )
        )
    pays = [
        [d, r, p["best_helping"], p["best_never_helping"], interval_cell(p["margin_vs_hop"], 1),
         interval_cell(p["margin_vs_best_selfish"], 1), yes_no(p["pays"])]
        for d, c in scripted["cells"].items() for r, p in c["cooperation_pays"].items()
    ]  # fmt: skip
    tables.append(
        Table(
            "Does helping pay? The best helping policy's return minus always-hop's and the best never-helping policy's, "
            "paired by seed; it pays when both intervals lie above 0",
            ["D", "reward", "best helping", "best never-helping", "margin vs hop", "margin vs never-helping", "pays"],
            pays,
        )
    )
    tables.append(
        Table(
            "The PPO agents on the evaluation games: mean [95 % t-interval over seeds] per cell; H0 = the interval's "
            "lower end of score per turn is above random play's",
            ["cell", "agents", "return (own reward)", *RL_MEASURES.values(), "H0"],
            [
                [
                    c["name"],
                    count(c["measures"]["score_per_turn"].get("n")),
                    interval_cell(c["measures"].get(f"return_{c['reward']}"), 1),
                    *(interval_cell(c["measures"].get(k)) for k in RL_MEASURES),
                    _verdict(c["beats_random"]),
                ]
                for c in summary["cells"]
            ],  # fmt: skip
        )
    )
    mirror_rows = [
        [c["name"], cell(p["n_models"]), fmt(p["mean_init"]), fmt(p["mean_trained"]),
         interval_cell({"mean": p["mean_change"], "low": p["ci_low"], "high": p["ci_high"]}, 4),
         f"{fmt(p['p_value'])} ({fmt(p['p_floor'])})", cell(p["verdict"])]
        for c in summary["cells"] if (p := c["paired"])
    ]  # fmt: skip
    if mirror_rows:
        tables.append(
            Table(
                "The scale-free mirror index of each cell's networks at their own initialisation and trained (means "
                "over models), the change's 95 % interval and the one-sided Wilcoxon p (floor: the smallest p the "
                "models allow)",
                ["cell", "models", "at initialisation", "trained", "change [95 % CI]", "p (floor)", "verdict"],
                mirror_rows,
            )
        )
    tables.append(
        Table(
            "The pre-registered hypotheses (docs/rl.md), each test as decided; no correction across D",
            ["hypothesis", "where", "test", "estimate", "p", "n", "verdict"],
            [
                [
                    f"{h['id']}: {h['claim']}",
                    h["scope"],
                    h["test"],
                    ", ".join(f"{k} {fmt(v)}" for k, v in h["estimate"].items()),
                    fmt(h["p_value"]) if h["p_value"] is not None else MISSING,
                    count(h["n"]),
                    _verdict(h["supported"]),
                ]
                for h in summary["hypotheses"]
            ],  # fmt: skip
        )
    )
    return tables


def _span(values: list[float], as_pct: bool = True) -> str:
    values = [v for v in values if v == v]
    if not values:
        return MISSING
    show = pct if as_pct else (lambda v: fmt(v, 3))
    lo, hi = min(values), max(values)
    return show(lo) if lo == hi else f"{show(lo)} to {show(hi)}"


def rl_readings(summary: dict) -> dict[str, str]:
    """One sentence (and what to conclude) per figure, from the summary's numbers."""
    cells = summary["cells"]
    mean = lambda c, k: c["measures"].get(k, {}).get("mean", float("nan"))  # noqa: E731
    helps = {
        r: [mean(c, "help_rate_partner_distress") for c in cells if c["reward"] == r]
        for r in summary["grid"]["rewards"]
    }
    d_ref = next(reversed(summary["baselines"]), "")
    ref = summary["baselines"].get(d_ref, {})
    refs = "; ".join(
        f"{name} {pct(ref[name]['help_rate_partner_distress'])}" for name in ("carer", "rule") if name in ref
    )
    h0 = [c for c in cells if c["beats_random"] is False]
    behaviour = (
        "Help when only Toad is in distress: "
        + "; ".join(f"{r} agents {_span(v)}" for r, v in helps.items())
        + (f" (scripted policies at D = {d_ref}: {refs})" if refs else "")
        + ". Score per turn "
        + _span([mean(c, "score_per_turn") for c in cells], as_pct=False)
        + (
            f"; {len(h0)} cell{'s' if len(h0) != 1 else ''} do not beat random play, so H1-H3 are not read for them"
            if h0
            else ", above random play's in every cell (H0)"
        )
        + ". What to conclude: "
        + help_conclusion_rl(summary, max(helps.get("shared", []), default=float("nan")), ref.get("carer"))
    )
    changes = [c["paired"]["mean_change"] for c in cells if c["paired"]]
    fell = sum(ch < 0 for ch in changes)
    h3 = next((h for h in summary["hypotheses"] if h["id"] == "H3"), None)
    mirror = (
        f"The scale-free mirror index fell below the networks' own initialisation in {fell} of {len(changes)} cells "
        f"(mean change {_span(changes, as_pct=False)})"
        + (
            f"; across {h3['n']} agents, Spearman rho between help and mirror change {fmt(h3['estimate']['rho'], 2)}, "
            f"one-sided p = {fmt(h3['p_value'], 3)}"
            if h3
            else ""
        )
        + ". What to conclude: "
        + mirror_conclusion_rl(summary)
        if changes
        else "No cell has a paired test of the mirror index (the analysis of the agents was not run)."
    )
    return {"behaviour": behaviour, "mirror": mirror}


def _scopes(rows: list[dict]) -> str:
    return " and ".join(h["scope"] for h in rows)


def help_conclusion_rl(summary: dict, most_shared_help: float, carer: dict | None) -> str:
    """What H1's verdicts say, and how far the shared agents' helping is from the helping rule's."""
    h1 = [h for h in summary["hypotheses"] if h["id"] == "H1"]
    yes = [h for h in h1 if h["supported"]]
    no = [h for h in h1 if not h["supported"]]
    if not h1:
        text = "this run has no shared and selfish cells to compare (H1 not tested)"
    elif yes:
        text = f"the shared reward made the agents help more than the selfish one at {_scopes(yes)} (H1)"
        text += f", not at {_scopes(no)}" if no else ""
    else:
        text = f"the shared reward did not make the agents help detectably more at {_scopes(no)} (H1 not supported)"
    if carer and most_shared_help == most_shared_help:
        text += (
            f"; the shared agents help in at most {pct(most_shared_help)} of these turns, the helping rule (carer) in "
            f"{pct(carer['help_rate_partner_distress'])}"
        )
    return text + "."


def mirror_conclusion_rl(summary: dict) -> str:
    """What H2a's and H2b's verdicts say: did any shared cell grow mirror units beyond its own initialisation?"""
    h2a = [h for h in summary["hypotheses"] if h["id"] == "H2a"]
    h2b = {h["scope"]: h["supported"] for h in summary["hypotheses"] if h["id"] == "H2b"}
    rose = [h for h in h2a if h["supported"]]
    if not h2a:
        return "no shared cell has a paired test, so H2 was not tested."
    if not rose:
        return (
            "no shared cell grew mirror units beyond its own initialisation (H2 not supported in any); a fall means "
            "training removed some of what the untrained networks already show."
        )
    both = [h for h in rose if h2b.get(h["scope"].split(", ")[-1])]
    return (
        f"the index rose over its own initialisation in {_scopes(rose)} (H2a)"
        + (f", and more than under the selfish reward in {_scopes(both)} (H2 supported there)." if both else
           ", but not more than under the selfish reward (H2b), so H2 is not supported.")
    )  # fmt: skip


def section_rl(summary: dict, number: int = 11) -> Section:
    """Agents that learn by reward (``experiment rl``): where cooperation pays, what the agents do, mirror units."""
    g = summary["grid"]
    s = Section(
        "rl",
        f"{number}. Agents that learn by reward",
        f"Frog learns by PPO ({g['total_steps']:,} steps per agent, {' x '.join(map(str, g['hidden']))} {g['encoding']} "
        f"MLP) while Toad plays {g['partner']}; cells are reward ({', '.join(g['rewards'])}) x dependency D "
        f"({', '.join(f'{d:g}' for d in g['dependencies'])}), {g['seeds']} seeds each. Every agent and the scripted "
        f"references play the same {g['eval_games']} evaluation games of {g['max_turns']} turns. The hypotheses and "
        "decision rules were registered before the run (docs/rl.md).",
    )
    agents = summary["agents"]
    if not agents:
        s.notes.append("No agent was evaluated.")
        s.tables.extend(rl_tables(summary))
        return s
    readings = rl_readings(summary)
    d_ref = next(reversed(summary["baselines"]), "")  # the scripted references of the last D (D = 1 in the presets)
    ref = summary["baselines"].get(d_ref, {})
    lines = lambda key, names: {f"{n}, D={d_ref}": ref[n][key] for n in names if n in ref}  # noqa: E731
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    rl_plots.plot_by_cell(agents, "help_rate_partner_distress", ax=axes[0], ylabel="help rate, only Toad in distress",
                          references=lines("help_rate_partner_distress", ("carer", "rule")))  # fmt: skip
    rl_plots.plot_by_cell(agents, "score_per_turn", ax=axes[1], ylabel="Frog's score per turn",
                          references=lines("score_per_turn", ("random", "rule")))  # fmt: skip
    for ax in axes:  # the reference lines' legend beside each panel, off the data
        if ax.get_legend() is not None:
            ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    s.figures.append(figure(fig, "What the agents do: help and score per turn per cell", readings["behaviour"]))
    if not any(c["paired"] for c in summary["cells"]):
        s.notes.append(readings["mirror"])
    else:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
        rl_plots.plot_by_cell(agents, "mirror_change", ax=axes[0], ylabel="mirror index change over own init")
        axes[0].axhline(0, color="k", lw=0.8)
        rl_plots.plot_help_vs_mirror(agents, ax=axes[1])
        axes[1].legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        s.figures.append(figure(fig, "Mirror units: change over each network's initialisation", readings["mirror"]))
    s.tables.extend(rl_tables(summary))
    return s
